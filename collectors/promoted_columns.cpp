// Columns promoted out of a JSONB document (target.promoted_column): how far the backfill and the
// dual-write have come, and whether the column is ready for cutover.
//
// Per column, with j = the configured source expression (e.g. metadata->>'source'):
//   valid j   : present, castable to the column's type (uuid and integer types checked with a
//               regex: PG 15 has no exception-free cast test), in `allowed`, and its `references`
//               target exists. Only a valid j can ever be backfilled.
//   missing   : valid j, column NULL            (what blocks cutover)
//   mismatch  : both present and different      (dual-write drift)
//   invalid   : j present but not valid         (can never be backfilled)
//   json_missing: column set, j NULL            (the rollback, which reads j again, would lose it)
//
// Clean period. Cutover may also wait for `cutover_min_clean` of proven dual-writing: the rows the
// exporter can see prove it from the oldest row written with the column set after the newest
// missing row (by timestamp_column) until now. Each scan also returns, per column, the newest
// missing row's timestamp and the oldest set row's; the full check asks once more for the oldest
// set row after its newest missing one, and between full checks only a newer missing row among the
// rows after the watermark asks again, over those rows only.
//
// Cost. Counting these needs every row. A full check runs every `full_check_interval` (default 1h),
// stretched so that full checks take at most `full_check_budget_ratio` (0.5 %) of the time, in one
// scan per table (all of a table's columns at once) over the rows whose timestamp column is
// at or before a watermark (the check's start minus `watermark_lag`, 10 min by default, so that
// rows of transactions still open at check time are not lost). Between full checks every run
// rescans the rows after the watermark only, through an index on the timestamp column, and adds
// them: the counts follow new rows within one interval, while changes to older rows (a backfill)
// show at the next full check. The recent-window ratio (rows written in the last recent_window)
// uses the same index. With no usable index on the timestamp column both index passes are skipped
// (pg_promoted_column_timestamp_indexed 0) and only full checks run. The full check's statement may
// take long on a large table: this collector's default timeout is 5 minutes.
#include <array>
#include <cmath>
#include <map>
#include <regex>
#include <sstream>

#include "collectors/collector.h"
#include "collectors/migration_common.h"

namespace pge {
namespace {

// Counts kept per column; the order is the order of the SELECT list built by `aggregates`.
enum Count { kRows, kNull, kValid, kMissing, kMismatch, kInvalid, kJsonMissing, kCounts };
constexpr std::array<const char*, kCounts> kCountNames{
    "rows", "null", "valid", "missing", "mismatch", "invalid", "json_missing"};
using Counts = std::array<double, kCounts>;

// What one scan found for one column: its counts and, by timestamp_column (epoch seconds, 0 when
// none), the newest missing row and the oldest row with the column set.
struct Part {
  Counts n{};
  double last_missing = 0;
  double first_set = 0;
};

const char* format_regex(const std::string& cast) {
  static const std::map<std::string, const char*> kFormats{
      {"uuid", "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"},
      {"smallint", "^\\s*[+-]?[0-9]{1,4}\\s*$"},
      {"int2", "^\\s*[+-]?[0-9]{1,4}\\s*$"},
      {"integer", "^\\s*[+-]?[0-9]{1,9}\\s*$"},
      {"int", "^\\s*[+-]?[0-9]{1,9}\\s*$"},
      {"int4", "^\\s*[+-]?[0-9]{1,9}\\s*$"},
      {"bigint", "^\\s*[+-]?[0-9]{1,18}\\s*$"},
      {"int8", "^\\s*[+-]?[0-9]{1,18}\\s*$"}};
  auto it = kFormats.find(cast);
  return it == kFormats.end() ? nullptr : it->second;
}

// The SQL predicates of one column, given the expressions for its value (`col`) and for j.
struct ColumnSql {
  std::string col, j, castable, valid;

