// Latency collectors against a real PostgreSQL with pg_stat_statements preloaded: statements of
// known duration (pg_sleep), resets and a simulated eviction, probes, the write probe and pg_stat_wal.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include <pqxx/pqxx>

#include "exporter/latency_estimator.h"
#include "tests/support/test_support.h"

namespace pge {
namespace {

using test::CollectorRunner;
using test::TestDatabase;
using test::make_target;
using test::value;

constexpr const char* kDuration = "pg_stat_statements_duration_seconds";

// histogram_quantile over the exported (integer, cumulative) buckets of one series.
double scraped_quantile(const Snapshot& s, const std::string& name, const Labels& labels, double q) {
  const prometheus::ClientMetric* m = test::find_metric(s, name, labels);
  if (!m) throw std::runtime_error("no series " + name);
  std::vector<double> bounds, cum;
  for (const auto& b : m->histogram.bucket) {
    if (std::isinf(b.upper_bound)) continue;
    bounds.push_back(b.upper_bound);
    cum.push_back(static_cast<double>(b.cumulative_count));
  }
  return latency::histogram_quantile(q, bounds, cum, static_cast<double>(m->histogram.sample_count));
}

double histogram_sum(const Snapshot& s, const std::string& name, const Labels& labels) {
  return test::find_metric(s, name, labels)->histogram.sample_sum;
}

QueryClass query_class(const std::string& name) {
  return {name, Pattern{"q:" + name, std::regex("q:" + name)}};
}

// Three statement shapes that each sleep a set time, tagged with their class.
struct Shape {
  const char* klass;
  double ms;
  const char* sql;
};
const std::vector<Shape> kShapes{
    {"fast", 2, "/* q:fast */ SELECT pge_sleep_ms(2)"},
    {"mid", 20, "/* q:mid */ SELECT pge_sleep_ms(20), 1"},
    {"slow", 200, "/* q:slow */ SELECT pge_sleep_ms(200), 1, 2"},
};

class StatementsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db.exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    db.exec("CREATE FUNCTION pge_sleep_ms(ms float8) RETURNS void LANGUAGE sql AS 'SELECT pg_sleep(ms / 1000.0)'");
    Target t = make_target(db.dsn("pge_exporter"));
    for (const auto& s : kShapes) t.query_classes.push_back(query_class(s.klass));
    runner = std::make_unique<CollectorRunner>("statements", t);
    runner->run();  // baseline
    app = std::make_unique<pqxx::connection>(db.dsn());
  }

  // One warm connection, as an application has: no per-call connection or catalog-cache cost.
  void run_shape(const Shape& s, int times) {
    pqxx::nontransaction tx(*app);
    for (int i = 0; i < times; ++i) tx.exec(s.sql);
  }

  // pg_stat_statements' own view of a class's entry (postgres's calls of that shape).
  double pgss(const Shape& s, const std::string& expr) {
    return db.scalar("SELECT " + expr + " FROM pg_stat_statements WHERE query LIKE " +
                     quote_literal(std::string("/* q:") + s.klass + " */%") +
                     " AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())");
  }

  static Labels labels(const Shape& s) { return {{"command", "select"}, {"class", s.klass}}; }

  TestDatabase db;
  std::unique_ptr<CollectorRunner> runner;
  std::unique_ptr<pqxx::connection> app;
};

