// Function cost and the updated_at trigger consolidation.
// pg_stat_user_functions counts calls and time only when track_functions is 'pl' or 'all'; with
// 'none' the view is empty, so pg_settings_track_functions_enabled 0 tells "not measured" apart
// from "not called". Overloads are told apart by the `signature` label (identity arguments).
// The seed replaces 15+ per-table updated_at trigger functions by one shared function: triggers
// whose name or function name matches the target's `updated_at_trigger` pattern are listed, each
// with shared="true" when its function serves more than one table, and the number of distinct
// functions is the progress measure (goal: 1). Catalog reads only; triggers of tables under ACCESS
// EXCLUSIVE (a migration replacing them) are left out this cycle and counted as lock skips.
// Per table, what a trigger does rather than what it is called: for every table with the
// `updated_at_column` column, the enabled BEFORE UPDATE row triggers whose function assigns
// NEW.<column> (a PL/pgSQL or SQL body) or that call moddatetime(<column>) (contrib spi, common on
// Supabase). 0 = the column goes stale on UPDATE, 2+ = the work is done twice. And the trigger
// functions with such a body that no trigger uses any more: the per-table functions the seed's
// Stage 2 ends by dropping. Partitions are left out (their triggers are clones of the parent's).
#include <array>
#include <map>
#include <set>

#include "collectors/collector.h"

namespace pge {
namespace {

constexpr const char* kFunctions = R"SQL(
SELECT current_database() AS datname, schemaname, funcname,
       pg_get_function_identity_arguments(funcid) AS signature, calls, total_time, self_time
FROM pg_stat_user_functions
)SQL";

constexpr std::array<MetricSpec, 3> kFunctionMetrics{{
    {"pg_stat_user_functions_calls_total", kCounter, "calls",
     "Times this function has been called (needs track_functions)."},
    {"pg_stat_user_functions_total_time_seconds_total", kCounter, "total_time",
     "Time spent in this function and all functions it called.", 0.001},
    {"pg_stat_user_functions_self_time_seconds_total", kCounter, "self_time",
     "Time spent in this function itself, without the functions it called.", 0.001},
}};

constexpr std::array<const char*, 4> kFunctionLabels{"datname", "schemaname", "funcname",
                                                     "signature"};

constexpr const char* kTrackFunctions =
    "SELECT (current_setting('track_functions') <> 'none')::int AS enabled";

constexpr std::array<MetricSpec, 1> kSettingMetrics{{
    {"pg_settings_track_functions_enabled", kGauge, "enabled",
     "1 when track_functions is pl or all, so pg_stat_user_functions is populated; 0 when none."},
}};

// Clones of a partitioned table's trigger on its partitions (tgparentid) are one trigger.
const std::string kTriggers = std::string(R"SQL(
SELECT current_database() AS datname, n.nspname AS schemaname, c.relname, tg.tgname AS trigger,
       p.oid::text AS funcid, p.proname AS function,
       )SQL") + exclusively_locked("c.oid") +
                              R"SQL( AS locked
FROM pg_trigger tg
JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = tg.tgfoid
WHERE NOT tg.tgisinternal AND tg.tgparentid = 0
)SQL";

constexpr MetricSpec kTriggerInfo{"pg_updated_at_trigger_info", kGauge, kComputed,
                                  "An updated_at trigger (name or function matching "
                                  "updated_at_trigger), constant 1; shared=\"true\" "
                                  "when its function serves more than one table."};
constexpr MetricSpec kTriggerFunctions{
    "pg_updated_at_trigger_functions", kGauge, kComputed,
    "Distinct functions behind updated_at triggers (goal of the consolidation: 1)."};
constexpr MetricSpec kPerTable{
    "pg_updated_at_trigger_per_table_functions", kGauge, kComputed,
    "Functions behind updated_at triggers that serve a single table (still to consolidate)."};

// The body of a function that sets the column: `NEW.col :=` or `NEW.col =`, quoted or not, any
// case. $1 is the column; every non-word character of it is escaped for the regular expression.
constexpr const char* kAssignsColumn =
    R"SQL(('(^|[^[:alnum:]_])new\s*\.\s*"?' || regexp_replace($1, '([^[:alnum:]_])', '\\\1', 'g')
           || '"?\s*:?='))SQL";

// Enabled BEFORE UPDATE FOR EACH ROW triggers (tgtype bits: ROW 1, BEFORE 2, UPDATE 16).
const std::string kColumnTriggers = std::string(R"SQL(
SELECT current_database() AS datname, n.nspname AS schemaname, c.relname,
       )SQL") + exclusively_locked("c.oid") +
                                    R"SQL( AS locked,
       (SELECT count(*) FROM pg_trigger tg JOIN pg_proc p ON p.oid = tg.tgfoid
        WHERE tg.tgrelid = c.oid AND NOT tg.tgisinternal AND tg.tgenabled <> 'D'
          AND tg.tgtype::int & 19 = 19
          AND (p.prosrc ~* )SQL" + kAssignsColumn +
                                    R"SQL(
               OR (p.proname = 'moddatetime' AND tg.tgargs = convert_to($1, 'UTF8') || '\x00'::bytea))
       ) AS triggers
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE a.attname = $1 AND a.attnum > 0 AND NOT a.attisdropped
  AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
)SQL";

