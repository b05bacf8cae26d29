// Statement latency histograms from pg_stat_statements (docs/latency.md). Every interval (default
// 5 s) one statement samples `pg_stat_statements(false)` (no texts: 3x cheaper) with
// pg_stat_statements_info; the estimator in latency/latency_estimator turns each entry's interval
// into expected bucket counts, summed by command and configured query class, never by queryid. Only
// top-level entries of the connected database count, and not the exporter's own statements: those
// are told by the marker comment that opens every statement it sends (core/session.h), not by role,
// since an application may run as the exporter's role. Query texts are read once, in one batch,
// when a key is first seen: later the entry may be evicted and its text gone. An entry whose text
// cannot be read can be told neither way: its calls go to a counter of their own and a warning is
// logged. All counters live in this object (one per target), so they survive resets, evictions and
// reconnects and never decrease.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "collectors/collector.h"
#include "core/log.h"
#include "latency/latency_estimator.h"

namespace pge {
namespace {

using latency::EntryKey;
using latency::EntrySample;
using latency::Histogram;

// The duration's help says which server time it measures (track_planning), hence two specs.
constexpr MetricSpec kDurationPlanExec{"pg_stat_statements_duration_seconds", kHistogram, kComputed,
                                       "Server time of top-level statements (plan+exec), estimated "
                                       "from pg_stat_statements counters by command "
                                       "and query class; excludes parse, network and the commit's "
                                       "WAL flush. _sum and _count are exact, buckets "
                                       "are estimates."};
constexpr MetricSpec kDurationExec{"pg_stat_statements_duration_seconds", kHistogram, kComputed,
                                   "Server time of top-level statements (exec only), estimated "
                                   "from pg_stat_statements counters by command "
                                   "and query class; excludes parse, network and the commit's WAL "
                                   "flush. _sum and _count are exact, buckets "
                                   "are estimates."};
constexpr MetricSpec kCalls{
    "pg_stat_statements_calls_total", kCounter, kComputed,
    "Calls of top-level statements (pg_stat_statements calls), by command and query class."};
constexpr MetricSpec kRows{
    "pg_stat_statements_rows_total", kCounter, kComputed,
    "Rows retrieved or affected by top-level statements, by command and query class."};
constexpr MetricSpec kLost{"pg_stat_statements_lost_calls_total", kCounter, kComputed,
                           "Calls estimated lost with entries evicted, reset or re-created between "
                           "samples (half of the entry's calls in its last sampled interval)."};
constexpr MetricSpec kDealloc{"pg_stat_statements_dealloc_total", kCounter, kComputed,
                              "Times pg_stat_statements deallocated least-used entries "
                              "(pg_stat_statements_info.dealloc), kept increasing across resets."};
constexpr MetricSpec kEntries{"pg_stat_statements_entries", kGauge, kComputed,
                              "Entries currently in pg_stat_statements (all databases), to compare "
                              "with pg_stat_statements.max."};
constexpr MetricSpec kBasis{
    "pg_stat_statements_time_basis_info", kGauge, kComputed,
    "Which server time the duration histogram measures: plan+exec (track_planning on) or exec."};
constexpr MetricSpec kUnattributed{
    "pg_stat_statements_unattributed_calls_total", kCounter, kComputed,
    "Calls of entries whose query text pg_stat_statements could not return (evicted, or its text "
    "file discarded): neither their class nor whether they are the exporter's own can be told, so "
    "they are left out of the histograms."};

const OptionSpec kFullInterval{.name = "full_interval",
                               .help = "seconds between full samples of pg_stat_statements",
                               .default_value = 5.0};
const OptionSpec kBusyEntries{.name = "busy_entries",
                              .help =
                                  "busiest entries (at least 2 calls/s) also sampled every "
                                  "interval between full samples; 0 = full "
                                  "samples only",
                              .default_value = 20.0};
const OptionSpec kResetMinmax{
    .name = "reset_minmax",
    .help =
        "PostgreSQL 17+: after each full sample, reset only pg_stat_statements' min and max "
        "(calls and times untouched), so that each interval has its own and bounds its latency "
        "tail; needs EXECUTE on pg_stat_statements_reset(oid, oid, bigint, boolean)",
    .default_value = false};
constexpr MetricSpec kMinmaxReset{
    "pg_stat_statements_minmax_reset_enabled", kGauge, kComputed,
    "1 when the exporter resets pg_stat_statements' min/max after each full sample "
    "(reset_minmax, PostgreSQL 17+ and EXECUTE on the reset function), so every interval's "
    "min and max bound its latency estimate; 0 otherwise."};

// Who may read what: checked first so that a missing extension or privilege is one clear message.
const std::string kSetupQuery = R"SQL(
SELECT current_database() AS datname,
       (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_stat_statements') AS ext_schema,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats,
       current_setting('pg_stat_statements.track_planning', true) AS track_planning
)SQL";

// When an entry's min/max were last reset: a column from PostgreSQL 17 (pg_stat_statements 1.11).
const VersionedSql kMinmaxSince({{0, "NULL::float8"},
                                 {170000, "extract(epoch FROM s.minmax_stats_since)::float8"}});

// Whether the role may reset min/max only; NULL before PostgreSQL 17 (no such signature).
const std::string kMayResetMinmaxQuery =
    "SELECT has_function_privilege(f, 'EXECUTE') AS may FROM to_regprocedure($1) f";

// One scan: the whole view is counted for `entries`, the LEFT JOIN keeps one row when none match.
// `busy_only` keeps only the queryids in $1 (a sample between full samples).
std::string sample_query(const std::string& schema, int server_version, bool busy_only) {
  return "WITH s AS MATERIALIZED (SELECT * FROM " + quote_ident(schema) +
         ".pg_stat_statements(false)),"
         " c AS (SELECT (SELECT count(*) FROM s) AS entries, i.dealloc, i.stats_reset::text AS "
         "stats_reset"
         " FROM " +
         quote_ident(schema) +
         ".pg_stat_statements_info i)"
         " SELECT c.entries, c.dealloc, c.stats_reset, s.userid, s.dbid, s.toplevel, s.queryid, "
         "s.calls,"
         " s.rows, s.total_exec_time, s.mean_exec_time, s.stddev_exec_time, s.min_exec_time,"
         " s.max_exec_time, s.plans, s.total_plan_time, s.mean_plan_time, s.stddev_plan_time, " +
         kMinmaxSince.for_server(server_version) + " AS minmax_since" +
         " FROM c LEFT JOIN s ON s.dbid = (SELECT oid FROM pg_database WHERE datname = "
         "current_database())"
         " AND s.toplevel AND s.queryid IS NOT NULL" +
         std::string(busy_only ? " AND s.queryid = ANY($1::bigint[])" : "");
}

// showtext = true reads the whole query-text file, so all new keys of a sample go in one call.
std::string texts_query(const std::string& schema) {
  return "SELECT s.userid, s.queryid, s.query FROM " + quote_ident(schema) +
         ".pg_stat_statements(true) s WHERE s.queryid = ANY($1::bigint[])"
         " AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
         " AND s.toplevel";
}

struct Group {
  Histogram hist;
  double calls = 0;
  double rows = 0;
};

// Whose statement an entry is, told from its text.
enum class Origin { app, own, unknown };

struct EntryLabels {
  std::string command;
  std::string klass;
  Origin origin = Origin::app;
};

EntrySample read_sample(const Rows& rows, std::size_t r) {
  auto num = [&](const char* col) { return rows.number(r, col).value_or(0.0); };
  return {num("calls"),
          num("rows"),
          num("total_exec_time"),
          num("mean_exec_time"),
          num("stddev_exec_time"),
          num("min_exec_time"),
          num("max_exec_time"),
          num("plans"),
          num("total_plan_time"),
          num("mean_plan_time"),
          num("stddev_plan_time"),
          num("minmax_since")};
}

EntryKey read_key(const Rows& rows, std::size_t r) {
  return {static_cast<std::uint32_t>(std::stoul(rows.text(r, "userid"))),
          static_cast<std::uint32_t>(std::stoul(rows.text(r, "dbid"))), rows.flag(r, "toplevel"),
          std::stoll(rows.text(r, "queryid"))};
}

class StatementsCollector final : public Collector {
 public:
  bool idle(const CollectContext& ctx) const override { return !full_due(ctx) && busy_.empty(); }