// Documented tolerance (docs/latency.md): the estimate is within one bucket (a factor √2, the layout's
// resolution) of the truth. pg_sleep oversleeps by scheduler jitter, so the truth is bounded by what
// pg_stat_statements itself saw: the median near the mean, p95/p99 between the fastest and slowest call.
TEST_F(StatementsTest, QuantilesOfKnownSleepsLandWithinOneBucketAndSumCountAreExact) {
  Snapshot s;
  for (int round = 0; round < 4; ++round) {
    run_shape(kShapes[0], 12);
    run_shape(kShapes[1], 5);
    run_shape(kShapes[2], 2);
    s = runner->run();
  }
  for (const auto& shape : kShapes) {
    const double calls = pgss(shape, "calls");
    const double mean_s = pgss(shape, "(total_exec_time + total_plan_time) / calls") / 1000;
    EXPECT_EQ(value(s, "pg_stat_statements_calls_total", labels(shape)), calls) << shape.klass;
    EXPECT_EQ(value(s, kDuration, labels(shape)), calls) << shape.klass;  // _count
    EXPECT_NEAR(histogram_sum(s, kDuration, labels(shape)),
                pgss(shape, "total_exec_time + total_plan_time") / 1000, 1e-9) << shape.klass;
    EXPECT_EQ(value(s, "pg_stat_statements_rows_total", labels(shape)), pgss(shape, "rows"));
    EXPECT_GE(mean_s, shape.ms / 1000);  // pg_sleep never returns early
    const double p50 = scraped_quantile(s, kDuration, labels(shape), 0.5);
    EXPECT_GE(p50, mean_s / std::sqrt(2.0)) << shape.klass;
    EXPECT_LE(p50, mean_s * std::sqrt(2.0)) << shape.klass;
    const double fastest = pgss(shape, "min_exec_time + min_plan_time") / 1000;
    const double slowest = pgss(shape, "max_exec_time + max_plan_time") / 1000;
    for (double q : {0.95, 0.99}) {
      const double est = scraped_quantile(s, kDuration, labels(shape), q);
      EXPECT_GE(est, fastest / std::sqrt(2.0)) << shape.klass << " q=" << q;
      EXPECT_LE(est, slowest * std::sqrt(2.0)) << shape.klass << " q=" << q;
    }
  }
  EXPECT_EQ(value(s, "pg_stat_statements_time_basis_info", {{"basis", "plan+exec"}}), 1);
  // Entries of every database: the sample's count can only have grown since.
  EXPECT_GE(value(s, "pg_stat_statements_entries"), 3);
  EXPECT_LE(value(s, "pg_stat_statements_entries"), db.scalar("SELECT count(*) FROM pg_stat_statements"));
}

TEST_F(StatementsTest, ExporterOwnStatementsAreNotCounted) {
  for (int i = 0; i < 3; ++i) runner->run();
  Snapshot s = runner->run();
  // Only the fixture's setup statements (utility, run by postgres) may be there; no select yet.
  EXPECT_EQ(test::count_series(s, kDuration, {{"command", "select"}}), 0u);
}

// Eviction is simulated with the single-entry reset pg_stat_statements_reset(userid, dbid, queryid):
// the entry disappears exactly as an evicted one does (pg_stat_statements.max is a postmaster setting
// of the shared test cluster).
TEST_F(StatementsTest, ResetsAndEvictionNeverMakeCountersDecrease) {
  const Shape& mid = kShapes[1];
  run_shape(mid, 10);
  Snapshot before = runner->run();
  const double calls_before = value(before, "pg_stat_statements_calls_total", labels(mid));
  ASSERT_EQ(calls_before, 10);
  const double sum_before = histogram_sum(before, kDuration, labels(mid));

  db.exec("SELECT pg_stat_statements_reset(userid, dbid, queryid) FROM pg_stat_statements"
          " WHERE query LIKE '/* q:mid */%'");
  run_shape(mid, 3);  // re-created with fewer calls: detected as re-creation
  Snapshot evicted = runner->run();
  EXPECT_EQ(value(evicted, "pg_stat_statements_calls_total", labels(mid)), calls_before + 3);
  EXPECT_GT(histogram_sum(evicted, kDuration, labels(mid)), sum_before);
  EXPECT_GT(value(evicted, "pg_stat_statements_lost_calls_total"), 0);

  const double dealloc_before = value(evicted, "pg_stat_statements_dealloc_total");
  db.exec("SELECT pg_stat_statements_reset()");
  run_shape(mid, 4);
  Snapshot reset = runner->run();
  EXPECT_EQ(value(reset, "pg_stat_statements_calls_total", labels(mid)), calls_before + 3 + 4);
  EXPECT_GE(value(reset, "pg_stat_statements_dealloc_total"), dealloc_before);

  const auto* a = test::find_metric(evicted, kDuration, labels(mid));
  const auto* b = test::find_metric(reset, kDuration, labels(mid));
  ASSERT_EQ(a->histogram.bucket.size(), b->histogram.bucket.size());
  for (std::size_t i = 0; i < a->histogram.bucket.size(); ++i) {
    EXPECT_GE(b->histogram.bucket[i].cumulative_count, a->histogram.bucket[i].cumulative_count) << i;
  }
}

TEST(StatementsCollector, MissingExtensionIsAClearError) {
  TestDatabase db;
  db.exec("DROP EXTENSION IF EXISTS pg_stat_statements");
  CollectorRunner runner("statements", make_target(db.dsn("pge_exporter")));
  try {
    runner.run();
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("pg_stat_statements is not installed in database " + db.name()));
  }
}