  ColumnSql(const PromotedColumn& c, std::string col_expr, std::string j_expr)
      : col(std::move(col_expr)), j(std::move(j_expr)) {
    const char* re = c.cast.empty() ? nullptr : format_regex(c.cast);
    castable = re ? "(" + j + " ~* " + quote_literal(re) + ")" : "true";
    std::string allowed = "true";
    if (!c.allowed.empty()) {
      allowed = j + " IN (";
      for (std::size_t i = 0; i < c.allowed.size(); ++i)
        allowed += (i ? ", " : "") + quote_literal(c.allowed[i]);
      allowed += ")";
    }
    std::string target = "true";
    if (!c.references.empty()) target = reference_exists(c, re != nullptr);
    valid = "(" + j + " IS NOT NULL AND CASE WHEN " + castable + " THEN " + allowed + " AND " +
            target + " ELSE false END)";
  }

  // "both present and different": compared as the column's type when j is known castable (so an
  // upper-case uuid is not a mismatch), as text otherwise.
  std::string mismatch(const PromotedColumn& c) const {
    const std::string typed = c.cast.empty() || castable == "true"
                                  ? col + "::text <> " + j
                                  : "CASE WHEN " + castable + " THEN " + col + " <> " + j +
                                        "::" + c.cast + " ELSE " + col + "::text <> " + j + " END";
    return "(" + col + " IS NOT NULL AND " + j + " IS NOT NULL AND " + typed + ")";
  }

  std::string reference_exists(const PromotedColumn& c, bool typed) const {
    static const std::regex ref_re(
        "^(?:([A-Za-z_][A-Za-z0-9_]*)\\.)?([A-Za-z_][A-Za-z0-9_]*)\\(([A-Za-z_][A-Za-z0-9_]*)\\)$");
    std::smatch m;
    std::regex_match(c.references, m, ref_re);  // validated by the config loader
    const std::string table = quote_qualified(m[1].matched ? m[1].str() : "public", m[2].str());
    const std::string key = "r." + quote_ident(m[3].str());
    const std::string match = typed ? key + " = " + j + "::" + c.cast : key + "::text = " + j;
    return "EXISTS (SELECT 1 FROM " + table + " r WHERE " + match + ")";
  }
};

// One scan of a table for all its promoted columns, in three levels so that each row's JSON is
// extracted once (a) and its validity, FK lookup included, decided once (b); OFFSET 0 keeps the
// planner from folding the levels back into one and repeating those expressions per aggregate.
// `where` filters rows of `t` (timestamp column `t.ts`); conds[i] restricts column i's counts
// (over `b.ts`).
std::string scan_sql(const std::vector<const PromotedColumn*>& columns, const std::string& table,
                     const std::string& ts_column, const std::string& where,
                     const std::vector<std::string>& conds) {
  std::string inner =
      "SELECT " +
      (ts_column.empty() ? std::string("NULL::timestamptz") : "t." + quote_ident(ts_column)) +
      " AS ts";
  std::string mid = "SELECT a.*";
  std::string outer = "SELECT 1 AS one";
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const PromotedColumn& c = *columns[i];
    const std::string n = std::to_string(i);
    // The source is an SQL expression by design (trusted configuration, not quotable).
    inner += ", t." + quote_ident(c.column) + " AS c" + n + ", (" + c.source + ") AS j" + n;
    mid += ", " + ColumnSql(c, "a.c" + n, "a.j" + n).valid + " AS v" + n;
    const ColumnSql b(c, "b.c" + n, "b.j" + n);
    const std::string missing = "b.v" + n + " AND " + b.col + " IS NULL";
    const std::array<std::string, kCounts> preds{"true",
                                                 b.col + " IS NULL",
                                                 "b.v" + n,
                                                 missing,
                                                 b.mismatch(c),
                                                 b.j + " IS NOT NULL AND NOT b.v" + n,
                                                 b.col + " IS NOT NULL AND " + b.j + " IS NULL"};
    const std::string in_part = "(" + conds[i] + ") AND ";
    for (int k = 0; k < kCounts; ++k) {
      outer +=
          ", count(*) FILTER (WHERE " + in_part + preds[k] + ") AS c" + n + "_" + kCountNames[k];
    }
    outer += ", extract(epoch FROM max(b.ts) FILTER (WHERE " + in_part + missing + ")) AS c" + n +
             "_last_missing";
    outer += ", extract(epoch FROM min(b.ts) FILTER (WHERE " + in_part + b.col +
             " IS NOT NULL)) AS c" + n + "_first_set";
  }
  return outer + " FROM (" + mid + " FROM (" + inner + " FROM " + table + " t WHERE " + where +
         " OFFSET 0) a OFFSET 0) b";
}

Part read_part(const Rows& rows, std::size_t index) {
  const std::string prefix = "c" + std::to_string(index) + "_";
  Part out;
  for (int k = 0; k < kCounts; ++k) out.n[k] = rows.number(0, prefix + kCountNames[k]).value_or(0);
  out.last_missing = rows.number(0, prefix + "last_missing").value_or(0);
  out.first_set = rows.number(0, prefix + "first_set").value_or(0);
  return out;
}

Counts operator+(Counts a, const Counts& b) {
  for (int k = 0; k < kCounts; ++k) a[k] += b[k];
  return a;
}

double ratio(double part, double whole) { return whole > 0 ? part / whole : 0; }

// Columns of one table sharing one timestamp column: one scan serves them all.
struct Group {
  std::string schema, table, timestamp_column;
  std::vector<const PromotedColumn*> columns;
  // State of the last full check.
  bool checked = false;
  bool indexed = false;   // whether that check left the rows after `watermark` to index passes
  double watermark = 0;   // epoch seconds; rows at or before it are in `full`
  double checked_at = 0;  // database time the full check started
  double check_duration = 0;
  std::vector<Part> full;
  std::vector<double> clean_since;  // per column: oldest set row after full's newest missing one
};

std::string group_key(const PromotedColumn& c) {
  return c.schema + "\x1f" + c.table + "\x1f" + c.timestamp_column;
}

constexpr const char* kMetaQuery = R"SQL(
SELECT current_database() AS datname, extract(epoch FROM now()) AS now,
       )SQL";

