// Materialized views: populated and size for every view, and for the views the config names
// (target.matview) the last refresh, its duration and outcome, and how stale the data is.
// PostgreSQL records no refresh time, so it is read from the refresh job's own history: a log table
// with (view_name, started_at, finished_at, succeeded) and/or pg_cron's run details whose command
// matches a regex. Each source gives its own series (label source="log_table" | "pg_cron").
// Both lookups read the newest rows through an index (the log's (view_name, started_at), pg_cron's
// runid), so the cost does not grow with the history.
#include <array>

#include "collectors/collector.h"
#include "collectors/migration_common.h"

namespace pge {
namespace {

const std::string kViewsQuery = std::string(R"SQL(
SELECT current_database() AS datname, n.nspname AS schemaname, c.relname,
       c.relispopulated::int AS populated, l.locked,
       CASE WHEN NOT l.locked THEN pg_total_relation_size(c.oid) END AS size_bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (SELECT )SQL") +
                                exclusively_locked("c.oid") + R"SQL( AS locked) l
WHERE c.relkind = 'm'
)SQL";

constexpr std::array<MetricSpec, 2> kViewMetrics{{
    {"pg_matview_populated", kGauge, "populated",
     "1 when the materialized view holds data (pg_class.relispopulated); 0 after CREATE ... WITH "
     "NO DATA until its first refresh."},
    {"pg_matview_size_bytes", kGauge, "size_bytes",
     "Disk space of the materialized view with its indexes: pg_total_relation_size."},
}};

// `{runs}` is a relation of (ord, started_at, finished_at, succeeded) for one view from one source;
// `ord` follows an index so that "newest first" reads a few rows only.
constexpr const char* kRefreshQuery = R"SQL(
SELECT extract(epoch FROM now()) AS now, ok.end_ts, ok.start_ts, last.succeeded, last.duration
FROM (SELECT 1) one
LEFT JOIN LATERAL (
  SELECT extract(epoch FROM finished_at) AS end_ts, extract(epoch FROM started_at) AS start_ts
  FROM ({runs}) r WHERE succeeded AND finished_at IS NOT NULL ORDER BY ord DESC LIMIT 1) ok ON true
LEFT JOIN LATERAL (
  SELECT succeeded::int AS succeeded, extract(epoch FROM finished_at - started_at) AS duration
  FROM ({runs}) r WHERE finished_at IS NOT NULL ORDER BY ord DESC LIMIT 1) last ON true
)SQL";

constexpr const char* kLogRuns =
    "SELECT started_at AS ord, started_at, finished_at, succeeded FROM {table} WHERE view_name IN "
    "($1, $2)";
constexpr const char* kCronRuns =
    "SELECT runid AS ord, start_time AS started_at, end_time AS finished_at, status = 'succeeded' "
    "AS succeeded "
    "FROM {table} WHERE command ~ $3";

constexpr MetricSpec kLastRefresh{
    "pg_matview_last_refresh_timestamp_seconds", kGauge, kComputed,
    "End of the last successful refresh, Unix time. PostgreSQL keeps no refresh time: "
    "source=\"log_table\" reads the configured refresh log, source=\"pg_cron\" the pg_cron run "
    "details whose command matches the configured regex."};
constexpr MetricSpec kRefreshDuration{
    "pg_matview_last_refresh_duration_seconds", kGauge, kComputed,
    "Duration of the last finished refresh (successful or not), from the same source as "
    "pg_matview_last_refresh_timestamp_seconds."};
constexpr MetricSpec kRefreshSuccess{
    "pg_matview_last_refresh_success", kGauge, kComputed,
    "1 when the last finished refresh succeeded, 0 when it failed (same source)."};
constexpr MetricSpec kStaleness{
    "pg_matview_staleness_seconds", kGauge, kComputed,
    "Seconds since the start of the last successful refresh (the data is as of that snapshot); "
    "absent when no successful refresh is recorded."};

class MatviewsCollector final : public Collector {
 public:
  Snapshot collect(Session& session, CollectContext& ctx) override {
    Rows rows = query_selected(session, kViewsQuery, ctx);
    SnapshotBuilder out;
    emit_rows(out, rows, kViewMetrics,
              std::array<const char*, 3>{"datname", "schemaname", "relname"});
    declare(out, {kLastRefresh, kRefreshDuration, kRefreshSuccess, kStaleness});
    const std::string datname = current_database(session);
    const std::string details = string_option(ctx, migration::kCronRunDetailsOption);
    const bool have_cron = exists(session, details);
    for (const auto& m : ctx.target.matviews) {
      const std::vector<Value> params{m.name, m.schema + "." + m.name, m.cron_command};
      const Labels labels{{"datname", datname}, {"schemaname", m.schema}, {"relname", m.name}};
      if (!m.log_table.empty()) {
        emit_refresh(out, session,
                     migration::replace_all(kLogRuns, "{table}",
                                            quote_qualified(m.log_table.schema, m.log_table.name)),
                     params, labels, "log_table");
      }
      if (!m.cron_command.empty() && have_cron) {
        emit_refresh(out, session,
                     migration::replace_all(kCronRuns, "{table}", migration::quote_dotted(details)),
                     params, labels, "pg_cron");
      }
    }
    return out.take();
  }

 private:
  // pg_cron lives in one database of the cluster only; elsewhere its tables simply do not exist.
  static bool exists(Session& session, const std::string& relation) {
    return session.query("SELECT to_regclass($1) IS NOT NULL AS e", {relation}).flag(0, "e");
  }

  static void emit_refresh(SnapshotBuilder& out, Session& session, const std::string& runs,
                           const std::vector<Value>& params, Labels labels, const char* source) {
    // Unused parameters still need a type for the server: cast them all to text in the query.
    const std::string sql = "WITH p AS (SELECT $1::text, $2::text, $3::text) " +
                            migration::replace_all(kRefreshQuery, "{runs}", runs);
    Rows r = session.query(sql, params);
    labels.emplace_back("source", source);
    auto put = [&](const MetricSpec& spec, std::optional<double> v) {
      if (v) emit(out, spec, labels, *v);
    };
    put(kLastRefresh, r.number(0, "end_ts"));
    put(kRefreshDuration, r.number(0, "duration"));
    put(kRefreshSuccess, r.number(0, "succeeded"));
    if (auto start = r.number(0, "start_ts")) put(kStaleness, *r.number(0, "now") - *start);
  }
};

}  // namespace

CollectorCode matviews_code() {
  return {.options = {migration::kCronRunDetailsOption}, .make = make_collector<MatviewsCollector>};
}

}  // namespace pge
