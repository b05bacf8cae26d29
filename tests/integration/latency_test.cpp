// Latency collectors against a real PostgreSQL with pg_stat_statements preloaded: statements of
// known duration (pg_sleep), resets and a single-entry reset, real evictions on a cluster of its
// own with pg_stat_statements.max = 100, probes, the write probe and pg_stat_wal.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <pqxx/pqxx>

#include "latency/latency_estimator.h"
#include "tests/support/test_support.h"

namespace pge::test {
namespace {

constexpr const char* kDuration = "pg_stat_statements_duration_seconds";

// histogram_quantile over the exported (integer, cumulative) buckets of one series.
double scraped_quantile(const Snapshot& s, const std::string& name, const Labels& labels,
                        double q) {
  const prometheus::ClientMetric* m = test::find_metric(s, name, labels);
  if (!m) throw std::runtime_error("no series " + name);
  std::vector<double> bounds, cum;
  for (const auto& b : m->histogram.bucket) {
    if (std::isinf(b.upper_bound)) continue;
    bounds.push_back(b.upper_bound);
    cum.push_back(static_cast<double>(b.cumulative_count));
  }
  return latency::histogram_quantile(q, bounds, cum,
                                     static_cast<double>(m->histogram.sample_count));
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
    db.exec(
        "CREATE FUNCTION pge_sleep_ms(ms float8) RETURNS void LANGUAGE sql AS 'SELECT pg_sleep(ms "
        "/ 1000.0)'");
    Target t = make_target(db.dsn("pge_exporter"));
    for (const auto& s : kShapes) t.query_classes.push_back(query_class(s.klass));
    runner = std::make_unique<CollectorRunner>("statements", t);
    runner->settings().numbers["full_interval"] = 0;  // every run a full sample
    runner->run();                                    // baseline
    app = std::make_unique<pqxx::connection>(db.dsn());
  }

  // One warm connection, as an application has: no per-call connection or catalog-cache cost.
  void run_shape(const Shape& s, int times) {
    pqxx::nontransaction tx(*app);
    for (int i = 0; i < times; ++i) tx.exec(s.sql);
  }

  // pg_stat_statements' own view of a class's entry (postgres's calls of that shape).
  double pgss(const Shape& s, const std::string& expr) {
    return db.scalar(
        "SELECT " + expr + " FROM pg_stat_statements WHERE query LIKE " +
        quote_literal(std::string("/* q:") + s.klass + " */%") +
        " AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())");
  }

  static Labels labels(const Shape& s) { return {{"command", "select"}, {"class", s.klass}}; }

  // Other tests reset pg_stat_statements cluster-wide; these compare with its contents.
  test::ClusterLock lock{"pg_stat_statements"};
  TestDatabase db;
  std::unique_ptr<CollectorRunner> runner;
  std::unique_ptr<pqxx::connection> app;
};

// Documented tolerance (docs/latency.md): the estimate is within one bucket (a factor √2, the
// layout's resolution) of the truth. pg_sleep oversleeps by scheduler jitter, so the truth is
// bounded by what pg_stat_statements itself saw: the median near the mean, p95/p99 between the
// fastest and slowest call.
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
                pgss(shape, "total_exec_time + total_plan_time") / 1000, 1e-9)
        << shape.klass;
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
  EXPECT_LE(value(s, "pg_stat_statements_entries"),
            db.scalar("SELECT count(*) FROM pg_stat_statements"));
}