TEST(StatementsCollector, MissingPrivilegeIsAClearError) {
  TestDatabase db;
  db.exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  db.exec("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pge_nostats') THEN "
          "CREATE ROLE pge_nostats LOGIN; END IF; END $$");
  CollectorRunner runner("statements", make_target(db.dsn("pge_nostats")));
  EXPECT_THAT([&] { runner.run(); }, ::testing::ThrowsMessage<std::runtime_error>(
                                         ::testing::HasSubstr("GRANT pg_read_all_stats")));
}

TEST(ProbesCollector, HistogramsCountExactlyTheRunsMadeAndTimeoutsAreErrors) {
  TestDatabase db;
  Target t = make_target(db.dsn("pge_exporter"));
  t.probes = {{"lookup", "SELECT count(*) FROM public.roadmap_items"},
              {"sleep", "SELECT pg_sleep(0.02)"},
              {"too_slow", "SELECT pg_sleep(2)"},
              {"broken", "SELECT * FROM public.no_such_table"}};
  CollectorRunner runner("probes", t);
  runner.settings().timeout = Seconds{0.5};
  const int runs = 4;
  Snapshot s;
  for (int i = 0; i < runs; ++i) s = runner.run();
  const char* d = "pg_probe_duration_seconds";
  EXPECT_EQ(value(s, d, {{"probe", "lookup"}}), runs);
  EXPECT_EQ(value(s, d, {{"probe", "sleep"}}), runs);
  EXPECT_GE(histogram_sum(s, d, {{"probe", "sleep"}}), runs * 0.02);
  EXPECT_LT(histogram_sum(s, d, {{"probe", "sleep"}}), runs * 0.5);
  EXPECT_GE(scraped_quantile(s, d, {{"probe", "sleep"}}, 0.5), 0.02 / std::sqrt(2.0));
  EXPECT_EQ(value(s, d, {{"probe", "too_slow"}}), 0);
  EXPECT_EQ(value(s, "pg_probe_errors_total", {{"probe", "too_slow"}}), runs);
  EXPECT_EQ(value(s, "pg_probe_errors_total", {{"probe", "broken"}}), runs);
  EXPECT_EQ(value(s, "pg_probe_errors_total", {{"probe", "lookup"}}), 0);
}

TEST(WriteProbeCollector, TimesEachInsertCommitAndKeepsTheTableSmall) {
  TestDatabase db;
  Target t = make_target(db.dsn("pge_exporter"));
  t.write_probe.enabled = true;
  t.write_probe.dsn = db.dsn("pge_probe_writer") + " password=probe";
  CollectorRunner runner("write_probe", t);
  Snapshot s;
  for (int i = 0; i < 5; ++i) s = runner.run();
  EXPECT_EQ(value(s, "pg_write_probe_duration_seconds"), 5);
  EXPECT_EQ(value(s, "pg_write_probe_errors_total"), 0);
  EXPECT_GT(histogram_sum(s, "pg_write_probe_duration_seconds", {}), 0);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pge_probe.write_probe"), 1);

  // The monitoring role may not write the probe table: a privilege error, counted.
  runner.target().write_probe.dsn = db.dsn("pge_exporter");
  CollectorRunner bad("write_probe", runner.target());
  Snapshot failed = bad.run();
  EXPECT_EQ(value(failed, "pg_write_probe_errors_total"), 1);
  EXPECT_EQ(value(failed, "pg_write_probe_duration_seconds"), 0);
}

TEST(WalCollector, CountersMatchPgStatWal) {
  TestDatabase db;
  CollectorRunner runner("wal", make_target(db.dsn("pge_exporter")));
  db.exec("CREATE TABLE public.walgen AS SELECT g FROM generate_series(1, 10000) g");
  const double records_before = db.scalar("SELECT wal_records FROM pg_stat_wal");
  Snapshot s = runner.run();
  const double records_after = db.scalar("SELECT wal_records FROM pg_stat_wal");
  EXPECT_GE(value(s, "pg_stat_wal_records_total"), records_before);
  EXPECT_LE(value(s, "pg_stat_wal_records_total"), records_after);
  EXPECT_EQ(value(s, "pg_settings_track_wal_io_timing"),
            db.scalar("SELECT (current_setting('track_wal_io_timing') = 'on')::int"));
  EXPECT_GE(value(s, "pg_stat_wal_bytes_total"), 10000);
}

}  // namespace
}  // namespace pge