// The metric table: every family this collector exports, one gauge each.
constexpr MetricSpec kNullRatio{
    "pg_promoted_column_null_ratio", kGauge, kComputed,
    "Share of rows where the promoted column is NULL: method=\"pg_stats\" is pg_stats.null_frac "
    "(as of the last ANALYZE), method=\"measured\" is counted (full check + rows after its "
    "watermark)."};
constexpr MetricSpec kStatsAgeSeconds{"pg_promoted_column_stats_age_seconds", kGauge, kComputed,
                                      "Seconds since the table was last analyzed (manual or auto): "
                                      "the age of the pg_stats null_frac."};
constexpr MetricSpec kCheckedRows{
    "pg_promoted_column_checked_rows", kGauge, kComputed,
    "Rows counted by the last full check plus the rows after its watermark."};
constexpr MetricSpec kMissingRows{
    "pg_promoted_column_missing_rows", kGauge, kComputed,
    "Rows whose JSON source holds a valid value while the column is NULL: what blocks cutover."};
constexpr MetricSpec kMissingRatio{
    "pg_promoted_column_missing_ratio", kGauge, kComputed,
    "missing_rows divided by rows whose JSON source holds a valid (backfillable) value."};
constexpr MetricSpec kMismatchRows{"pg_promoted_column_mismatch_rows", kGauge, kComputed,
                                   "Rows where both the column and the JSON source hold values and "
                                   "they differ (dual-write drift)."};
constexpr MetricSpec kInvalidRows{
    "pg_promoted_column_invalid_rows", kGauge, kComputed,
    "Rows whose JSON source holds a value that can never be backfilled: not castable, not allowed, "
    "or its referenced row is gone."};
constexpr MetricSpec kRecentRows{
    "pg_promoted_column_recent_rows", kGauge, kComputed,
    "Rows written within the column's recent_window (by its timestamp_column)."};
constexpr MetricSpec kRecentMissingRows{"pg_promoted_column_recent_missing_rows", kGauge, kComputed,
                                        "Missing rows among those written within recent_window."};
constexpr MetricSpec kRecentMissingRatio{"pg_promoted_column_recent_missing_ratio", kGauge,
                                         kComputed,
                                         "Missing ratio among rows written within recent_window: "
                                         "rises within minutes when a writer stops dual-writing."};