// reset_minmax: on PostgreSQL 17 the collector resets only min and max after each full sample, so
// a later call sets them anew while calls and times keep counting; before 17 it cannot, says so
// (gauge 0) and carries on with cumulative min/max.
TEST_F(StatementsTest, ResetMinmaxResetsOnlyMinAndMaxAfterEachFullSampleOnSeventeen) {
  const bool seventeen = db.scalar("SELECT current_setting('server_version_num')::int") >= 170000;
  if (seventeen) {
    db.exec(
        "GRANT EXECUTE ON FUNCTION pg_stat_statements_reset(oid, oid, bigint, boolean) TO "
        "pge_exporter");
  }
  runner->settings().flags["reset_minmax"] = true;
  const Shape& mid = kShapes[1];
  pqxx::nontransaction(*app).exec("/* q:mid */ SELECT pge_sleep_ms(200), 1");  // mid's entry
  const Snapshot s = runner->run();
  run_shape(mid, 2);

  EXPECT_EQ(value(s, "pg_stat_statements_minmax_reset_enabled"), seventeen ? 1 : 0);
  EXPECT_EQ(pgss(mid, "calls"), 3);
  EXPECT_GE(pgss(mid, "total_exec_time"), 200 + 2 * mid.ms);
  if (seventeen) {
    EXPECT_LT(pgss(mid, "max_exec_time"), 200);  // the slow call was before the reset
    EXPECT_EQ(pgss(mid, "(minmax_stats_since > stats_since)::int"), 1);
  } else {
    EXPECT_GE(pgss(mid, "max_exec_time"), 200);
  }
}

TEST_F(StatementsTest, ExporterOwnStatementsAreNotCounted) {
  for (int i = 0; i < 3; ++i) runner->run();
  Snapshot s = runner->run();
  // Only the fixture's setup statements (utility, run by postgres) may be there; no select yet.
  EXPECT_EQ(test::count_series(s, kDuration, {{"command", "select"}}), 0u);
}

// Issue 14 item 8: an application that runs as the exporter's own role (postgres on Supabase) is
// counted in full; the exporter's statements are still left out, by their marker.
TEST_F(StatementsTest, ApplicationSharingTheExportersRoleIsCountedInFull) {
  app = std::make_unique<pqxx::connection>(db.dsn("pge_exporter"));
  Snapshot s;
  for (int round = 0; round < 3; ++round) {
    run_shape(kShapes[0], 4);
    run_shape(kShapes[1], 2);
    s = runner->run();
  }
  for (const auto& shape : {kShapes[0], kShapes[1]}) {
    EXPECT_EQ(value(s, "pg_stat_statements_calls_total", labels(shape)), pgss(shape, "calls"))
        << shape.klass;
    EXPECT_GE(pgss(shape, "calls"), 6) << shape.klass;
  }
  const double own_calls = db.scalar(
      "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
      " WHERE r.rolname = 'pge_exporter' AND s.query LIKE '/* pg_evolution_exporter */%'"
      " AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())");
  EXPECT_GT(own_calls, 0);  // the collector's own statements are there, and not counted:
  EXPECT_EQ(test::count_series(s, kDuration, {{"class", "other"}, {"command", "select"}}), 0u);
  EXPECT_EQ(value(s, "pg_stat_statements_unattributed_calls_total"), 0);
}

// A single-entry reset pg_stat_statements_reset(userid, dbid, queryid) makes the entry vanish
// between two samples and come back with fewer calls (real eviction: StatementsEviction below).
TEST_F(StatementsTest, ResetsAndReCreatedEntriesNeverMakeCountersDecrease) {
  const Shape& mid = kShapes[1];
  run_shape(mid, 10);
  Snapshot before = runner->run();
  const double calls_before = value(before, "pg_stat_statements_calls_total", labels(mid));
  ASSERT_EQ(calls_before, 10);
  const double sum_before = histogram_sum(before, kDuration, labels(mid));

  db.exec(
      "SELECT pg_stat_statements_reset(userid, dbid, queryid) FROM pg_stat_statements"
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
    EXPECT_GE(b->histogram.bucket[i].cumulative_count, a->histogram.bucket[i].cumulative_count)
        << i;
  }
}

