// The migration collectors (promoted_columns, partitions, growth, matviews, cron_jobs) against the
// reference database: each metric compared with what SQL says, before and after a controlled
// change.
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "collectors/registry.h"
#include "tests/support/test_support.h"

namespace pge::test {
namespace {

// The SharedMinds target from config/sharedminds.toml, pointed at `dsn` (its write probe too: these
// tests never run it).
Target sharedminds_target(const std::string& dsn) {
  setenv("SHAREDMINDS_DSN", dsn.c_str(), 1);
  setenv("SHAREDMINDS_PROBE_DSN", dsn.c_str(), 1);
  ConfigResult r = load_config(test::source_dir() + "/config/sharedminds.toml", known_collectors());
  if (!r.config)
    throw std::runtime_error("config/sharedminds.toml does not load: " + r.errors.at(0).render());
  Target t = r.config->targets.at(0);
  t.dsn = dsn;
  return t;
}

// promoted_columns running its full check on every run (no interval, no time budget).
CollectorSettings full_check_every_run() {
  CollectorSettings s = test::default_settings("promoted_columns");
  s.numbers["full_check_interval"] = 0;
  s.numbers["full_check_budget_ratio"] = 0;
  return s;
}

const Labels kSourceType{{"relname", "context_events"}, {"column", "source_type"}};

Labels column(const std::string& name) { return {{"relname", "context_events"}, {"column", name}}; }

double truth(const TestDatabase& db, const std::string& column_name, const std::string& count) {
  return db.scalar("SELECT " + count + " FROM ops.promotion_check WHERE column_name = '" +
                   column_name + "'");
}

// ---------------------------------------------------------------------------------------------
// promoted_columns
// ---------------------------------------------------------------------------------------------

TEST(PromotedColumns, CountsMatchTheReferenceCheckForEveryColumn) {
  TestDatabase db;
  CollectorRunner runner("promoted_columns", sharedminds_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  for (const char* c : {"source_type", "source_roadmap_item_id", "source_itinerary_item_id"}) {
    EXPECT_EQ(value(s, "pg_promoted_column_missing_rows", column(c)), truth(db, c, "missing")) << c;
    EXPECT_EQ(value(s, "pg_promoted_column_mismatch_rows", column(c)), truth(db, c, "mismatch"))
        << c;
    EXPECT_EQ(value(s, "pg_promoted_column_invalid_rows", column(c)), truth(db, c, "invalid")) << c;
    EXPECT_DOUBLE_EQ(
        value(s, "pg_promoted_column_null_ratio", {{"column", c}, {"method", "measured"}}),
        db.scalar(std::string("SELECT avg((") + c + " IS NULL)::int) FROM context_events"));
    EXPECT_NEAR(value(s, "pg_promoted_column_null_ratio", {{"column", c}, {"method", "pg_stats"}}),
                db.scalar(std::string("SELECT null_frac FROM pg_stats WHERE tablename = "
                                      "'context_events' AND attname = '") +
                          c + "'"),
                1e-6);
  }
  // Ratio denominator: rows whose JSON value could be backfilled (missing + correctly populated).
  const double valid_sources = db.scalar(
      "SELECT count(*) FROM context_events WHERE metadata->>'source' IN ('guardrails', 'trip', "
      "'planner')");
  EXPECT_DOUBLE_EQ(value(s, "pg_promoted_column_missing_ratio", kSourceType),
                   truth(db, "source_type", "missing") / valid_sources);
  EXPECT_EQ(value(s, "pg_promoted_column_checked_rows", kSourceType),
            db.scalar("SELECT count(*) FROM context_events"));
  EXPECT_EQ(
      value(s, "pg_promoted_column_constraint_valid",
            {{"column", "source_type"}, {"constraint", "check_source_type"}, {"type", "check"}}),
      1);
  EXPECT_EQ(value(s, "pg_promoted_column_constraint_valid",
                  {{"column", "source_roadmap_item_id"},
                   {"constraint", "fk_context_events_source_roadmap_item"},
                   {"type", "foreign_key"}}),
            1);
  EXPECT_EQ(value(s, "pg_promoted_column_index_valid",
                  {{"indexrelname", "idx_context_events_source_type"}}),
            1);
  EXPECT_EQ(value(s, "pg_promoted_column_cutover_threshold_ratio", kSourceType), 0.01);
  // The reference data has 5 % missing and 3 mismatches per column: no column is ready.
  EXPECT_EQ(value(s, "pg_promoted_column_cutover_ready", kSourceType), 0);
  // The reference schema has a BRIN index on created_at: recent rows are checked every run
  // (sharedminds.toml: recent_window = 15m).
  EXPECT_EQ(value(s, "pg_promoted_column_timestamp_indexed", kSourceType), 1);
  EXPECT_EQ(
      value(s, "pg_promoted_column_recent_rows", kSourceType),
      db.scalar(
          "SELECT count(*) FROM context_events WHERE created_at > now() - interval '15 minutes'"));
}

TEST(PromotedColumns, BackfillOfTenRowsDropsMissingByTenAndOneMismatchAddsOne) {
  TestDatabase db;
  CollectorRunner runner("promoted_columns", sharedminds_target(db.dsn("pge_exporter")),
                         full_check_every_run());
  const double before_missing = value(runner.run(), "pg_promoted_column_missing_rows", kSourceType);
  const double before_mismatch =
      value(runner.run(), "pg_promoted_column_mismatch_rows", kSourceType);
  db.exec(
      "UPDATE context_events SET source_type = metadata->>'source' WHERE id IN ("
      " SELECT id FROM context_events WHERE source_type IS NULL"
      "  AND metadata->>'source' IN ('guardrails', 'trip', 'planner') LIMIT 10)");
  db.exec(
      "UPDATE context_events SET source_type = 'trip' WHERE id = ("
      " SELECT id FROM context_events WHERE source_type = 'planner' AND metadata->>'source' = "
      "'planner' LIMIT 1)");
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_promoted_column_missing_rows", kSourceType), before_missing - 10);
  EXPECT_EQ(value(s, "pg_promoted_column_missing_rows", kSourceType),
            truth(db, "source_type", "missing"));
  EXPECT_EQ(value(s, "pg_promoted_column_mismatch_rows", kSourceType), before_mismatch + 1);
  EXPECT_EQ(value(s, "pg_promoted_column_mismatch_rows", kSourceType),
            truth(db, "source_type", "mismatch"));
}

TEST(PromotedColumns, CutoverReadyOnceBackfilledAndNotWhileTheCheckIsNotValid) {
  TestDatabase db;
  db.exec(
      "UPDATE context_events SET source_type = metadata->>'source'"
      " WHERE metadata->>'source' IN ('guardrails', 'trip', 'planner')");
  CollectorRunner runner("promoted_columns", sharedminds_target(db.dsn("pge_exporter")),
                         full_check_every_run());
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_promoted_column_missing_rows", kSourceType), 0);
  EXPECT_EQ(value(s, "pg_promoted_column_mismatch_rows", kSourceType), 0);
  EXPECT_EQ(value(s, "pg_promoted_column_cutover_ready", kSourceType), 1);
  db.exec("ALTER TABLE context_events DROP CONSTRAINT check_source_type");
  db.exec(
      "ALTER TABLE context_events ADD CONSTRAINT check_source_type"
      " CHECK (source_type IN ('guardrails', 'trip', 'planner')) NOT VALID");
  s = runner.run();
  EXPECT_EQ(value(s, "pg_promoted_column_constraint_valid",
                  {{"column", "source_type"}, {"constraint", "check_source_type"}}),
            0);
  EXPECT_EQ(value(s, "pg_promoted_column_cutover_ready", kSourceType), 0);
}

TEST(PromotedColumns, TimeBudgetSpacesOutFullChecks) {
  TestDatabase db;
  CollectorSettings settings = full_check_every_run();
  settings.numbers["full_check_budget_ratio"] = 1e-6;  // any check "costs" more than a day
  CollectorRunner runner("promoted_columns", sharedminds_target(db.dsn("pge_exporter")), settings);
  const double first =
      value(runner.run(), "pg_promoted_column_full_check_timestamp_seconds", kSourceType);
  db.exec(
      "UPDATE context_events SET source_type = metadata->>'source' WHERE source_type IS NULL"
      " AND metadata->>'source' IN ('guardrails', 'trip', 'planner')");
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_promoted_column_full_check_timestamp_seconds", kSourceType), first);
  EXPECT_GT(value(s, "pg_promoted_column_missing_rows", kSourceType),
            0);  // the backfill waits for the next check
  EXPECT_GT(value(s, "pg_promoted_column_full_check_duration_seconds", kSourceType), 0);
}

TEST(PromotedColumns, WriterThatStopsDualWritingShowsInRecentHealthWithoutAFullCheck) {
  TestDatabase db;
  db.exec("CREATE INDEX context_events_created_at_idx ON context_events (created_at)");
  CollectorRunner runner("promoted_columns", sharedminds_target(db.dsn("pge_exporter")));
  Snapshot first = runner.run();
  EXPECT_EQ(value(first, "pg_promoted_column_timestamp_indexed", kSourceType), 1);
  const double checked_at =
      value(first, "pg_promoted_column_full_check_timestamp_seconds", kSourceType);
  const double missing = value(first, "pg_promoted_column_missing_rows", kSourceType);
  EXPECT_EQ(missing, truth(db, "source_type", "missing"));
  const double recent_missing = value(first, "pg_promoted_column_recent_missing_rows", kSourceType);
  const double recent_ratio = value(first, "pg_promoted_column_recent_missing_ratio", kSourceType);
  // 30 rows dual-written, then 20 from an instance that forgot the column.
  const std::string insert =
      "INSERT INTO context_events (context_id, created_by, start_at, metadata, source_type) "
      "SELECT gen_random_uuid(), gen_random_uuid(), now(), '{\"source\": \"trip\"}', ";
  db.exec(insert + "'trip' FROM generate_series(1, 30)");
  db.exec(insert + "NULL FROM generate_series(1, 20)");
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_promoted_column_full_check_timestamp_seconds", kSourceType), checked_at);
  EXPECT_EQ(value(s, "pg_promoted_column_missing_rows", kSourceType), missing + 20);
  EXPECT_EQ(value(s, "pg_promoted_column_missing_rows", kSourceType),
            truth(db, "source_type", "missing"));
  const std::string recent =
      " FROM context_events WHERE created_at >= now() - interval '15 minutes'";
  EXPECT_EQ(value(s, "pg_promoted_column_recent_rows", kSourceType),
            db.scalar("SELECT count(*)" + recent));
  const double ratio =
      db.scalar("SELECT (count(*) FILTER (WHERE source_type IS NULL))::float8 / count(*)" + recent +
                " AND metadata->>'source' IN ('guardrails', 'trip', 'planner')");
  EXPECT_DOUBLE_EQ(value(s, "pg_promoted_column_recent_missing_ratio", kSourceType), ratio);
  EXPECT_EQ(value(s, "pg_promoted_column_recent_missing_rows", kSourceType), recent_missing + 20);
  EXPECT_GT(value(s, "pg_promoted_column_recent_missing_ratio", kSourceType), recent_ratio);
}

// Issue 14 item 3: rollback safety. The rollback reads the JSONB path again, so a row whose column
// is set while its JSON key is gone is a row the rollback loses.
TEST(PromotedColumns, JsonMissingRowsAndTheirRecentShareMatchSql) {
  TestDatabase db;
  db.exec("CREATE INDEX context_events_created_at_idx ON context_events (created_at)");
  CollectorRunner runner("promoted_columns", sharedminds_target(db.dsn("pge_exporter")),
                         full_check_every_run());
  db.exec(
      "UPDATE context_events SET metadata = metadata - 'source' WHERE id IN (SELECT id FROM "
      "context_events"
      " WHERE source_type IS NOT NULL AND created_at < now() - interval '1 day' LIMIT 7)");
  db.exec(
      "INSERT INTO context_events (context_id, created_by, start_at, metadata, source_type)"
      " SELECT gen_random_uuid(), gen_random_uuid(), now(), '{}', 'trip' FROM generate_series(1, "
      "4)");
  Snapshot s = runner.run();
  const std::string json_missing =
      "SELECT count(*) FROM context_events WHERE source_type IS NOT NULL"
      " AND metadata->>'source' IS NULL";
  EXPECT_EQ(value(s, "pg_promoted_column_json_missing_rows", kSourceType), db.scalar(json_missing));
  EXPECT_GE(value(s, "pg_promoted_column_json_missing_rows", kSourceType), 11);
  EXPECT_EQ(value(s, "pg_promoted_column_recent_json_missing_rows", kSourceType),
            db.scalar(json_missing + " AND created_at >= now() - interval '15 minutes'"));
  EXPECT_GE(value(s, "pg_promoted_column_recent_json_missing_rows", kSourceType), 4);
}

// The SQL truth of pg_promoted_column_clean_seconds for source_type: since the oldest row with the
// column set after the newest missing row.
double clean_seconds_truth(const TestDatabase& db) {
  return db.scalar(
      "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM context_events"
      " WHERE source_type IS NOT NULL AND created_at > (SELECT coalesce(max(created_at), "
      "'-infinity')"
      " FROM context_events WHERE source_type IS NULL AND metadata->>'source' IN ('guardrails', "
      "'trip', 'planner'))");
}

const char* const kBackfillSourceType =
    "UPDATE context_events SET source_type = metadata->>'source'"
    " WHERE metadata->>'source' IN ('guardrails', 'trip', 'planner')";

// Between full checks: a missing row after the watermark restarts the clean period at once.
TEST(PromotedColumns, CleanPeriodRunsFromTheOldestSetRowAfterTheNewestMissingOne) {
  TestDatabase db;
  db.exec("CREATE INDEX context_events_created_at_idx ON context_events (created_at)");
  db.exec(kBackfillSourceType);
  CollectorRunner runner("promoted_columns", sharedminds_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  EXPECT_NEAR(value(s, "pg_promoted_column_clean_seconds", kSourceType), clean_seconds_truth(db),
              5);
  EXPECT_GT(clean_seconds_truth(db), 14 * 86400);  // the reference data spans months
  EXPECT_EQ(value(s, "pg_promoted_column_cutover_min_clean_seconds", kSourceType), 14 * 86400);
  EXPECT_EQ(value(s, "pg_promoted_column_cutover_ready", kSourceType), 1);
  const double checked_at =
      value(s, "pg_promoted_column_full_check_timestamp_seconds", kSourceType);

  const std::string insert =
      "INSERT INTO context_events (context_id, created_by, start_at, created_at, metadata,"
      " source_type) VALUES (gen_random_uuid(), gen_random_uuid(), now(), now(),"
      " '{\"source\": \"trip\"}', ";
  db.exec(insert + "NULL)");  // a writer that forgot the column
  s = runner.run();
  EXPECT_EQ(value(s, "pg_promoted_column_full_check_timestamp_seconds", kSourceType), checked_at);
  EXPECT_EQ(value(s, "pg_promoted_column_clean_seconds", kSourceType), 0);
  EXPECT_EQ(clean_seconds_truth(db), 0);
  EXPECT_EQ(value(s, "pg_promoted_column_cutover_ready", kSourceType), 0);

  db.exec(insert + "'trip')");
  s = runner.run();
  EXPECT_NEAR(value(s, "pg_promoted_column_clean_seconds", kSourceType), clean_seconds_truth(db),
              5);
  EXPECT_EQ(value(s, "pg_promoted_column_cutover_ready", kSourceType), 0);
}

// The full check: a gap 20 days ago leaves 20 days of proven dual-write (ready at 14d), one 5 days
// ago does not.
TEST(PromotedColumns, FullCheckFindsTheNewestGapAndCutoverWaitsForTheCleanPeriod) {
  TestDatabase db;
  db.exec(kBackfillSourceType);
  CollectorRunner runner("promoted_columns", sharedminds_target(db.dsn("pge_exporter")),
                         full_check_every_run());
  const std::string gap_at =
      "UPDATE context_events SET source_type = NULL WHERE id = (SELECT id FROM context_events"
      " WHERE source_type IS NOT NULL AND created_at < now() - interval '";
  db.exec(gap_at + "20 days' ORDER BY created_at DESC LIMIT 1)");
  Snapshot s = runner.run();
  EXPECT_NEAR(value(s, "pg_promoted_column_clean_seconds", kSourceType), clean_seconds_truth(db),
              5);
  EXPECT_GT(clean_seconds_truth(db), 14 * 86400);
  EXPECT_LT(clean_seconds_truth(db), 20 * 86400);
  EXPECT_EQ(value(s, "pg_promoted_column_cutover_ready", kSourceType), 1);

  db.exec(gap_at + "5 days' ORDER BY created_at DESC LIMIT 1)");
  s = runner.run();
  EXPECT_NEAR(value(s, "pg_promoted_column_clean_seconds", kSourceType), clean_seconds_truth(db),
              5);
  EXPECT_LT(clean_seconds_truth(db), 5 * 86400);
  EXPECT_EQ(value(s, "pg_promoted_column_cutover_ready", kSourceType), 0);
}

// Cutover needs the configured index (sharedminds.toml: idx_context_events_source_type) valid, and
// no invalid index on the column (a failed CREATE INDEX CONCURRENTLY).
TEST(PromotedColumns, CutoverWaitsForAValidIndexOnTheColumn) {
  TestDatabase db;
  db.exec(kBackfillSourceType);
  CollectorRunner runner("promoted_columns", sharedminds_target(db.dsn("pge_exporter")),
                         full_check_every_run());
  EXPECT_EQ(value(runner.run(), "pg_promoted_column_cutover_ready", kSourceType), 1);
  db.exec("DROP INDEX idx_context_events_source_type");
  EXPECT_EQ(value(runner.run(), "pg_promoted_column_cutover_ready", kSourceType), 0);
  db.exec(
      "CREATE INDEX idx_context_events_source_type ON context_events (source_type) WHERE "
      "source_type IS NOT NULL");
  EXPECT_EQ(value(runner.run(), "pg_promoted_column_cutover_ready", kSourceType), 1);
  EXPECT_ANY_THROW(
      db.exec("CREATE UNIQUE INDEX CONCURRENTLY context_events_source_type_unique"
              " ON context_events (source_type)"));
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_promoted_column_index_valid",
                  {{"indexrelname", "context_events_source_type_unique"}}),
            0);
  EXPECT_EQ(value(s, "pg_promoted_column_cutover_ready", kSourceType), 0);
}

// ---------------------------------------------------------------------------------------------
// partitions
// ---------------------------------------------------------------------------------------------

const Labels kAnalytics{{"relname", "analytics_events"}};

TEST(Partitions, RunwayCountAndRollupsMatchTheCatalog) {
  TestDatabase db;
  CollectorRunner runner("partitions", sharedminds_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_partitioned_table_partitions", kAnalytics),
            db.scalar("SELECT count(*) FROM pg_partition_tree('analytics_events') WHERE isleaf"));
  const double upper = db.scalar(
      "SELECT extract(epoch FROM (date_trunc('month', now()) + interval '3 months'))");  // 2 future
                                                                                         // months
  EXPECT_EQ(value(s, "pg_partitioned_table_last_upper_bound_timestamp_seconds", kAnalytics), upper);
  EXPECT_NEAR(value(s, "pg_partitioned_table_runway_seconds", kAnalytics),
              upper - db.scalar("SELECT extract(epoch FROM now())"), 5);
  EXPECT_EQ(value(s, "pg_partitioned_table_gaps", kAnalytics), 0);
  EXPECT_EQ(value(s, "pg_partitioned_table_default_rows", kAnalytics), 0);
  EXPECT_EQ(value(s, "pg_partitioned_table_invalid_indexes", kAnalytics), 0);
  EXPECT_EQ(value(s, "pg_partitioned_table_live_rows", kAnalytics),
            db.scalar("SELECT sum(n_live_tup) FROM pg_stat_user_tables s JOIN "
                      "pg_partition_tree('analytics_events') p"
                      " ON p.relid = s.relid WHERE p.isleaf"));
  EXPECT_EQ(value(s, "pg_partitioned_table_size_bytes", kAnalytics),
            db.scalar("SELECT sum(pg_total_relation_size(relid)) FROM "
                      "pg_partition_tree('analytics_events') WHERE isleaf"));
  EXPECT_EQ(value(s, "pg_partitioned_table_info",
                  {{"relname", "analytics_events"},
                   {"strategy", "range"},
                   {"key", "RANGE (created_at)"},
                   {"parent", ""}}),
            1);
  EXPECT_EQ(test::count_series(s, "pg_partition_live_rows"),
            0u);  // per_partition is off by default
}

TEST(Partitions, NextMonthsPartitionExtendsRunwayByThatMonth) {
  TestDatabase db;
  CollectorRunner runner("partitions", sharedminds_target(db.dsn("pge_exporter")));
  Snapshot before = runner.run();
  db.exec("SELECT ops.create_monthly_partitions('public.analytics_events', 3, 3)");
  Snapshot after = runner.run();
  const double month = db.scalar(
      "SELECT extract(epoch FROM (date_trunc('month', now()) + interval '4 months'))"
      " - extract(epoch FROM (date_trunc('month', now()) + interval '3 months'))");
  EXPECT_EQ(
      value(after, "pg_partitioned_table_last_upper_bound_timestamp_seconds", kAnalytics) -
          value(before, "pg_partitioned_table_last_upper_bound_timestamp_seconds", kAnalytics),
      month);
  EXPECT_NEAR(value(after, "pg_partitioned_table_runway_seconds", kAnalytics) -
                  value(before, "pg_partitioned_table_runway_seconds", kAnalytics),
              month, 60);
  EXPECT_EQ(value(after, "pg_partitioned_table_partitions", kAnalytics),
            value(before, "pg_partitioned_table_partitions", kAnalytics) + 1);
}

TEST(Partitions, GapDefaultRowsAndInvalidPartitionedIndexAreCounted) {
  TestDatabase db;
  db.exec("SELECT ops.create_monthly_partitions('public.analytics_events', 5, 5)");  // skips month
                                                                                     // +3, +4
  db.exec(
      "INSERT INTO analytics_events (event_type, created_at) SELECT 'late', now() + interval '100 "
      "days'"
      " FROM generate_series(1, 7)");  // month +3: only the DEFAULT partition takes them
  db.exec("CREATE INDEX analytics_events_event_type_idx ON ONLY analytics_events (event_type)");
  db.exec("GRANT SELECT ON analytics_events_default TO pge_exporter");  // counted exactly
  CollectorRunner runner("partitions", sharedminds_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_partitioned_table_gaps", kAnalytics), 1);
  EXPECT_EQ(value(s, "pg_partitioned_table_default_rows",
                  {{"relname", "analytics_events"}, {"method", "count"}}),
            db.scalar("SELECT count(*) FROM analytics_events_default"));
  EXPECT_GE(value(s, "pg_partitioned_table_default_rows", kAnalytics), 7);
  EXPECT_EQ(value(s, "pg_partitioned_table_default_bytes", kAnalytics),
            db.scalar("SELECT pg_total_relation_size('analytics_events_default')"));
  EXPECT_EQ(value(s, "pg_partitioned_table_invalid_indexes", kAnalytics), 1);
}

// The issue-17 blind spot: as pg_monitor without SELECT on the DEFAULT partition, the collector
// still succeeds; the partition's rows come from its statistics, marked as an estimate, and it is
// counted.
TEST(Partitions, UnreadableDefaultPartitionIsEstimatedAndCountedNotFatal) {
  TestDatabase db;
  db.exec(
      "INSERT INTO analytics_events (event_type, created_at) SELECT 'late', now() + interval '3 "
      "years'"
      " FROM generate_series(1, 11)");
  ASSERT_EQ(
      db.scalar(
          "SELECT has_table_privilege('pge_exporter', 'analytics_events_default', 'SELECT')::int"),
      0);
  CollectorRunner runner("partitions", sharedminds_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_partitioned_table_default_rows",
                  {{"relname", "analytics_events"}, {"method", "estimate"}}),
            db.scalar("SELECT n_live_tup FROM pg_stat_all_tables WHERE relid = "
                      "'analytics_events_default'::regclass"));
  EXPECT_FALSE(find_value(s, "pg_partitioned_table_default_rows", {{"method", "count"}}));
  EXPECT_EQ(value(s, "pg_partitioned_table_default_bytes", kAnalytics),
            db.scalar("SELECT pg_total_relation_size('analytics_events_default')"));
  EXPECT_EQ(runner.last_relations_skipped().at(kSkipPrivilege),
            db.scalar("SELECT count(*) FROM pg_partitioned_table p WHERE p.partdefid <> 0"
                      " AND NOT has_table_privilege('pge_exporter', p.partdefid, 'SELECT')"));
  EXPECT_GT(value(s, "pg_partitioned_table_partitions", kAnalytics), 0);
}

TEST(Partitions, PerPartitionSeriesWhenAskedFor) {
  TestDatabase db;
  CollectorSettings settings = test::default_settings("partitions");
  settings.flags["per_partition"] = true;
  CollectorRunner runner("partitions", sharedminds_target(db.dsn("pge_exporter")), settings);
  Snapshot s = runner.run();
  EXPECT_EQ(
      test::count_series(s, "pg_partition_live_rows", {{"parent", "public.analytics_events"}}),
      db.scalar("SELECT count(*) FROM pg_partition_tree('analytics_events') WHERE isleaf"));
  EXPECT_EQ(value(s, "pg_partition_size_bytes", {{"relname", "analytics_events_default"}}),
            db.scalar("SELECT pg_total_relation_size('analytics_events_default')"));
}

TEST(Partitions, SubPartitionedLevelsAreDiscoveredAndRolledUp) {
  TestDatabase db;
  db.exec("CREATE TABLE public.events2 (k int, at date, v text) PARTITION BY RANGE (at)");
  db.exec(
      "CREATE TABLE public.events2_2030 PARTITION OF public.events2"
      " FOR VALUES FROM ('2030-01-01') TO ('2031-01-01') PARTITION BY LIST (k)");
  db.exec("CREATE TABLE public.events2_2030_a PARTITION OF public.events2_2030 FOR VALUES IN (1)");
  db.exec("CREATE TABLE public.events2_2030_b PARTITION OF public.events2_2030 FOR VALUES IN (2)");
  db.exec(
      "CREATE TABLE public.events2_2031 PARTITION OF public.events2 FOR VALUES FROM ('2031-01-01') "
      "TO ('2032-01-01')");
  db.exec(
      "INSERT INTO public.events2 SELECT 1 + g % 2, '2030-06-01', 'x' FROM generate_series(1, 40) "
      "g");
  db.exec("ANALYZE public.events2");
  CollectorRunner runner("partitions", sharedminds_target(db.dsn("pge_exporter")));
  Snapshot s;
  ASSERT_TRUE(test::eventually(
      [&] {
        s = runner.run();
        auto v = find_value(s, "pg_partitioned_table_live_rows", {{"relname", "events2"}});
        return v && *v == 40;
      },
      10));
  EXPECT_EQ(value(s, "pg_partitioned_table_partitions", {{"relname", "events2"}}), 3);
  EXPECT_EQ(value(s, "pg_partitioned_table_partitions", {{"relname", "events2_2030"}}), 2);
  EXPECT_EQ(
      value(s, "pg_partitioned_table_info",
            {{"relname", "events2_2030"}, {"strategy", "list"}, {"parent", "public.events2"}}),
      1);
  EXPECT_EQ(
      value(s, "pg_partitioned_table_last_upper_bound_timestamp_seconds", {{"relname", "events2"}}),
      db.scalar("SELECT extract(epoch FROM '2032-01-01'::date::timestamptz)"));
  EXPECT_EQ(value(s, "pg_partitioned_table_size_bytes", {{"relname", "events2"}}),
            db.scalar("SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('events2') "
                      "WHERE isleaf"));
}

TEST(Partitions, LockedDefaultPartitionIsSkippedNotWaitedFor) {
  TestDatabase db;
  OpenTransaction migration(db.dsn(),
                            "LOCK TABLE analytics_events_default IN ACCESS EXCLUSIVE MODE");
  CollectorRunner runner("partitions", sharedminds_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();  // would fail at lock_timeout if it queued behind the lock
  EXPECT_FALSE(find_value(s, "pg_partitioned_table_default_rows", kAnalytics));
  EXPECT_FALSE(find_value(s, "pg_partitioned_table_size_bytes", kAnalytics));
  EXPECT_EQ(
      value(s, "pg_partitioned_table_partitions", kAnalytics),
      db.scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'analytics_events'::regclass"));
  EXPECT_GE(runner.last_lock_skips(), 2);
}

TEST(PromotedColumns, TableUnderMigrationLockIsSkippedNotWaitedFor) {
  TestDatabase db;
  OpenTransaction migration(db.dsn(), "LOCK TABLE context_events IN ACCESS EXCLUSIVE MODE");
  CollectorRunner runner("promoted_columns", sharedminds_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  EXPECT_EQ(test::count_series(s, "pg_promoted_column_missing_rows"), 0u);
  EXPECT_EQ(runner.last_lock_skips(), 1);
}

// ---------------------------------------------------------------------------------------------
// growth
// ---------------------------------------------------------------------------------------------

TEST(Growth, RowsAndBytesRollUpPartitionsAndThresholdsComeFromTheConfig) {
  TestDatabase db;
  CollectorRunner runner("growth", sharedminds_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_table_estimated_rows", kAnalytics),
            db.scalar("SELECT sum(c.reltuples) FROM pg_partition_tree('analytics_events') p"
                      " JOIN pg_class c ON c.oid = p.relid WHERE p.isleaf"));
  EXPECT_EQ(
      value(s, "pg_table_total_bytes", kAnalytics),
      db.scalar(
          "SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('analytics_events')"));
  EXPECT_EQ(value(s, "pg_table_estimated_rows", {{"relname", "roadmap_items"}}),
            db.scalar("SELECT reltuples FROM pg_class WHERE oid = 'roadmap_items'::regclass"));
  EXPECT_FALSE(find_value(s, "pg_table_estimated_rows", {{"relname", "analytics_events_default"}}));
  EXPECT_EQ(value(s, "pg_table_rows_threshold", kAnalytics), 10000000);
  EXPECT_EQ(value(s, "pg_table_rows_threshold", {{"relname", "calendar_events"}}), 5000000);
}

TEST(Growth, NeverAnalyzedTableFallsBackToLiveTuples) {
  TestDatabase db;
  db.exec("CREATE TABLE public.fresh (id int)");
  db.exec("INSERT INTO public.fresh SELECT generate_series(1, 123)");
  CollectorRunner runner("growth", sharedminds_target(db.dsn("pge_exporter")));
  ASSERT_TRUE(eventually_value(
      runner, "pg_table_estimated_rows", {{"relname", "fresh"}}, [](double v) { return v == 123; },
      10));
  EXPECT_EQ(value(runner.run(), "pg_table_never_analyzed_partitions", {{"relname", "fresh"}}), 1);
}

// ---------------------------------------------------------------------------------------------
// matviews
// ---------------------------------------------------------------------------------------------

TEST(Matviews, RefreshMovesTheRefreshTimeAndPopulatesTheView) {
  TestDatabase db;
  CollectorRunner runner("matviews", sharedminds_target(db.dsn("pge_exporter")));
  const Labels view{{"relname", "dashboard_statistics"}};
  const Labels log{{"relname", "dashboard_statistics"}, {"source", "log_table"}};
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_matview_populated", view), 0);  // created WITH NO DATA
  EXPECT_FALSE(find_value(s, "pg_matview_last_refresh_timestamp_seconds", log));
  db.exec("CALL ops.refresh_dashboard_statistics()");
  s = runner.run();
  EXPECT_EQ(value(s, "pg_matview_populated", view), 1);
  EXPECT_EQ(value(s, "pg_matview_size_bytes", view),
            db.scalar("SELECT pg_total_relation_size('dashboard_statistics')"));
  const double first = value(s, "pg_matview_last_refresh_timestamp_seconds", log);
  EXPECT_DOUBLE_EQ(
      first, db.scalar("SELECT extract(epoch FROM max(finished_at)) FROM ops.matview_refresh_log"));
  EXPECT_EQ(value(s, "pg_matview_last_refresh_success", log), 1);
  EXPECT_DOUBLE_EQ(
      value(s, "pg_matview_last_refresh_duration_seconds", log),
      db.scalar(
          "SELECT extract(epoch FROM finished_at - started_at) FROM ops.matview_refresh_log"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_GE(value(runner.run(), "pg_matview_staleness_seconds", log), 1.0);
  db.exec("CALL ops.refresh_dashboard_statistics()");
  s = runner.run();
  EXPECT_GT(value(s, "pg_matview_last_refresh_timestamp_seconds", log), first + 1);
  EXPECT_LT(value(s, "pg_matview_staleness_seconds", log), 1.0);
}

// ---------------------------------------------------------------------------------------------
// cron_jobs and retention
// ---------------------------------------------------------------------------------------------

TEST(CronJobs, WithoutPgCronOnlyInstalledZeroAndRetentionFromItsRecord) {
  TestDatabase db;
  db.exec("CALL ops.run_retention(90)");
  CollectorRunner runner("cron_jobs", sharedminds_target(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_cron_installed"), 0);
  EXPECT_EQ(test::count_series(s, "pg_cron_job_active"), 0u);
  const double archived = db.scalar("SELECT count(*) FROM analytics_events_archive");
  EXPECT_GT(archived, 0);
  EXPECT_EQ(value(s, "pg_retention_last_run_rows_archived"), archived);
  EXPECT_EQ(value(s, "pg_retention_last_run_rows_deleted"),
            db.scalar("SELECT rows_deleted FROM ops.retention_runs"));
  EXPECT_EQ(value(s, "pg_retention_last_run_success"), 1);
  EXPECT_EQ(value(s, "pg_retention_last_run_deleted_more_than_archived"), 0);
  EXPECT_DOUBLE_EQ(value(s, "pg_retention_last_run_timestamp_seconds"),
                   db.scalar("SELECT extract(epoch FROM finished_at) FROM ops.retention_runs"));
  // A run that lost rows (recorded by hand: the real procedure cannot produce it).
  db.exec(
      "INSERT INTO ops.retention_runs (started_at, finished_at, cutoff, rows_archived, "
      "rows_deleted, succeeded)"
      " VALUES (now(), now(), now() - interval '90 days', 5, 8, true)");
  s = runner.run();
  EXPECT_EQ(value(s, "pg_retention_last_run_deleted_more_than_archived"), 1);
  EXPECT_EQ(value(s, "pg_retention_last_run_rows_deleted"), 8);
}

// The seed's High risk: a retention run that deletes too much. The real procedure run with 9 days
// instead of 90 must show as a 9-day cutoff age next to the configured 90 days.
TEST(CronJobs, RetentionCutoffAgeOfANineDayRunIsNineDaysAgainstTheConfiguredNinety) {
  TestDatabase db;
  Target target = sharedminds_target(db.dsn("pge_exporter"));
  target.retention.keep = Seconds{90 * 86400};
  target.retention.max_interval = Seconds{8 * 86400};
  CollectorRunner runner("cron_jobs", target);
  db.exec("CALL ops.run_retention(90)");
  Snapshot s = runner.run();
  EXPECT_DOUBLE_EQ(
      value(s, "pg_retention_last_run_cutoff_age_seconds"),
      db.scalar("SELECT extract(epoch FROM started_at - cutoff) FROM ops.retention_runs"));
  EXPECT_EQ(value(s, "pg_retention_keep_seconds"), 90 * 86400);
  EXPECT_EQ(value(s, "pg_retention_max_interval_seconds"), 8 * 86400);

  db.exec("CALL ops.run_retention(9)");
  s = runner.run();
  const double truth = db.scalar(
      "SELECT extract(epoch FROM started_at - cutoff) FROM ops.retention_runs ORDER BY started_at "
      "DESC LIMIT 1");
  EXPECT_NEAR(truth, 9 * 86400, 3600);  // DST may make "9 days" an hour longer or shorter
  EXPECT_DOUBLE_EQ(value(s, "pg_retention_last_run_cutoff_age_seconds"), truth);
  EXPECT_LT(value(s, "pg_retention_last_run_cutoff_age_seconds"),
            value(s, "pg_retention_keep_seconds") - 3600);
}

// The cluster's pg_cron runs jobs of the database `sharedminds` only (cron.database_name). The
// database is made from the template once and kept: dropping it would terminate pg_cron's launcher,
// which then stays down until the server restarts. Each test starts with no jobs and no runs.
// pg_cron's jobs and run history are shared by the whole cluster, so tests that use them take a
// file lock: ctest runs test processes in parallel, and reset() would unschedule another test's
// job.
class CronDatabase {
 public:
  CronDatabase() {
    if (test::run_sql(test::admin_dsn(), "SELECT 1 FROM pg_database WHERE datname = 'sharedminds'")
            .empty()) {
      test::run_sql(test::admin_dsn(), "CREATE DATABASE sharedminds TEMPLATE pge_template");
    }
    exec("CREATE EXTENSION IF NOT EXISTS pg_cron");
    exec(
        "CREATE OR REPLACE VIEW ops.cron_job AS"
        " SELECT jobid, jobname, schedule, command, database, username, active FROM cron.job");
    exec(
        "CREATE OR REPLACE VIEW ops.cron_job_run_details AS SELECT jobid, runid, job_pid, "
        "database, username,"
        " command, status, return_message, start_time, end_time FROM cron.job_run_details");
    exec("GRANT SELECT ON ops.cron_job, ops.cron_job_run_details TO pge_exporter");
    reset();
  }
  ~CronDatabase() {
    try {
      exec("SELECT count(cron.unschedule(jobid)) FROM cron.job");
    } catch (...) {
    }
  }
  void reset() const {
    exec("SELECT count(cron.unschedule(jobid)) FROM cron.job");
    exec("DELETE FROM cron.job_run_details");
    exec("TRUNCATE ops.matview_refresh_log");
  }
  Rows exec(const std::string& sql) const {
    return test::run_sql(test::admin_dsn("sharedminds"), sql);
  }
  double scalar(const std::string& sql) const { return std::stod(*exec(sql).at(0, 0)); }
  std::string dsn() const {
    return "host=127.0.0.1 port=" + std::to_string(test::test_port()) +
           " dbname=sharedminds user=pge_exporter password=exporter";
  }

 private:
  test::ClusterLock lock_{"pg_cron"};  // first member: taken before anything touches pg_cron
};

CollectorSettings cron_settings(const std::string& collector) {
  CollectorSettings s = test::default_settings(collector);
  s.strings["cron_job_table"] = "ops.cron_job";
  s.strings["cron_run_details_table"] = "ops.cron_job_run_details";
  return s;
}

// pg_cron 1.4 (Debian 12) has no "N seconds" schedules: jobs run at minute boundaries, so the
// earlier successful run is recorded by hand and pg_cron itself produces the failures.
TEST(CronJobs, FailingJobIsCountedAndItsSuccessAgeGrows) {
  CronDatabase cron;
  const std::string id =
      *cron.exec("SELECT cron.schedule('flaky', '* * * * *', 'SELECT 1/0')").at(0, 0);
  cron.exec(
      "INSERT INTO cron.job_run_details (jobid, runid, job_pid, database, username, command, "
      "status,"
      " return_message, start_time, end_time) VALUES (" +
      id +
      ", nextval('cron.runid_seq'), 1, 'sharedminds',"
      " 'postgres', 'SELECT 1', 'succeeded', 'SELECT 1', now() - interval '10 minutes',"
      " now() - interval '10 minutes' + interval '250 ms')");
  const std::string runs = "SELECT count(*) FROM cron.job_run_details WHERE jobid = " + id;
  ASSERT_TRUE(
      test::eventually([&] { return cron.scalar(runs + " AND status = 'failed'") >= 1; }, 90))
      << "pg_cron ran no job in the database sharedminds";
  cron.exec("SELECT cron.alter_job(" + id + ", active := false)");

  CollectorRunner runner("cron_jobs", sharedminds_target(cron.dsn()), cron_settings("cron_jobs"));
  const Labels job{{"jobname", "flaky"}};
  Snapshot s = runner.run();
  EXPECT_EQ(value(s, "pg_cron_installed"), 1);
  EXPECT_EQ(value(s, "pg_cron_job_active", job), 0);
  EXPECT_EQ(value(s, "pg_cron_job_info",
                  {{"jobname", "flaky"}, {"schedule", "* * * * *"}, {"database", "sharedminds"}}),
            1);
  EXPECT_EQ(value(s, "pg_cron_job_last_run_success", job), 0);
  const std::string last20 =
      "(SELECT status, start_time, end_time FROM cron.job_run_details WHERE jobid = " + id +
      " ORDER BY runid DESC LIMIT 20) r";
  EXPECT_EQ(value(s, "pg_cron_job_recent_failures", job),
            cron.scalar("SELECT count(*) FILTER (WHERE status = 'failed') FROM " + last20));
  EXPECT_GE(value(s, "pg_cron_job_recent_failures", job), 1);
  EXPECT_EQ(
      value(s, "pg_cron_job_unfinished_runs", job),
      cron.scalar("SELECT count(*) FILTER (WHERE start_time IS NULL OR end_time IS NULL) FROM " +
                  last20));
  const double last_success = value(s, "pg_cron_job_last_success_timestamp_seconds", job);
  EXPECT_DOUBLE_EQ(last_success,
                   cron.scalar("SELECT extract(epoch FROM max(end_time)) FROM cron.job_run_details"
                               " WHERE status = 'succeeded' AND jobid = " +
                               id));
  EXPECT_DOUBLE_EQ(
      value(s, "pg_cron_job_last_duration_seconds", job),
      cron.scalar("SELECT extract(epoch FROM end_time - start_time) FROM cron.job_run_details"
                  " WHERE status IN ('succeeded', 'failed') AND jobid = " +
                  id + " ORDER BY runid DESC LIMIT 1"));
  // The success age (now - last success) grows: the timestamp stays while the clock moves on.
  const double age1 = cron.scalar("SELECT extract(epoch FROM now())") - last_success;
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  Snapshot later = runner.run();
  EXPECT_EQ(value(later, "pg_cron_job_last_success_timestamp_seconds", job), last_success);
  EXPECT_GT(cron.scalar("SELECT extract(epoch FROM now())") -
                value(later, "pg_cron_job_last_success_timestamp_seconds", job),
            age1 + 1);
}

TEST(CronJobs, OverdueAgainstTheJobsOwnSchedule) {
  CronDatabase cron;
  // A yearly job whose last recorded start was New Year 2020: its next run was due 2021-01-01.
  const std::string id =
      *cron.exec("SELECT cron.schedule('yearly', '0 0 1 1 *', 'SELECT 1')").at(0, 0);
  cron.exec(
      "INSERT INTO cron.job_run_details (jobid, runid, job_pid, database, username, command, "
      "status,"
      " return_message, start_time, end_time) VALUES (" +
      id +
      ", nextval('cron.runid_seq'), 1, 'sharedminds',"
      " 'postgres', 'SELECT 1', 'succeeded', 'SELECT 1', '2020-01-01 00:00:05+00', '2020-01-01 "
      "00:00:06+00')");
  const std::string weekly =
      *cron.exec("SELECT cron.schedule('weekly', '@weekly', 'SELECT 1')").at(0, 0);
  CollectorRunner runner("cron_jobs", sharedminds_target(cron.dsn()), cron_settings("cron_jobs"));
  Snapshot s = runner.run();
  EXPECT_NEAR(value(s, "pg_cron_job_overdue_seconds", {{"jobname", "yearly"}}),
              cron.scalar("SELECT extract(epoch FROM now() - '2021-01-01 00:00:00+00')"), 2);
  // Never ran: measured from when the exporter first saw it, so not overdue yet.
  EXPECT_EQ(value(s, "pg_cron_job_overdue_seconds", {{"jobid", weekly}}), 0);
  EXPECT_EQ(value(s, "pg_cron_job_schedule_valid", {{"jobname", "weekly"}}), 1);
}

TEST(Matviews, RefreshTimeFromPgCronRunDetails) {
  CronDatabase cron;
  const std::string id = *cron.exec(
                                  "SELECT cron.schedule('refresh-dashboard', '* * * * *', 'CALL "
                                  "ops.refresh_dashboard_statistics()')")
                              .at(0, 0);
  const std::string ok =
      "SELECT count(*) FROM cron.job_run_details WHERE status = 'succeeded' AND jobid = " + id;
  ASSERT_TRUE(test::eventually([&] { return cron.scalar(ok) >= 1; }, 90));
  cron.exec("SELECT cron.unschedule(" + id + ")");
  CollectorRunner runner("matviews", sharedminds_target(cron.dsn()), cron_settings("matviews"));
  const Labels src{{"relname", "dashboard_statistics"}, {"source", "pg_cron"}};
  Snapshot s = runner.run();
  EXPECT_DOUBLE_EQ(value(s, "pg_matview_last_refresh_timestamp_seconds", src),
                   cron.scalar("SELECT extract(epoch FROM max(end_time)) FROM cron.job_run_details"
                               " WHERE status = 'succeeded' AND jobid = " +
                               id));
  EXPECT_EQ(value(s, "pg_matview_last_refresh_success", src), 1);
  EXPECT_EQ(value(s, "pg_matview_populated", {{"relname", "dashboard_statistics"}}), 1);
}

}  // namespace
}  // namespace pge::test