  Snapshot collect(Session& session, CollectContext& ctx) override {
    if (idle(ctx)) return last_;
    const bool full = full_due(ctx);
    if (full) read_setup(session, flag_option(ctx, kResetMinmax));
    if (!estimator_) {
      estimator_.emplace(
          static_cast<int>(std::ceil(3600 / std::max(full_interval(ctx).count(), 0.1))));
    }
    const Rows rows = sample(session, full);
    fetch_new_labels(session, ctx.target, rows);
    book(rows, !full);
    if (full) {
      if (reset_minmax_) session.query(reset_minmax_query(schema_));
      pick_busy(ctx);
      prune_labels();
    }
    last_ = build_snapshot(rows);
    return last_;
  }

 private:
  static std::chrono::duration<double> full_interval(const CollectContext& ctx) {
    return std::chrono::duration<double>(number_option(ctx, kFullInterval));
  }

  // Half an interval of slack: runs due every 5 s at a 1 s interval are not put off by jitter.
  bool full_due(const CollectContext& ctx) const {
    return !last_full_ || ctx.now - *last_full_ + ctx.settings.interval / 2 >= full_interval(ctx);
  }

  // Every entry (full) or only the busy ones.
  Rows sample(Session& session, bool full) const {
    // Shortest-exact floats: S2 = Δ[calls·(sd² + mean²)] cancels badly with rounded inputs.
    session.query("SET LOCAL extra_float_digits = 1");
    std::string error;
    const int version = session.server_version();
    auto rows = full
                    ? session.try_query(sample_query(schema_, version, false), &error)
                    : session.try_query(sample_query(schema_, version, true), &error, {busy_ids()});
    if (!rows) {
      throw std::runtime_error("cannot read pg_stat_statements in database " + datname_ + ": " +
                               error.substr(0, error.find('\n')) +
                               " (it must be in shared_preload_libraries)");
    }
    return std::move(*rows);
  }

