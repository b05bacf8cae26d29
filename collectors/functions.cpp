// Function cost and the updated_at trigger consolidation.
// pg_stat_user_functions counts calls and time only when track_functions is 'pl' or 'all'; with
// 'none' the view is empty, so pg_settings_track_functions_enabled 0 tells "not measured" apart
// from "not called". Overloads are told apart by the `signature` label (identity arguments).
// The seed replaces 15+ per-table updated_at trigger functions by one shared function: triggers
// whose name or function name matches the target's `updated_at_trigger` pattern are listed, each
// with shared="true" when its function serves more than one table, and the number of distinct
// functions is the progress measure (goal: 1). Catalog reads only; triggers of tables under ACCESS
// EXCLUSIVE (a migration replacing them) are left out this cycle and counted as lock skips.
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

constexpr std::array<const char*, 5> kTriggerLabels{"datname", "schemaname", "relname", "trigger",
                                                    "function"};

class FunctionsCollector final : public Collector {
 public:
  Snapshot collect(Session& session, CollectContext& ctx) override {
    SnapshotBuilder out;
    emit_rows(out, session.query(kFunctions), kFunctionMetrics, kFunctionLabels);
    emit_rows(out, session.query(kTrackFunctions), kSettingMetrics, {});
    emit_triggers(out, session.query(kTriggers), ctx);
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
};

}  // namespace

CollectorInfo functions_info() {
  return {.name = "functions",
          .help =
              "pg_stat_user_functions calls and times, track_functions, updated_at trigger "
              "consolidation.",
          .default_interval = Seconds{60},
          .default_timeout = Seconds{10},
          .make = make_collector<FunctionsCollector>};
}

}  // namespace pge
