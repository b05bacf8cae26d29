// The io collector against the server's own views, read by SQL just before and just after each run
// (checkpoints and I/O are cluster-wide and other tests run alongside): every counter lies between
// the two. The same metric names hold on 15 (pg_stat_bgwriter) and 17 (pg_stat_checkpointer).
#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace pge::test {
namespace {

int server_version(const TestDatabase& db) {
  return static_cast<int>(db.scalar("SELECT current_setting('server_version_num')::int"));
}

// A metric and the SQL that reads its truth on the server under test.
struct Truth {
  std::string metric;
  std::string sql;
  double scale = 1.0;
};

std::vector<Truth> checkpoint_truths(int version) {
  const bool v17 = version >= 170000;
  const std::string from = v17 ? " FROM pg_stat_checkpointer" : " FROM pg_stat_bgwriter";
  return {
      {"pg_stat_checkpointer_num_timed_total",
       (v17 ? "SELECT num_timed" : "SELECT checkpoints_timed") + from},
      {"pg_stat_checkpointer_num_requested_total",
       (v17 ? "SELECT num_requested" : "SELECT checkpoints_req") + from},
      {"pg_stat_checkpointer_buffers_written_total",
       (v17 ? "SELECT buffers_written" : "SELECT buffers_checkpoint") + from},
      {"pg_stat_checkpointer_write_time_seconds_total",
       (v17 ? "SELECT write_time" : "SELECT checkpoint_write_time") + from, 1e-3},
      {"pg_stat_checkpointer_sync_time_seconds_total",
       (v17 ? "SELECT sync_time" : "SELECT checkpoint_sync_time") + from, 1e-3},
      {"pg_stat_bgwriter_buffers_clean_total", "SELECT buffers_clean FROM pg_stat_bgwriter"},
      {"pg_stat_bgwriter_buffers_alloc_total", "SELECT buffers_alloc FROM pg_stat_bgwriter"},
  };
}

void expect_between_before_and_after(const TestDatabase& db, CollectorRunner& runner,
                                     const std::vector<Truth>& truths, const Labels& labels = {}) {
  std::vector<double> before;
  for (const auto& t : truths) before.push_back(db.scalar(t.sql) * t.scale);
  Snapshot s = runner.run();
  for (std::size_t i = 0; i < truths.size(); ++i) {
    const double after = db.scalar(truths[i].sql) * truths[i].scale;
    const double got = value(s, truths[i].metric, labels);
    EXPECT_GE(got, before[i] - 1e-9) << truths[i].metric;
    EXPECT_LE(got, after + 1e-9) << truths[i].metric;
  }
}

TEST(IoCollector, CheckpointCountersMatchTheServerUnderOneNameOnEveryVersion) {
  TestDatabase db;
  db.exec("CHECKPOINT");
  CollectorRunner runner("io", test::make_target(db.dsn("pge_exporter")));
  const int version = server_version(db);
  expect_between_before_and_after(db, runner, checkpoint_truths(version));

  Snapshot s = runner.run();
  EXPECT_GE(value(s, "pg_stat_checkpointer_num_requested_total"), 1);
  // Each version exports what it has, never a made-up 0 for what it has not.
  EXPECT_EQ(find_value(s, "pg_stat_checkpointer_restartpoints_done_total").has_value(),
            version >= 170000);
  EXPECT_EQ(find_value(s, "pg_stat_bgwriter_buffers_backend_total").has_value(), version < 170000);
}

TEST(IoCollector, PgStatIoRowsMatchTheServerFrom16On) {
  TestDatabase db;
  CollectorRunner runner("io", test::make_target(db.dsn("pge_exporter")));
  const int version = server_version(db);
  if (version < 160000) {
    EXPECT_EQ(count_series(runner.run(), "pg_stat_io_reads_total"), 0u);  // no such view before 16
    return;
  }
  db.exec("CREATE TABLE public.io_probe AS SELECT g FROM generate_series(1, 20000) g");
  const std::string row =
      " FROM pg_stat_io WHERE backend_type = 'client backend' AND object = 'relation' AND context "
      "= 'normal'";
  expect_between_before_and_after(
      db, runner,
      {{"pg_stat_io_hits_total", "SELECT hits" + row},
       {"pg_stat_io_extends_total", "SELECT extends" + row},
       {"pg_stat_io_read_time_seconds_total", "SELECT read_time" + row, 1e-3}},
      {{"backend_type", "client backend"}, {"object", "relation"}, {"context", "normal"}});
  // One series per row where the operation exists; NULL (impossible for that row) is no series.
  Snapshot s = runner.run();
  EXPECT_EQ(static_cast<double>(count_series(s, "pg_stat_io_reads_total")),
            db.scalar("SELECT count(reads) FROM pg_stat_io"));
  EXPECT_EQ(static_cast<double>(count_series(s, "pg_stat_io_fsyncs_total")),
            db.scalar("SELECT count(fsyncs) FROM pg_stat_io"));
}

}  // namespace
}  // namespace pge::test