constexpr MetricSpec kFullCheckTimestampSeconds{
    "pg_promoted_column_full_check_timestamp_seconds", kGauge, kComputed,
    "Database time at which the last full check started, Unix time."};
constexpr MetricSpec kFullCheckDurationSeconds{
    "pg_promoted_column_full_check_duration_seconds", kGauge, kComputed,
    "Duration of the last full check (one scan of the table for all its promoted columns)."};
constexpr MetricSpec kTimestampIndexed{"pg_promoted_column_timestamp_indexed", kGauge, kComputed,
                                       "1 when timestamp_column leads a valid index, enabling the "
                                       "between-full-checks and recent-window passes."};
constexpr MetricSpec kConstraintValid{
    "pg_promoted_column_constraint_valid", kGauge, kComputed,
    "A CHECK or FOREIGN KEY constraint on the column: 1 validated, 0 NOT VALID."};
constexpr MetricSpec kIndexValid{
    "pg_promoted_column_index_valid", kGauge, kComputed,
    "An index on the column: 1 valid, 0 invalid (e.g. a failed CREATE INDEX CONCURRENTLY)."};
constexpr MetricSpec kJsonMissingRows{"pg_promoted_column_json_missing_rows", kGauge, kComputed,
                                      "Rows whose column is set while the JSON source is NULL: a "
                                      "rollback to the JSON path would lose them."};
constexpr MetricSpec kRecentJsonMissingRows{
    "pg_promoted_column_recent_json_missing_rows", kGauge, kComputed,
    "json_missing rows among those written within recent_window: a writer that stopped writing the "
    "JSON."};
constexpr MetricSpec kCleanSeconds{
    "pg_promoted_column_clean_seconds", kGauge, kComputed,
    "Proven clean dual-write period: seconds since the oldest row written with the column set "
    "after the newest missing row (by timestamp_column); 0 when there is none."};
constexpr MetricSpec kCutoverMinCleanSeconds{
    "pg_promoted_column_cutover_min_clean_seconds", kGauge, kComputed,
    "Configured clean dual-write period cutover waits for (cutover_min_clean)."};
constexpr MetricSpec kCutoverThresholdRatio{
    "pg_promoted_column_cutover_threshold_ratio", kGauge, kComputed,
    "Configured missing ratio under which cutover may happen (cutover_threshold)."};
constexpr MetricSpec kCutoverReady{
    "pg_promoted_column_cutover_ready", kGauge, kComputed,
    "1 when missing_ratio < cutover_threshold, no mismatches, the column's CHECK (when allowed is "
    "set) and FOREIGN KEY (when references is set) exist and are validated, no index on it is "
    "invalid and the configured one (index) is valid, and clean_seconds >= cutover_min_clean."};

const OptionSpec kFullCheckInterval{.name = "full_check_interval",
                                    .help = "Seconds between full checks (one scan per table).",
                                    .default_value = 3600.0};
const OptionSpec kFullCheckBudgetRatio{.name = "full_check_budget_ratio",
                                       .help =
                                           "Largest share of wall time full checks may take: a "
                                           "check lasting d seconds delays the next one "
                                           "to at least d / ratio (0 disables).",
                                       .default_value = 0.005};
const OptionSpec kWatermarkLag{.name = "watermark_lag",
                               .help =
                                   "Seconds the full check's watermark stays behind its start, for "
                                   "rows of transactions still open.",
                               .default_value = 600.0};

class PromotedColumnsCollector final : public Collector {
 public:
  Snapshot collect(Session& session, CollectContext& ctx) override {
    sync_groups(ctx.target);
    SnapshotBuilder out;
    declare(out, {kNullRatio,
                  kStatsAgeSeconds,
                  kCheckedRows,
                  kMissingRows,
                  kMissingRatio,
                  kMismatchRows,
                  kInvalidRows,
                  kJsonMissingRows,
                  kRecentRows,
                  kRecentMissingRows,
                  kRecentMissingRatio,
                  kRecentJsonMissingRows,
                  kFullCheckTimestampSeconds,
                  kFullCheckDurationSeconds,
                  kTimestampIndexed,
                  kConstraintValid,
                  kIndexValid,
                  kCleanSeconds,
                  kCutoverMinCleanSeconds,
                  kCutoverThresholdRatio,
                  kCutoverReady});
    for (auto& [key, g] : groups_) collect_group(session, ctx, g, out);
    return out.take();
  }