// Trigger functions that set the column and that no trigger calls; extension members are not the
// application's to drop.
const std::string kUnusedFunctions = std::string(R"SQL(
SELECT current_database() AS datname, n.nspname AS schemaname, p.proname AS function,
       pg_get_function_identity_arguments(p.oid) AS signature
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prorettype = 'trigger'::regtype AND p.prosrc ~* )SQL") +
                                     kAssignsColumn + R"SQL(
  AND NOT EXISTS (SELECT 1 FROM pg_trigger tg WHERE tg.tgfoid = p.oid)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                              AND d.deptype = 'e')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
)SQL";

constexpr MetricSpec kColumnTriggerCount{
    "pg_updated_at_column_triggers", kGauge, kComputed,
    "Enabled BEFORE UPDATE row triggers that set the table's updated_at column "
    "(updated_at_column): 0 = missing, 2 or more = duplicate."};
constexpr MetricSpec kUnusedInfo{"pg_updated_at_unused_function_info", kGauge, kComputed,
                                 "A trigger function that sets updated_at but that no trigger "
                                 "uses (left over from the consolidation), constant 1."};
constexpr MetricSpec kUnusedCount{
    "pg_updated_at_unused_functions", kGauge, kComputed,
    "Trigger functions that set updated_at and that no trigger uses (goal after the "
    "consolidation: 0)."};

const OptionSpec kUpdatedAtColumn{
    .name = "updated_at_column",
    .help =
        "The column that updated_at triggers maintain (per-table trigger count, unused "
        "functions).",
    .default_value = std::string("updated_at")};

constexpr std::array<const char*, 5> kTriggerLabels{"datname", "schemaname", "relname", "trigger",
                                                    "function"};
constexpr std::array<const char*, 4> kUnusedLabels{"datname", "schemaname", "function",
                                                   "signature"};

class FunctionsCollector final : public Collector {
 public:
  Snapshot collect(Session& session, CollectContext& ctx) override {
    SnapshotBuilder out;
    emit_rows(out, session.query(kFunctions), kFunctionMetrics, kFunctionLabels);
    emit_rows(out, session.query(kTrackFunctions), kSettingMetrics, {});
    emit_triggers(out, session.query(kTriggers), ctx);
    emit_column_triggers(out, session, ctx);
    return out.take();
  }

 private:
  static void emit_triggers(SnapshotBuilder& out, const Rows& all, CollectContext& ctx) {
    const Pattern& pattern = ctx.target.updated_at_trigger;
    const Rows rows = all.filter([&](std::size_t r) {
      if (!ctx.target.selects(all.text(r, "schemaname"), all.text(r, "relname"))) return false;
      if (!pattern.matches(all.text(r, "trigger")) && !pattern.matches(all.text(r, "function")))
        return false;
      if (!all.flag(r, "locked")) return true;
      ++ctx.lock_skips;
      return false;
    });
    std::map<std::string, std::set<std::string>> tables_of;  // function oid -> schema.table
    for (std::size_t r = 0; r < rows.size(); ++r) {
      tables_of[rows.text(r, "funcid")].insert(rows.text(r, "schemaname") + "." +
                                               rows.text(r, "relname"));
    }
    declare(out, {kTriggerInfo});
    for (std::size_t r = 0; r < rows.size(); ++r) {
      Labels labels = row_labels(rows, r, kTriggerLabels);
      labels.emplace_back("shared",
                          tables_of[rows.text(r, "funcid")].size() > 1 ? "true" : "false");
      emit(out, kTriggerInfo, labels, 1);
    }
    double per_table = 0;
    for (const auto& [func, tables] : tables_of) per_table += tables.size() == 1 ? 1 : 0;
    emit(out, kTriggerFunctions, {}, static_cast<double>(tables_of.size()));
    emit(out, kPerTable, {}, per_table);
  }

  // Unused functions are looked for in the schemas of the tables that have the column and pass
  // the target's patterns (a function belongs to no table).
  static void emit_column_triggers(SnapshotBuilder& out, Session& session, CollectContext& ctx) {
    const std::string column = string_option(ctx, kUpdatedAtColumn);
    const Rows tables = selected_unlocked_rows(
        selected_rows(session.query(kColumnTriggers, {column}), ctx.target), ctx);
    declare(out, {kColumnTriggerCount, kUnusedInfo});
    std::set<std::string> schemas;
    for (std::size_t r = 0; r < tables.size(); ++r) {
      schemas.insert(tables.text(r, "schemaname"));
      emit(out, kColumnTriggerCount, row_labels(tables, r, kTableLabels),
           tables.number(r, "triggers").value_or(0));
    }
    const Rows unused = session.query(kUnusedFunctions, {column});
    double count = 0;
    for (std::size_t r = 0; r < unused.size(); ++r) {
      if (!schemas.count(unused.text(r, "schemaname"))) continue;
      emit(out, kUnusedInfo, row_labels(unused, r, kUnusedLabels), 1);
      ++count;
    }
    emit(out, kUnusedCount, {}, count);
  }
};

}  // namespace

CollectorCode functions_code() {
  return {.options = {kUpdatedAtColumn}, .make = make_collector<FunctionsCollector>};
}

}  // namespace pge