// Between full samples only the busiest entries are read (collectors.statements.busy_entries):
// their calls count at once and exactly, the others' wait for the next full sample; nothing is lost
// or counted twice across the switch.
TEST_F(StatementsTest, BusiestEntriesAreSampledBetweenFullSamplesAndOthersWaitForTheNext) {
  const Shape& busy = kShapes[0];
  const Shape& quiet = kShapes[1];
  runner->settings().numbers["busy_entries"] = 1;
  run_shape(busy, 40);
  run_shape(quiet, 3);
  runner->run();  // full: the busiest entry with at least 2 calls/s is `busy`

  runner->settings().numbers["full_interval"] = 3600;  // from now on, runs between full samples
  run_shape(busy, 7);
  run_shape(quiet, 5);
  Snapshot between = runner->run();
  EXPECT_EQ(value(between, "pg_stat_statements_calls_total", labels(busy)), 47);
  EXPECT_EQ(value(between, "pg_stat_statements_calls_total", labels(quiet)), 3);
  EXPECT_EQ(value(between, kDuration, labels(busy)), 47);  // histogram _count

  runner->settings().numbers["full_interval"] = 0;
  Snapshot full = runner->run();
  EXPECT_EQ(value(full, "pg_stat_statements_calls_total", labels(busy)), 47);
  EXPECT_EQ(value(full, "pg_stat_statements_calls_total", labels(quiet)), 8);
  EXPECT_EQ(value(full, kDuration, labels(quiet)), 8);
  EXPECT_EQ(value(full, "pg_stat_statements_lost_calls_total"), 0);
}

// With no busy entry there is nothing to read between full samples: the run keeps the last snapshot
// and sends no statement (pg_stat_statements of the exporter's own role stays unchanged).
TEST_F(StatementsTest, RunsBetweenFullSamplesWithoutBusyEntriesQueryNothing) {
  runner->settings().numbers["busy_entries"] = 0;
  run_shape(kShapes[1], 3);
  const Snapshot full = runner->run();
  const double own_before = db.scalar(
      "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s"
      " JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = 'pge_exporter'"
      " AND s.query LIKE '%pg_stat_statements(false)%'");
  runner->settings().numbers["full_interval"] = 3600;
  run_shape(kShapes[1], 2);
  const Snapshot between = runner->run();
  EXPECT_EQ(value(between, "pg_stat_statements_calls_total", labels(kShapes[1])), 3);
  const double own_after = db.scalar(
      "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s"
      " JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = 'pge_exporter'"
      " AND s.query LIKE '%pg_stat_statements(false)%'");
  EXPECT_EQ(own_after, own_before);
}

// A cluster of its own (pg_stat_statements.max is a postmaster setting; the shared test cluster
// keeps 5000), stopped when the test ends.
class EvictionCluster {
 public:
  EvictionCluster() : dir_(test::build_dir() + "/evict-pg"), port_(test::test_port() + 11) {
    sh("start " + dir_ + " " + std::to_string(port_));
    admin("ALTER SYSTEM SET pg_stat_statements.max = 100");
    sh("restart " + dir_);
    admin("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    admin(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'evict_app') THEN "
        "CREATE ROLE evict_app LOGIN; CREATE ROLE evict_monitor LOGIN IN ROLE pg_monitor; END IF; "
        "END $$");
    admin("SELECT pg_stat_statements_reset()");
  }
  ~EvictionCluster() { std::system((script() + " stop " + dir_).c_str()); }
  std::string dsn(const std::string& user) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres user=" + user;
  }
  double scalar(const std::string& sql) const {
    return std::stod(test::run_sql(dsn("postgres"), "SELECT (" + sql + ") AS v").text(0, "v"));
  }

 private:
  static std::string script() { return test::source_dir() + "/scripts/pg_local.sh"; }
  static void sh(const std::string& args) {
    if (std::system((script() + " " + args).c_str()) != 0)
      throw std::runtime_error("pg_local.sh " + args + " failed");
  }
  void admin(const std::string& sql) const { test::run_sql(dsn("postgres"), sql); }
  std::string dir_;
  int port_;
};

