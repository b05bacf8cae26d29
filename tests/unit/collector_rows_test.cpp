// Collectors fed canned rows through a fake Session that answers per query: filtering, lock skips,
// NULL handling and the logic of multi-query collectors, without a database.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "collectors/registry.h"
#include "tests/support/test_support.h"

namespace pge {
namespace {

Rows table_rows() {
  std::vector<std::string> cols{"datname", "schemaname", "relname", "locked"};
  const char* numeric[] = {"seq_scan",         "seq_tup_read",        "idx_scan",
                           "idx_tup_fetch",    "n_tup_ins",           "n_tup_upd",
                           "n_tup_del",        "n_tup_hot_upd",       "n_live_tup",
                           "n_dead_tup",       "n_mod_since_analyze", "n_ins_since_vacuum",
                           "last_vacuum",      "last_autovacuum",     "last_analyze",
                           "last_autoanalyze", "vacuum_count",        "autovacuum_count",
                           "analyze_count",    "autoanalyze_count",   "heap_blks_read",
                           "heap_blks_hit",    "idx_blks_read",       "idx_blks_hit",
                           "toast_blks_read",  "toast_blks_hit",      "tidx_blks_read",
                           "tidx_blks_hit",    "table_size",          "index_size",
                           "toast_size",       "total_size"};
  for (const char* c : numeric) cols.emplace_back(c);
  auto row = [&](const char* schema, const char* rel, bool locked) {
    std::vector<Value> r{Value{"db"}, Value{schema}, Value{rel}, Value{locked ? "t" : "f"}};
    for (std::size_t i = 4; i < cols.size(); ++i) {
      const bool size = cols[i].find("size") != std::string::npos;
      r.push_back(locked && size ? Value{} : Value{"7"});
    }
    return r;
  };
  return Rows(cols, {row("public", "kept", false), row("public", "kept_archive", false),
                     row("public", "migrating", true), row("audit", "other", false)});
}

TEST(TablesCollectorRows, FiltersTablesCountsLockSkipsAndOmitsSizesOfLockedTables) {
  Target target = test::make_target("host=unused");
  target.include_schemas.push_back({"^public$", std::regex("^public$", std::regex::extended)});
  target.exclude_tables.push_back({"_archive$", std::regex("_archive$", std::regex::extended)});
  CollectorSettings settings;
  CollectContext ctx{target, settings, std::chrono::system_clock::now()};
  test::FakeSession session;
  session.on("FROM pg_stat_user_tables", table_rows());
  Snapshot s = find_collector("tables")->code.make()->collect(session, ctx);
  EXPECT_EQ(test::count_series(s, "pg_stat_user_tables_n_live_tup"), 2u);  // kept, migrating
  EXPECT_EQ(test::value(s, "pg_stat_user_tables_total_size_bytes", {{"relname", "kept"}}), 7);
  EXPECT_FALSE(
      test::find_value(s, "pg_stat_user_tables_total_size_bytes", {{"relname", "migrating"}}));
  EXPECT_EQ(test::value(s, "pg_stat_user_tables_seq_scan_total", {{"relname", "migrating"}}), 7);
  EXPECT_EQ(ctx.lock_skips, 1);
}

// A collector fed by `session`, with a target without filters and default settings.
class CollectorRows : public ::testing::Test {
 protected:
  Snapshot collect(const std::string& collector) {
    return find_collector(collector)->code.make()->collect(session, ctx);
  }