  // After a full sample: the entries to read at every run until the next one, by their call rate.
  void pick_busy(const CollectContext& ctx) {
    const double elapsed = last_full_ ? std::chrono::duration<double>(ctx.now - *last_full_).count()
                                      : full_interval(ctx).count();
    const auto max = static_cast<std::size_t>(std::max(number_option(ctx, kBusyEntries), 0.0));
    busy_ = estimator_->busiest(max, latency::kBusyCallsPerSecond * elapsed);
    last_full_ = ctx.now;
  }

  void read_setup(Session& session, bool reset_minmax) {
    const Rows setup = session.query(kSetupQuery);
    datname_ = setup.text(0, "datname");
    check_setup(setup, datname_);
    schema_ = setup.text(0, "ext_schema");
    plan_time_ = setup.text(0, "track_planning") == "on";
    reset_minmax_ = reset_minmax && may_reset_minmax(session);
  }

  static std::string reset_function(const std::string& schema) {
    return quote_ident(schema) + ".pg_stat_statements_reset";
  }

  static std::string reset_minmax_query(const std::string& schema) {
    return "SELECT " + reset_function(schema) + "(0, 0, 0, true)";
  }

  // Said once per change, not at every full sample: the option asks for what this server or role
  // cannot give.
  bool may_reset_minmax(Session& session) {
    const Rows may = session.query(kMayResetMinmaxQuery,
                                   {reset_function(schema_) + "(oid, oid, bigint, boolean)"});
    const bool allowed = may.flag(0, "may");
    if (!allowed && !warned_minmax_) {
      log::warn(
          "reset_minmax is set but pg_stat_statements cannot reset min/max only here (PostgreSQL "
          "17+ and EXECUTE on pg_stat_statements_reset(oid, oid, bigint, boolean) are needed): "
          "min/max stay cumulative",
          {{"collector", "statements"}, {"datname", datname_}});
    }
    warned_minmax_ = !allowed;
    return allowed;
  }

  std::string busy_ids() const {
    std::string ids = "{";
    for (const auto& key : busy_) ids += (ids.size() > 1 ? "," : "") + std::to_string(key.queryid);
    return ids + "}";
  }

  static void check_setup(const Rows& setup, const std::string& datname) {
    if (!setup.at(0, "ext_schema")) {
      throw std::runtime_error("pg_stat_statements is not installed in database " + datname +
                               ": CREATE EXTENSION pg_stat_statements and add it to "
                               "shared_preload_libraries");
    }
    if (!setup.flag(0, "read_all_stats")) {
      throw std::runtime_error(
          "the exporter's role cannot see other roles' statements in database " + datname +
          ": GRANT pg_read_all_stats (or pg_monitor) to it");
    }
  }

  void fetch_new_labels(Session& session, const Target& target, const Rows& rows) {
    std::ostringstream ids;
    bool any = false;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if (!rows.at(r, "queryid") || labels_.count(read_key(rows, r))) continue;
      ids << (any ? "," : "{") << rows.text(r, "queryid");
      any = true;
    }
    if (!any) return;
    ids << "}";
    const Rows texts = session.query(texts_query(schema_), {ids.str()});
    for (std::size_t r = 0; r < texts.size(); ++r) {
      if (!texts.at(r, "query")) continue;  // no text: unattributed, see book()
      const std::string text = texts.text(r, "query");
      const Origin origin = is_marked(text) ? Origin::own : Origin::app;
      std::string klass = "other";
      for (const auto& qc : target.query_classes) {
        if (qc.pattern.matches(text)) {
          klass = qc.name;
          break;
        }
      }
      for (std::size_t s = 0; s < rows.size(); ++s) {
        if (rows.text(s, "queryid") == texts.text(r, "queryid") &&
            rows.text(s, "userid") == texts.text(r, "userid")) {
          labels_[read_key(rows, s)] = {latency::statement_command(text), klass, origin};
        }
      }
    }
    mark_textless(rows);
  }