// Every cumulative value of `before` (counters, histogram counts, sums and buckets) is <= its value
// in `after`, and no series vanished.
void expect_no_decrease(const Snapshot& before, const Snapshot& after, int step) {
  for (const auto& fam : before.families) {
    if (fam.type != prometheus::MetricType::Counter &&
        fam.type != prometheus::MetricType::Histogram)
      continue;
    for (const auto& m : fam.metric) {
      Labels labels;
      for (const auto& l : m.label) labels.emplace_back(l.name, l.value);
      const prometheus::ClientMetric* a = test::find_metric(after, fam.name, labels);
      ASSERT_NE(a, nullptr) << fam.name << " vanished at step " << step;
      if (fam.type == prometheus::MetricType::Counter) {
        EXPECT_GE(a->counter.value, m.counter.value) << fam.name << " step " << step;
        continue;
      }
      EXPECT_GE(a->histogram.sample_count, m.histogram.sample_count)
          << fam.name << " step " << step;
      EXPECT_GE(a->histogram.sample_sum, m.histogram.sample_sum) << fam.name << " step " << step;
      for (std::size_t i = 0; i < m.histogram.bucket.size(); ++i) {
        EXPECT_GE(a->histogram.bucket[i].cumulative_count, m.histogram.bucket[i].cumulative_count)
            << fam.name << " bucket " << i << " step " << step;
      }
    }
  }
}

// Real eviction: with pg_stat_statements.max = 100, batches of new statement shapes (SELECT with
// 1..N constants: each count is its own queryid) make pg_stat_statements deallocate the least-used
// entries, among them a rarely called `victim` shape, while a `hot` shape survives.
TEST(StatementsEviction, EvictionsNeverMakeCountersDecreaseAndAreCountedAsDeallocAndLostCalls) {
  EvictionCluster cluster;
  Target t = make_target(cluster.dsn("evict_monitor"));
  t.query_classes = {query_class("hot"), query_class("victim"), query_class("flood")};
  CollectorRunner runner("statements", t);
  runner.settings().numbers["full_interval"] = 0;  // every run a full sample
  pqxx::connection app(cluster.dsn("evict_app"));
  pqxx::nontransaction tx(app);
  auto run = [&](const std::string& sql, int times) {
    for (int i = 0; i < times; ++i) tx.exec(sql);
  };
  const std::string hot = "/* q:hot */ SELECT count(*) FROM pg_class WHERE relkind = 'r'";
  const std::string victim =
      "/* q:victim */ SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'x%'";
  const Labels hot_labels{{"command", "select"}, {"class", "hot"}};
  const Labels victim_labels{{"command", "select"}, {"class", "victim"}};

  runner.run();  // baseline
  run(hot, 50);
  run(victim, 4);
  Snapshot prev = runner.run();
  ASSERT_EQ(value(prev, "pg_stat_statements_calls_total", victim_labels), 4);
  const double dealloc_start = value(prev, "pg_stat_statements_dealloc_total");
  const double lost_start = value(prev, "pg_stat_statements_lost_calls_total");
  int hot_calls = 50, shape = 1;
  for (int step = 1; step <= 4; ++step) {
    for (int i = 0; i < 60; ++i, ++shape) {
      std::string sql = "/* q:flood */ SELECT 1";
      for (int c = 0; c < shape; ++c) sql += ", 1";
      run(sql, 5);  // more used than the victim: it goes first
    }
    run(hot, 50);
    hot_calls += 50;
    Snapshot now = runner.run();
    expect_no_decrease(prev, now, step);
    prev = now;
  }
  const double server_dealloc = cluster.scalar("SELECT dealloc FROM pg_stat_statements_info");
  EXPECT_EQ(
      cluster.scalar("SELECT count(*) FROM pg_stat_statements WHERE query LIKE '/* q:victim */%'"),
      0)
      << "the victim was not evicted: the test proves nothing";
  EXPECT_GT(value(prev, "pg_stat_statements_dealloc_total"), dealloc_start);
  EXPECT_LE(value(prev, "pg_stat_statements_dealloc_total"), server_dealloc);
  // The vanished victim had 4 calls in its last interval: half of them are counted as lost.
  EXPECT_GE(value(prev, "pg_stat_statements_lost_calls_total") - lost_start, 2);
  EXPECT_EQ(value(prev, "pg_stat_statements_calls_total", victim_labels), 4);
  EXPECT_EQ(value(prev, "pg_stat_statements_calls_total", hot_labels), hot_calls);
  EXPECT_LE(value(prev, "pg_stat_statements_entries"), 100);

  // Re-created after its eviction: counted from zero, on top of what we had. The flood evicted the
  // exporter's own entries too; one run first lets them come back, so that their return does not
  // evict the victim's fresh 3-call entry again before the sample.
  prev = runner.run();
  run(victim, 3);
  Snapshot back = runner.run();
  expect_no_decrease(prev, back, 5);
  EXPECT_EQ(value(back, "pg_stat_statements_calls_total", victim_labels), 4 + 3);
}