  Target target = test::make_target("host=unused");
  CollectorSettings settings;
  CollectContext ctx{target, settings, std::chrono::system_clock::now()};
  test::FakeSession session;
};

TEST_F(CollectorRows, ActivityAnswersEachOfItsThreeQueriesWithItsOwnFamilies) {
  session.on("WITH states(state)",
             test::make_rows({"datname", "state", "count", "max_tx_duration"},
                             {{"db", "active", "3", "1.5"}, {"db", "idle", "2", "0"}}));
  session.on("AS oldest_xact_age", test::make_rows({"datname", "oldest_xact_age", "longest_query",
                                                    "waiting_on_locks", "oldest_xmin_age"},
                                                   {{"db", "42", "7", "1", "NULL"}}));
  session.on("LEFT JOIN pg_locks",
             test::make_rows({"datname", "mode", "count"},
                             {{"db", "sharelock", "2"}, {"db", "sireadlock", "0"}}));
  Snapshot s = collect("activity");
  EXPECT_EQ(session.queries().size(), 3u);
  EXPECT_EQ(test::value(s, "pg_stat_activity_connections", {{"state", "active"}}), 3);
  EXPECT_EQ(test::value(s, "pg_stat_activity_max_tx_duration", {{"state", "active"}}), 1.5);
  EXPECT_EQ(test::value(s, "pg_stat_activity_oldest_xact_age_seconds", {{"datname", "db"}}), 42);
  EXPECT_EQ(test::value(s, "pg_stat_activity_waiting_on_locks"), 1);
  EXPECT_FALSE(test::find_value(s, "pg_stat_activity_oldest_xmin_age"));  // NULL: no series
  EXPECT_EQ(test::value(s, "pg_locks", {{"mode", "sharelock"}}), 2);
  EXPECT_EQ(test::value(s, "pg_locks", {{"mode", "sireadlock"}}), 0);
}

TEST_F(CollectorRows, IoReadsNoPgStatIoFromAServerBeforeSixteen) {
  const std::vector<std::string> columns{"num_timed",
                                         "num_requested",
                                         "restartpoints_timed",
                                         "restartpoints_req",
                                         "restartpoints_done",
                                         "write_time",
                                         "sync_time",
                                         "buffers_written",
                                         "buffers_clean",
                                         "maxwritten_clean",
                                         "buffers_alloc",
                                         "buffers_backend",
                                         "buffers_backend_fsync"};
  session.on("FROM pg_stat_bgwriter",
             test::make_rows(columns, {{"4", "1", "NULL", "NULL", "NULL", "2500", "500", "9", "3",
                                        "0", "12", "5", "0"}}));
  Snapshot s = collect("io");  // the fake server is 15.2: a pg_stat_io query would be refused
  EXPECT_EQ(session.queries().size(), 1u);
  EXPECT_EQ(test::value(s, "pg_stat_checkpointer_num_timed_total"), 4);
  EXPECT_DOUBLE_EQ(test::value(s, "pg_stat_checkpointer_write_time_seconds_total"), 2.5);
  EXPECT_FALSE(test::find_value(s, "pg_stat_checkpointer_restartpoints_done_total"));
  EXPECT_EQ(test::count_series(s, "pg_stat_io_reads_total"), 0u);
}

TEST_F(CollectorRows, MaintenanceLeavesOutLockedTablesAndCountsThem) {
  session.on(
      "FROM pg_stat_user_tables",
      test::make_rows(
          {"datname", "schemaname", "relname", "locked", "dead_ratio", "frozen_xid_age",
           "frozen_mxid_age", "vacuum_threshold", "analyze_threshold", "insert_threshold",
           "autovacuum_enabled", "vacuum_due", "analyze_due"},
          {{"db", "public", "calm", "f", "0.25", "100", "1", "50", "25", "NULL", "1", "0", "1"},
           {"db", "public", "migrating", "t", "0.5", "200", "2", "50", "25", "1000", "1", "1",
            "1"}}));
  session.on("FROM pg_stat_progress_vacuum",
             test::make_rows({"pid", "datname", "schemaname", "relname", "phase", "heap_blks_total",
                              "heap_blks_scanned", "heap_blks_vacuumed", "index_vacuum_count",
                              "max_dead_tuples", "num_dead_tuples", "max_dead_tuple_bytes",
                              "dead_tuple_bytes", "indexes_total", "indexes_processed", "ratio"},
                             {}));
  session.on("FROM pg_stat_progress_create_index",
             test::make_rows(
                 {"pid", "datname", "schemaname", "relname", "indexrelname", "command", "phase",
                  "lockers_total", "lockers_done", "blocks_total", "blocks_done", "tuples_total",
                  "tuples_done", "partitions_total", "partitions_done", "ratio"},
                 {}));
  Snapshot s = collect("maintenance");
  EXPECT_EQ(session.queries().size(), 3u);
  EXPECT_EQ(test::value(s, "pg_stat_user_tables_dead_tuple_ratio", {{"relname", "calm"}}), 0.25);
  EXPECT_EQ(test::count_series(s, "pg_stat_user_tables_dead_tuple_ratio"), 1u);
  EXPECT_FALSE(test::find_value(s, "pg_table_autovacuum_vacuum_insert_threshold_rows"));
  EXPECT_EQ(ctx.lock_skips, 1);
}

Rows trigger_rows() {
  return test::make_rows(
      {"datname", "schemaname", "relname", "trigger", "funcid", "function", "locked"},
      {{"db", "public", "a", "set_updated_at", "10", "touch_updated_at", "f"},
       {"db", "public", "b", "set_updated_at", "10", "touch_updated_at", "f"},
       {"db", "public", "c", "c_updated_at", "11", "c_touch", "f"},
       {"db", "public", "d", "audit", "12", "audit_row", "f"},
       {"db", "public", "e", "e_updated_at", "13", "e_touch", "t"}});
}

TEST_F(CollectorRows, FunctionsCountSharedAndSingleTableUpdatedAtFunctionsAndSkipLockedTables) {
  // Registered first: these two statements also read pg_trigger.
  session.on("a.attname = $1",
             test::make_rows({"datname", "schemaname", "relname", "locked", "triggers"},
                             {{"db", "public", "a", "f", "1"},
                              {"db", "public", "b", "f", "0"},
                              {"db", "public", "e", "t", "2"}}));
  session.on("p.prorettype = 'trigger'::regtype",
             test::make_rows({"datname", "schemaname", "function", "signature"},
                             {{"db", "public", "old_touch", ""}, {"db", "audit", "stamp", ""}}));
  session.on("FROM pg_stat_user_functions",
             test::make_rows({"datname", "schemaname", "funcname", "signature", "calls",
                              "total_time", "self_time"},
                             {{"db", "public", "touch_updated_at", "", "4", "2000", "1500"}}));
  session.on("current_setting('track_functions')", test::make_rows({"enabled"}, {{"1"}}));
  session.on("FROM pg_trigger", trigger_rows());
  Snapshot s = collect("functions");
  EXPECT_EQ(session.queries().size(), 5u);
  EXPECT_EQ(test::value(s, "pg_stat_user_functions_calls_total"), 4);
  EXPECT_DOUBLE_EQ(test::value(s, "pg_stat_user_functions_total_time_seconds_total"), 2);
  EXPECT_EQ(test::value(s, "pg_settings_track_functions_enabled"), 1);
  EXPECT_EQ(test::value(s, "pg_updated_at_trigger_info", {{"relname", "a"}, {"shared", "true"}}),
            1);
  EXPECT_EQ(test::value(s, "pg_updated_at_trigger_info", {{"relname", "c"}, {"shared", "false"}}),
            1);
  EXPECT_EQ(test::count_series(s, "pg_updated_at_trigger_info"), 3u);  // not audit, not locked e
  EXPECT_EQ(test::value(s, "pg_updated_at_trigger_functions"), 2);
  EXPECT_EQ(test::value(s, "pg_updated_at_trigger_per_table_functions"), 1);
  EXPECT_EQ(test::value(s, "pg_updated_at_column_triggers", {{"relname", "b"}}), 0);
  EXPECT_EQ(test::count_series(s, "pg_updated_at_column_triggers"), 2u);  // not locked e
  // Unused functions only in the schemas of the tables with the column.
  EXPECT_EQ(test::value(s, "pg_updated_at_unused_functions"), 1);
  EXPECT_EQ(test::value(s, "pg_updated_at_unused_function_info", {{"function", "old_touch"}}), 1);
  EXPECT_EQ(ctx.lock_skips, 2);
}

TEST(FakeSession, RefusesAQueryItWasNotToldAbout) {
  test::FakeSession session;
  session.on("FROM pg_stat_user_functions", Rows{});
  EXPECT_THROW(session.query("SELECT 1"), std::logic_error);
  session.fail("FROM pg_class", "permission denied for table pg_class", "42501");
  std::string error;
  EXPECT_FALSE(session.try_query("SELECT * FROM pg_class", &error));
  EXPECT_EQ(error, "permission denied for table pg_class");
  EXPECT_THROW(session.query("SELECT * FROM pg_class"), QueryError);
}

TEST(EmitRows, OneSeriesPerNonNullValueWithColumnLabelsAndScale) {
  Rows rows({"relname", "seq", "ms"},
            {{Value{"a"}, Value{"5"}, Value{"1500"}}, {Value{"b"}, std::nullopt, Value{"2"}}});
  constexpr std::array<MetricSpec, 2> specs{{
      {"pg_seq_total", kCounter, "seq", "help"},
      {"pg_time_seconds_total", kCounter, "ms", "help", 0.001},
  }};
  constexpr std::array<const char*, 1> labels{"relname"};
  SnapshotBuilder b;
  emit_rows(b, rows, specs, labels);
  Snapshot s = b.take();
  ASSERT_EQ(s.families.size(), 2u);
  EXPECT_EQ(s.families[0].metric.size(), 1u);  // NULL for b skipped
  EXPECT_DOUBLE_EQ(s.families[1].metric[0].counter.value, 1.5);
  EXPECT_EQ(s.series(), 3u);
}

// pg_stat_statements as the statements collector reads it: three entries of one role with `calls`
// calls each: an application's select, one of the exporter's own (marked) and one whose text is
// gone.
test::FakeSession statements_session(int calls) {
  test::FakeSession session;
  session.on("SET LOCAL extra_float_digits", {});
  session.on("pg_has_role",
             test::make_rows({"datname", "ext_schema", "read_all_stats", "track_planning"},
                             {{"db", "public", "t", "off"}}));
  std::vector<std::vector<std::string>> entries;
  const std::string n = std::to_string(calls), ms = std::to_string(calls * 2);
  for (const char* queryid : {"1", "2", "3"}) {
    entries.push_back({"3", "0", "", "10", "5", "t", queryid, n, n, ms, "2", "0", "2", "2", "0",
                       "0", "0", "0", "NULL"});
  }
  session.on(
      "pg_stat_statements(false)",
      test::make_rows({"entries", "dealloc", "stats_reset", "userid", "dbid", "toplevel", "queryid",
                       "calls", "rows", "total_exec_time", "mean_exec_time", "stddev_exec_time",
                       "min_exec_time", "max_exec_time", "plans", "total_plan_time",
                       "mean_plan_time", "stddev_plan_time", "minmax_since"},
                      entries));
  session.on("pg_stat_statements(true)",
             test::make_rows(
                 {"userid", "queryid", "query"},
                 {{"10", "1", "SELECT * FROM app_table WHERE id = $1"},
                  {"10", "2", std::string(kStatementMarker) + " SELECT * FROM pg_stat_user_tables"},
                  {"10", "3", "NULL"}}));
  return session;
}

// Issue 14 item 8: one role for the application and the exporter (postgres on Supabase).
TEST_F(CollectorRows, StatementsLeaveOutTheExportersMarkedStatementsAndCountTextlessOnesApart) {
  settings.numbers["full_interval"] = 0;
  auto collector = find_collector("statements")->code.make();
  test::FakeSession first = statements_session(10), second = statements_session(15);
  collector->collect(first, ctx);  // baseline
  Snapshot s = collector->collect(second, ctx);
  EXPECT_EQ(
      test::value(s, "pg_stat_statements_calls_total", {{"command", "select"}, {"class", "other"}}),
      5);
  EXPECT_EQ(test::count_series(s, "pg_stat_statements_calls_total"), 1u);  // not the marked one
  EXPECT_EQ(test::value(s, "pg_stat_statements_unattributed_calls_total"), 5);
  // Texts are read once per entry, the textless one included.
  EXPECT_EQ(std::count_if(
                second.queries().begin(), second.queries().end(),
                [](const std::string& q) { return q.find("pg_stat_statements(true)") != q.npos; }),
            0);
}

}  // namespace
}  // namespace pge
