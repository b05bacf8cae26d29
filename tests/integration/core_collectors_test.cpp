// The first collectors against a real PostgreSQL: each value compared with what SQL says.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace pge::test {
namespace {

TEST(TablesCollector, TotalBytesEqualPgTotalRelationSize) {
  TestDatabase db;
  CollectorRunner runner("tables", make_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  for (const char* table : {"context_events", "roadmap_items", "calendar_events"}) {
    const double truth =
        db.scalar(std::string("SELECT pg_total_relation_size('public.") + table + "')");
    EXPECT_EQ(value(s, "pg_stat_user_tables_total_size_bytes", {{"relname", table}}), truth)
        << table;
    EXPECT_EQ(value(s, "pg_stat_user_tables_index_size_bytes", {{"relname", table}}),
              db.scalar(std::string("SELECT pg_indexes_size('public.") + table + "')"));
  }
  EXPECT_EQ(
      value(s, "pg_stat_user_tables_n_live_tup",
            {{"relname", "roadmap_items"}, {"datname", db.name()}}),
      db.scalar("SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'roadmap_items'"));
}

// Size functions stat every file, so sizes are read every size_interval and served in between.
TEST(TablesCollector, ReadsSizesEverySizeIntervalAndServesTheLastOnesInBetween) {
  TestDatabase db;
  db.exec("CREATE TABLE public.growing (id int primary key, v text)");
  db.exec("GRANT SELECT ON public.growing TO pge_exporter");
  auto settings = test::default_settings("tables");
  settings.numbers["size_interval"] = 3600;
  CollectorRunner hourly("tables", make_target(db.dsn("pge_exporter")), settings);
  const Labels growing{{"relname", "growing"}};
  const double before = db.scalar("SELECT pg_total_relation_size('public.growing')");
  EXPECT_EQ(value(hourly.run(), "pg_stat_user_tables_total_size_bytes", growing), before);
  db.exec("INSERT INTO public.growing SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g");
  const double after = db.scalar("SELECT pg_total_relation_size('public.growing')");
  ASSERT_GT(after, before);
  EXPECT_EQ(value(hourly.run(), "pg_stat_user_tables_total_size_bytes", growing), before);
  settings.numbers["size_interval"] = 0;
  CollectorRunner every_run("tables", make_target(db.dsn("pge_exporter")), settings);
  every_run.run();
  Snapshot s = every_run.run();
  EXPECT_EQ(value(s, "pg_stat_user_tables_total_size_bytes", growing), after);
  EXPECT_EQ(value(s, "pg_stat_user_tables_table_size_bytes", growing) +
                value(s, "pg_stat_user_tables_index_size_bytes", growing),
            after);
}

TEST(TablesCollector, CountsInsertsAndSequentialScans) {
  TestDatabase db;
  db.exec("CREATE TABLE public.counted (id int primary key, v text)");
  db.exec("INSERT INTO public.counted SELECT g, 'x' FROM generate_series(1, 25) g");
  for (int i = 0; i < 3; ++i) db.exec("SELECT count(*) FROM public.counted");
  db.exec("GRANT SELECT ON public.counted TO pge_exporter");
  CollectorRunner runner("tables", make_target(db.dsn("pge_exporter")));
  ASSERT_TRUE(eventually_value(
      runner, "pg_stat_user_tables_n_tup_ins_total", {{"relname", "counted"}},
      [](double ins) { return ins == 25; }, 10));
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_stat_user_tables_seq_scan_total", {{"relname", "counted"}}),
            db.scalar("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'counted'"));
  EXPECT_GE(value(s, "pg_stat_user_tables_seq_scan_total", {{"relname", "counted"}}), 3);
}

TEST(IndexesCollector, IdxScanOfANamedIndexCountsEachLookup) {
  TestDatabase db;
  db.exec("CREATE TABLE public.lookups (id int primary key, k int)");
  db.exec("INSERT INTO public.lookups SELECT g, g % 100 FROM generate_series(1, 5000) g");
  db.exec("CREATE INDEX lookups_k_idx ON public.lookups (k)");
  db.exec("ANALYZE public.lookups");
  const int n = 7;
  for (int i = 0; i < n; ++i) {
    db.exec(
        "SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT * FROM public.lookups WHERE "
        "k = " +
        std::to_string(i));
  }
  CollectorRunner runner("indexes", make_target(db.dsn("pge_exporter")));
  const Labels idx{{"indexrelname", "lookups_k_idx"}};
  ASSERT_TRUE(eventually_value(
      runner, "pg_stat_user_indexes_idx_scan_total", idx, [&](double v) { return v == n; }, 10))
      << "idx_scan never reached " << n;
  Snapshot s = runner.run();
  EXPECT_EQ(
      value(s, "pg_stat_user_indexes_idx_tup_read_total", idx),
      db.scalar(
          "SELECT idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = 'lookups_k_idx'"));
  EXPECT_EQ(value(s, "pg_stat_user_indexes_size_bytes", idx),
            db.scalar("SELECT pg_relation_size('public.lookups_k_idx')"));
  EXPECT_EQ(value(s, "pg_index_valid", idx), 1);
  EXPECT_EQ(value(s, "pg_index_info",
                  {{"indexrelname", "lookups_pkey"},
                   {"primary", "true"},
                   {"access_method", "btree"},
                   {"unique", "true"}}),
            1);
}

TEST(IndexesCollector, FailedCreateIndexConcurrentlyIsReportedInvalid) {
  TestDatabase db;
  db.exec("CREATE TABLE public.dupes (v int)");
  db.exec("INSERT INTO public.dupes VALUES (1), (1)");
  EXPECT_THROW(db.exec("CREATE UNIQUE INDEX CONCURRENTLY dupes_v_key ON public.dupes (v)"),
               std::exception);
  ASSERT_EQ(db.scalar("SELECT count(*) FROM pg_index WHERE NOT indisvalid AND indexrelid = "
                      "'public.dupes_v_key'::regclass"),
            1);
  CollectorRunner runner("indexes", make_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_index_valid", {{"indexrelname", "dupes_v_key"}}), 0);
  EXPECT_EQ(value(s, "pg_index_valid", {{"indexrelname", "roadmap_items_pkey"}}), 1);
}

TEST(IndexesCollector, GinIndexesOnMetadataCarryTheirAccessMethod) {
  TestDatabase db;
  CollectorRunner runner("indexes", make_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  const double gin = db.scalar(
      "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON "
      "a.oid = c.relam "
      "WHERE i.indrelid = 'public.context_events'::regclass AND a.amname = 'gin'");
  EXPECT_GE(gin, 3);
  EXPECT_EQ(test::count_series(s, "pg_index_info",
                               {{"relname", "context_events"}, {"access_method", "gin"}}),
            gin);
}

TEST(DatabaseCollector, CountersAndSizeMatchPgStatDatabase) {
  TestDatabase db;
  CollectorRunner runner("database", make_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  const Labels l{{"datname", db.name()}};
  EXPECT_EQ(value(s, "pg_database_size_bytes", l),
            db.scalar("SELECT pg_database_size(current_database())"));
  const double commits = value(s, "pg_stat_database_xact_commit_total", l);
  EXPECT_GT(commits, 0);
  EXPECT_LE(
      commits,
      db.scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"));
}

TEST(ActivityCollector, SeesAnIdleInTransactionSessionAndItsAge) {
  TestDatabase db;
  OpenTransaction idle(db.dsn(), "SELECT pg_sleep(1.1)");
  CollectorRunner runner("activity", make_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_stat_activity_connections", {{"state", "idle in transaction"}}), 1);
  EXPECT_GE(value(s, "pg_stat_activity_oldest_xact_age_seconds"), 1.0);
  EXPECT_GE(value(s, "pg_stat_activity_max_tx_duration", {{"state", "idle in transaction"}}), 1.0);
}

TEST(ActivityCollector, CountsLocksByModeAsPgLocksHasThem) {
  TestDatabase db;
  OpenTransaction holder(db.dsn(), "LOCK TABLE public.context_events IN SHARE MODE");
  const std::string in_db =
      "FROM pg_locks WHERE database = (SELECT oid FROM pg_database WHERE datname = "
      "current_database()) AND pid IS DISTINCT FROM pg_backend_pid()";
  CollectorRunner runner("activity", make_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_locks", {{"mode", "sharelock"}}),
            db.scalar("SELECT count(*) " + in_db + " AND mode = 'ShareLock'"));
  EXPECT_EQ(value(s, "pg_locks", {{"mode", "sharelock"}}), 1);
  EXPECT_EQ(value(s, "pg_locks", {{"mode", "accessexclusivelock"}}), 0);
  EXPECT_EQ(test::count_series(s, "pg_locks", {{"datname", db.name()}}), 9);
}

TEST(ServerCollector, ReportsVersionAndStartTime) {
  TestDatabase db;
  CollectorRunner runner("server", make_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_server_version_num"), db.scalar("SHOW server_version_num"));
  EXPECT_EQ(value(s, "pg_replication_is_replica"), 0);
  EXPECT_NEAR(value(s, "pg_postmaster_start_time_seconds"),
              db.scalar("SELECT extract(epoch FROM pg_postmaster_start_time())"), 0.001);
  EXPECT_EQ(value(s, "pg_replication_lag_seconds"), 0);
}

TEST(ServerCollector, SettingsMatchPgSettings) {
  TestDatabase db;
  CollectorRunner runner("server", make_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  for (const char* name :
       {"max_connections", "superuser_reserved_connections", "max_locks_per_transaction",
        "autovacuum_vacuum_threshold", "autovacuum_vacuum_scale_factor"}) {
    EXPECT_EQ(value(s, std::string("pg_settings_") + name),
              db.scalar(std::string("SELECT setting::float8 FROM pg_settings WHERE name = '") +
                        name + "'"))
        << name;
  }
}

TEST(ServerCollector, ReportsEachReplicationSlotAndWhetherItIsActive) {
  TestDatabase db;
  const std::string slot = db.name() + "_slot";
  db.exec("SELECT pg_create_physical_replication_slot('" + slot + "')");
  CollectorRunner runner("server", make_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  db.exec("SELECT pg_drop_replication_slot('" + slot + "')");
  EXPECT_EQ(value(s, "pg_replication_slots_active", {{"slot_name", slot}, {"database", ""}}), 0);
}

TEST(Session, CollectorTransactionsAreReadOnlyWithTimeouts) {
  TestDatabase db;
  Connection conn(db.dsn("pge_exporter"), Seconds{5}, Seconds{1});
  std::string error;
  ASSERT_TRUE(conn.ensure_open(std::chrono::steady_clock::now(), &error)) << error;
  conn.run({Seconds{1.5}, Seconds{0.25}, true}, [](Session& s) {
    EXPECT_EQ(s.query("SHOW statement_timeout").text(0, "statement_timeout"), "1500ms");
    EXPECT_EQ(s.query("SHOW lock_timeout").text(0, "lock_timeout"), "250ms");
    EXPECT_EQ(s.query("SHOW transaction_read_only").text(0, "transaction_read_only"), "on");
    EXPECT_EQ(s.query("SELECT current_setting('application_name') AS a").text(0, "a"),
              "pg_evolution_exporter");
    EXPECT_EQ(s.query("SELECT count(*) AS n FROM pg_prepared_statements").text(0, "n"), "0");
  });
  try {
    conn.run({Seconds{0.2}, Seconds{0.25}, true},
             [](Session& s) { s.query("SELECT pg_sleep(2)"); });
    FAIL() << "statement_timeout did not fire";
  } catch (const QueryError& e) {
    EXPECT_TRUE(e.is_statement_timeout()) << e.sqlstate();
  }
  conn.run({Seconds{1}, Seconds{0.25}, true}, [](Session& s) {
    std::string error;
    EXPECT_FALSE(s.try_query("SELECT * FROM no_such_table", &error));
    EXPECT_THAT(error, ::testing::HasSubstr("no_such_table"));
    EXPECT_EQ(s.query("SELECT 1 AS one").text(0, "one"), "1");  // the transaction survived
  });
}

TEST(Session, ExporterRoleCannotWrite) {
  TestDatabase db;
  Connection conn(db.dsn("pge_exporter"), Seconds{5}, Seconds{1});
  ASSERT_TRUE(conn.ensure_open(std::chrono::steady_clock::now(), nullptr));
  try {
    conn.run({Seconds{1}, Seconds{0.25}, true},
             [](Session& s) { s.query("CREATE TABLE public.should_not_exist (x int)"); });
    FAIL() << "a write succeeded in a collector transaction";
  } catch (const QueryError& e) {
    EXPECT_EQ(e.sqlstate(), "25006");  // read_only_sql_transaction
  }
}

}  // namespace
}  // namespace pge::test