// The exporter binary with the statements collector (plus probes and wal) after a workload of known
// shapes: its whole /metrics output passes `promtool check metrics`.
TEST(StatementsCollector, ExporterOutputPassesPromtoolCheckMetrics) {
  TestDatabase db;
  db.exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  const std::string config =
      "[exporter]\nconnect_timeout = \"2s\"\n[[target]]\nname = \"db\"\ndsn = \"" +
      db.dsn("pge_exporter") +
      "\"\n[[target.query_class]]\nname = \"roadmap\"\npattern = \"roadmap_items\"\n"
      "[[target.probe]]\nname = \"lookup\"\nsql = \"SELECT count(*) FROM public.roadmap_items\"\n"
      "[collectors.statements]\ninterval = \"1s\"\n[collectors.probes]\ninterval = \"1s\"\n";
  test::ExporterProcess exporter(config);
  pqxx::connection app(db.dsn());
  auto has_roadmap_calls = [](const std::vector<test::Sample>& s) {
    auto v =
        test::find_sample(s, "pg_stat_statements_duration_seconds_count", {{"class", "roadmap"}});
    return v && *v >= 20;
  };
  auto samples = exporter.wait_for(
      [&](const auto& s) {
        pqxx::nontransaction tx(app);
        for (int i = 0; i < 10; ++i)
          tx.exec("SELECT count(*) FROM public.roadmap_items WHERE status = 'active'");
        tx.exec("UPDATE public.roadmap_items SET updated_at = updated_at WHERE false");
        return has_roadmap_calls(s) &&
               test::find_sample(s, "pg_probe_duration_seconds_count").has_value();
      },
      20);
  ASSERT_TRUE(has_roadmap_calls(samples)) << exporter.log();
  ASSERT_TRUE(test::find_sample(samples, "pg_stat_statements_dealloc_total"));
  auto [rc, lint] = test::promtool_check_metrics(
      exporter.metrics(), test::build_dir() + "/statements_metrics_" + db.name() + ".txt");
  EXPECT_EQ(rc, 0) << lint;
}

TEST(StatementsCollector, MissingExtensionIsAClearError) {
  TestDatabase db;
  db.exec("DROP EXTENSION IF EXISTS pg_stat_statements");
  CollectorRunner runner("statements", make_target(db.dsn("pge_exporter")));
  try {
    runner.run();
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("pg_stat_statements is not installed in database " +
                                               db.name()));
  }
}

TEST(StatementsCollector, MissingPrivilegeIsAClearError) {
  TestDatabase db;
  db.exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  db.exec(
      "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pge_nostats') THEN "
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
  t.write_probe.dsn = db.dsn("pge_probe_writer");
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
}  // namespace pge::test