  // Entries still without labels had no text to read: recorded as unknown so that their text is not
  // asked for again at every sample, and said loudly.
  void mark_textless(const Rows& rows) {
    std::size_t textless = 0;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if (!rows.at(r, "queryid")) continue;
      if (labels_.try_emplace(read_key(rows, r), EntryLabels{"", "", Origin::unknown}).second)
        ++textless;
    }
    if (textless > 0) {
      log::warn(
          "pg_stat_statements entries have no query text: whether they are the exporter's own "
          "cannot "
          "be told, so their calls are counted in the unattributed metric, not in the histograms",
          {{"collector", "statements"},
           {"datname", datname_},
           {"entries", textless},
           {"metric", kUnattributed.name}});
    }
  }

  void book(const Rows& rows, bool partial) {
    estimator_->begin(rows.empty() ? "" : rows.text(0, "stats_reset"), partial);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if (!rows.at(r, "queryid")) continue;
      const EntryKey key = read_key(rows, r);
      const EntryLabels& labels = labels_.at(key);  // fetch_new_labels labelled every key
      if (labels.origin == Origin::own) continue;
      Group& g = labels.origin == Origin::unknown ? unattributed_
                                                  : groups_[{labels.command, labels.klass}];
      const auto d = estimator_->observe(key, read_sample(rows, r), g.hist);
      g.calls += d.calls;
      g.rows += std::max(d.rows, 0.0);
    }
    estimator_->end();
    if (!rows.empty()) book_dealloc(rows.number(0, "dealloc").value_or(0));
  }

  // The server's dealloc restarts at a full reset; ours keeps counting from the first value seen.
  void book_dealloc(double server) {
    if (!last_dealloc_) {
      dealloc_ = server;
    } else {
      dealloc_ += server >= *last_dealloc_ ? server - *last_dealloc_ : server;
    }
    last_dealloc_ = server;
  }

  void prune_labels() {
    if (labels_.size() <= 2 * estimator_->tracked_entries() + 1000) return;
    std::erase_if(labels_, [&](const auto& kv) { return !estimator_->tracks(kv.first); });
  }

  Snapshot build_snapshot(const Rows& rows) const {
    const MetricSpec& duration = plan_time_ ? kDurationPlanExec : kDurationExec;
    SnapshotBuilder out;
    declare(out, {duration, kCalls, kRows});
    for (const auto& [key, g] : groups_) {
      const Labels labels{{"datname", datname_}, {"command", key.first}, {"class", key.second}};
      emit(out, duration, labels, g.hist);
      emit(out, kCalls, labels, g.calls);
      emit(out, kRows, labels, g.rows);
    }
    const Labels db{{"datname", datname_}};
    emit(out, kLost, db, estimator_->lost_calls());
    emit(out, kDealloc, db, dealloc_);
    emit(out, kUnattributed, db, unattributed_.calls);
    if (!rows.empty()) emit(out, kEntries, db, rows.number(0, "entries").value_or(0));
    emit(out, kBasis, {{"datname", datname_}, {"basis", plan_time_ ? "plan+exec" : "exec"}}, 1);
    emit(out, kMinmaxReset, db, reset_minmax_ ? 1 : 0);
    return out.take();
  }

  std::string datname_, schema_;
  bool plan_time_ = false;
  bool reset_minmax_ = false;  // reset_minmax asked for, and this server and role allow it
  bool warned_minmax_ = false;
  std::optional<std::chrono::system_clock::time_point> last_full_;
  std::vector<EntryKey> busy_;  // sampled every run between full samples
  Snapshot last_;
  std::optional<latency::LatencyEstimator> estimator_;
  std::unordered_map<EntryKey, EntryLabels, latency::EntryKeyHash> labels_;
  std::map<std::pair<std::string, std::string>, Group> groups_;
  Group unattributed_;  // entries without a text (Origin::unknown)
  double dealloc_ = 0;
  std::optional<double> last_dealloc_;
};

}  // namespace

CollectorInfo statements_info() {
  return {.name = "statements",
          .help =
              "Statement latency histograms, calls and rows by command and query class from "
              "pg_stat_statements (the interval is the sampling period).",
          .default_interval = Seconds{1},
          .options = {kFullInterval, kBusyEntries, kResetMinmax},
          .make = make_collector<StatementsCollector>};
}

}  // namespace pge