 private:
  std::map<std::string, Group> groups_;

  void sync_groups(const Target& target) {
    std::map<std::string, Group> next;
    for (const auto& c : target.promoted_columns) {
      const std::string key = group_key(c);
      auto [it, inserted] = next.try_emplace(key);
      if (inserted) {
        auto old = groups_.find(key);
        it->second =
            old != groups_.end()
                ? std::move(old->second)
                : Group{c.schema, c.table, c.timestamp_column, {}, false, false, 0, 0, 0, {}, {}};
        it->second.columns.clear();
      }
      it->second.columns.push_back(&c);
    }
    for (auto& [key, g] : next) {
      if (g.full.size() != g.columns.size()) g.checked = false;
    }
    groups_ = std::move(next);
  }

  void collect_group(Session& session, CollectContext& ctx, Group& g, SnapshotBuilder& out) {
    const std::string table = quote_qualified(g.schema, g.table);
    const bool has_ts = !g.timestamp_column.empty();
    const std::string ts = "t." + quote_ident(g.timestamp_column);
    Rows meta = session.query(
        std::string(kMetaQuery) + exclusively_locked("to_regclass($1)") + R"SQL( AS locked,
       EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
               WHERE i.indrelid = to_regclass($1) AND a.attname = $2 AND i.indisvalid AND i.indpred IS NULL) AS ts_indexed,
       (SELECT extract(epoch FROM now() - greatest(last_analyze, last_autoanalyze)) FROM pg_stat_all_tables
         WHERE relid = to_regclass($1)) AS stats_age
)SQL",
        {table, g.timestamp_column});
    if (meta.flag(0, "locked")) {
      ctx.lock_skips += 1;
      return;
    }
    const std::string datname = meta.text(0, "datname");
    const double now = *meta.number(0, "now");
    const bool indexed = has_ts && meta.flag(0, "ts_indexed");
    // A full check longer than budget × interval pushes the next one out, so that its share of the
    // database's time stays bounded whatever the table grows to.
    const double budget = number_option(ctx, kFullCheckBudgetRatio);
    const double interval = std::max(number_option(ctx, kFullCheckInterval),
                                     budget > 0 ? g.check_duration / budget : 0.0);
    const double lag = number_option(ctx, kWatermarkLag);
    if (!g.checked || g.indexed != indexed || now - g.checked_at >= interval)
      full_check(session, g, table, ts, indexed, now - lag, now);

    std::vector<Part> tail(g.columns.size());
    std::vector<Part> recent(g.columns.size());
    if (indexed) {
      tail = scan(session, g, table, ts + " > " + epoch(g.watermark), all_rows(g));
      recent = scan_recent(session, g, table, ts);
    }
    for (std::size_t i = 0; i < g.columns.size(); ++i) {
      const PromotedColumn& c = *g.columns[i];
      const Labels labels{{"datname", datname},
                          {"schemaname", g.schema},
                          {"relname", g.table},
                          {"column", c.column}};
      const double since = has_ts ? clean_since(session, g, i, tail[i], table) : 0;
      emit_column(session, out, c, labels, g.full[i].n + tail[i].n,
                  indexed ? &recent[i].n : nullptr, since > 0 ? now - since : 0, meta, g, table);
      if (has_ts) emit(out, kTimestampIndexed, labels, indexed ? 1 : 0);
    }
  }

  static std::vector<std::string> all_rows(const Group& g) {
    return std::vector<std::string>(g.columns.size(), "true");
  }

  static std::string epoch(double seconds) {
    return "to_timestamp(" + std::to_string(seconds) + ")";
  }

  static std::vector<Part> scan(Session& session, const Group& g, const std::string& table,
                                const std::string& where, const std::vector<std::string>& conds) {
    Rows rows = session.query(scan_sql(g.columns, table, g.timestamp_column, where, conds));
    std::vector<Part> out;
    for (std::size_t i = 0; i < g.columns.size(); ++i) out.push_back(read_part(rows, i));
    return out;
  }

  // The oldest row of `where` with column i set and a timestamp after `after` (epoch, 0 when none).
  static double first_set_after(Session& session, const Group& g, std::size_t i,
                                const std::string& table, double after, const std::string& where) {
    const std::string ts = "t." + quote_ident(g.timestamp_column);
    Rows rows = session.query("SELECT extract(epoch FROM min(" + ts + ")) AS since FROM " + table +
                              " t WHERE " + ts + " > " + epoch(after) + " AND t." +
                              quote_ident(g.columns[i]->column) + " IS NOT NULL AND " + where);
    return rows.number(0, "since").value_or(0);
  }

  // Start of the proven clean period of column i: a newer missing row after the watermark restarts
  // it (asked over those rows only); otherwise the full check's answer stands, or, when the full
  // part has no set row after its last missing one, the oldest set row after the watermark.
  static double clean_since(Session& session, const Group& g, std::size_t i, const Part& tail,
                            const std::string& table) {
    if (tail.last_missing > 0)
      return first_set_after(session, g, i, table, tail.last_missing, "true");
    return g.clean_since[i] > 0 ? g.clean_since[i] : tail.first_set;
  }

  // Each column has its own recent_window: scan the widest, count each column in its own.
  static std::vector<Part> scan_recent(Session& session, const Group& g, const std::string& table,
                                       const std::string& ts) {
    auto since = [](double seconds) {
      return " >= now() - make_interval(secs => " + std::to_string(seconds) + ")";
    };
    double widest = 0;
    std::vector<std::string> conds;
    for (const auto* c : g.columns) {
      widest = std::max(widest, c->recent_window.count());
      conds.push_back("b.ts" + since(c->recent_window.count()));
    }
    return scan(session, g, table, ts + since(widest), conds);
  }

  // Without an index on the timestamp column nothing rescans the rows after a watermark, so the
  // full check then covers every row.
  static void full_check(Session& session, Group& g, const std::string& table,
                         const std::string& ts, bool indexed, double watermark, double now) {
    const auto start = std::chrono::steady_clock::now();
    // NULL timestamps have no place after any watermark: the full check owns them.
    const std::string where = indexed ? "NOT (" + ts + " > " + epoch(watermark) + ")" : "true";
    g.full = scan(session, g, table, where, all_rows(g));
    g.clean_since.assign(g.columns.size(), 0);
    for (std::size_t i = 0; i < g.columns.size() && !g.timestamp_column.empty(); ++i) {
      const Part& p = g.full[i];
      g.clean_since[i] = p.last_missing > 0
                             ? first_set_after(session, g, i, table, p.last_missing, where)
                             : p.first_set;
    }
    g.watermark = indexed ? watermark : 0;
    g.indexed = indexed;
    g.checked_at = now;
    g.checked = true;
    g.check_duration =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  static void emit_column(Session& session, SnapshotBuilder& out, const PromotedColumn& c,
                          Labels labels, const Counts& n, const Counts* recent,
                          double clean_seconds, const Rows& meta, const Group& g,
                          const std::string& table) {
    Labels measured = labels;
    measured.emplace_back("method", "measured");
    emit(out, kNullRatio, measured, ratio(n[kNull], n[kRows]));
    Rows stats = session.query(
        "SELECT null_frac FROM pg_stats WHERE schemaname = $1 AND tablename = $2 AND attname = $3",
        {g.schema, g.table, c.column});
    if (!stats.empty() && stats.at(0, "null_frac")) {
      Labels by_stats = labels;
      by_stats.emplace_back("method", "pg_stats");
      emit(out, kNullRatio, by_stats, *stats.number(0, "null_frac"));
    }
    if (auto age = meta.number(0, "stats_age")) emit(out, kStatsAgeSeconds, labels, *age);
    emit(out, kCheckedRows, labels, n[kRows]);
    emit(out, kMissingRows, labels, n[kMissing]);
    emit(out, kMissingRatio, labels, ratio(n[kMissing], n[kValid]));
    emit(out, kMismatchRows, labels, n[kMismatch]);
    emit(out, kInvalidRows, labels, n[kInvalid]);
    emit(out, kJsonMissingRows, labels, n[kJsonMissing]);
    if (recent) {
      emit(out, kRecentRows, labels, (*recent)[kRows]);
      emit(out, kRecentMissingRows, labels, (*recent)[kMissing]);
      emit(out, kRecentMissingRatio, labels, ratio((*recent)[kMissing], (*recent)[kValid]));
      emit(out, kRecentJsonMissingRows, labels, (*recent)[kJsonMissing]);
    }
    if (!g.timestamp_column.empty()) emit(out, kCleanSeconds, labels, clean_seconds);
    emit(out, kFullCheckTimestampSeconds, labels, g.checked_at);
    emit(out, kFullCheckDurationSeconds, labels, g.check_duration);
    const bool constraints_ok = emit_constraints(session, out, c, labels, table);
    const bool indexes_ok = emit_indexes(session, out, c, labels, table);
    emit(out, kCutoverThresholdRatio, labels, c.cutover_threshold);
    emit(out, kCutoverMinCleanSeconds, labels, c.cutover_min_clean.count());
    const bool ready = ratio(n[kMissing], n[kValid]) < c.cutover_threshold && n[kMismatch] == 0 &&
                       constraints_ok && indexes_ok && clean_seconds >= c.cutover_min_clean.count();
    emit(out, kCutoverReady, labels, ready ? 1 : 0);
  }

  // Exports each CHECK/FK constraint on the column; returns whether every constraint the config
  // implies (a CHECK for `allowed`, a FOREIGN KEY for `references`) exists and all are validated.
  static bool emit_constraints(Session& session, SnapshotBuilder& out, const PromotedColumn& c,
                               const Labels& labels, const std::string& table) {
    Rows cons = session.query(R"SQL(
SELECT con.conname, CASE con.contype WHEN 'c' THEN 'check' ELSE 'foreign_key' END AS type,
       con.convalidated AS valid
FROM pg_constraint con JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey)
WHERE con.conrelid = to_regclass($1) AND a.attname = $2 AND con.contype IN ('c', 'f')
)SQL",
                              {table, c.column});
    bool all_valid = true, has_check = false, has_fk = false;
    for (std::size_t r = 0; r < cons.size(); ++r) {
      Labels l = labels;
      l.emplace_back("constraint", cons.text(r, "conname"));
      l.emplace_back("type", cons.text(r, "type"));
      emit(out, kConstraintValid, l, cons.flag(r, "valid") ? 1 : 0);
      all_valid = all_valid && cons.flag(r, "valid");
      has_check = has_check || cons.text(r, "type") == "check";
      has_fk = has_fk || cons.text(r, "type") == "foreign_key";
    }
    return all_valid && (c.allowed.empty() || has_check) && (c.references.empty() || has_fk);
  }

  // Exports each index on the column; returns whether none is invalid (a failed CREATE INDEX
  // CONCURRENTLY) and the configured one (`index`), if any, exists and is valid.
  static bool emit_indexes(Session& session, SnapshotBuilder& out, const PromotedColumn& c,
                           const Labels& labels, const std::string& table) {
    Rows idx = session.query(R"SQL(
SELECT ic.relname AS indexrelname, i.indisvalid AS valid
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = to_regclass($1) AND a.attname = $2
)SQL",
                             {table, c.column});
    bool none_invalid = true, configured_valid = c.index.empty();
    for (std::size_t r = 0; r < idx.size(); ++r) {
      Labels l = labels;
      l.emplace_back("indexrelname", idx.text(r, "indexrelname"));
      const bool valid = idx.flag(r, "valid");
      emit(out, kIndexValid, l, valid ? 1 : 0);
      none_invalid = none_invalid && valid;
      configured_valid = configured_valid || (valid && idx.text(r, "indexrelname") == c.index);
    }
    return none_invalid && configured_valid;
  }
};

}  // namespace

CollectorCode promoted_columns_code() {
  return {.options = {kFullCheckInterval, kFullCheckBudgetRatio, kWatermarkLag},
          .make = make_collector<PromotedColumnsCollector>};
}

}  // namespace pge
