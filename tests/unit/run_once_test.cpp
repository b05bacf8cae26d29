// run_once, the one path every collector run takes (scheduler and tests): limits, labels, idle
// runs, and every kind of failure turned into a value.
#include "collectors/run_once.h"

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace pge {
namespace {

class RunOnce : public ::testing::Test {
 protected:
  RunOnce() {
    target_.labels = {{"env", "prod"}};
    settings_.timeout = Seconds{7};
    db_.ensure_open({}, nullptr);
  }

  RunResult run(test::ScriptedCollector collector) {
    return run_once(collector, db_, {target_, settings_, Seconds{0.25}});
  }

  static Snapshot one_gauge(Session&, CollectContext&) {
    SnapshotBuilder b;
    b.gauge("pg_x", "x", {{"relname", "t"}}, 1);
    return b.take();
  }

  Target target_ = test::make_target("host=unused", "main");
  CollectorSettings settings_;
  test::FakeDatabase db_;
};

TEST_F(RunOnce, RunsInAReadOnlyTransactionWithTheCollectorsAndTheExportersTimeouts) {
  RunResult r = run(test::ScriptedCollector(one_gauge));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(db_.transactions.size(), 1u);
  EXPECT_TRUE(db_.transactions[0].read_only);
  EXPECT_DOUBLE_EQ(db_.transactions[0].statement_timeout.count(), 7);
  EXPECT_DOUBLE_EQ(db_.transactions[0].lock_timeout.count(), 0.25);
  EXPECT_GE(r.duration.count(), 0);
}

TEST_F(RunOnce, AWritingCollectorGetsAReadWriteTransaction) {
  run(test::ScriptedCollector(one_gauge, true));
  ASSERT_EQ(db_.transactions.size(), 1u);
  EXPECT_FALSE(db_.transactions[0].read_only);
}

TEST_F(RunOnce, PutsTheTargetAndItsConstantLabelsOnEverySeries) {
  RunResult r = run(test::ScriptedCollector(one_gauge));
  EXPECT_EQ(
      test::value(r.snapshot(), "pg_x", {{"target", "main"}, {"env", "prod"}, {"relname", "t"}}),
      1);
}

TEST_F(RunOnce, AnIdleCollectorOpensNoTransaction) {
  RunResult r = run(test::ScriptedCollector(one_gauge, false, [] { return true; }));
  EXPECT_FALSE(r.ran);
  EXPECT_TRUE(db_.transactions.empty());
}

TEST_F(RunOnce, ReportsLockSkipsCountedByTheCollector) {
  RunResult r = run(test::ScriptedCollector([](Session& s, CollectContext& ctx) {
    ctx.lock_skips += 2;
    return one_gauge(s, ctx);
  }));
  EXPECT_EQ(r.lock_skips, 2);
}

TEST_F(RunOnce, ADatabaseErrorKeepsItsSqlstateAndFirstLine) {
  RunResult r = run(test::ScriptedCollector([](Session&, CollectContext&) -> Snapshot {
    throw QueryError("ERROR:  canceling statement due to lock timeout\nCONTEXT: x", "55P03");
  }));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "ERROR:  canceling statement due to lock timeout");
  EXPECT_EQ(r.error().sqlstate, "55P03");
  EXPECT_TRUE(r.error().is_lock_timeout());
  EXPECT_FALSE(r.error().connection_lost);
}

TEST_F(RunOnce, ALostConnectionIsMarkedSoTheCallerReconnects) {
  RunResult r = run(test::ScriptedCollector([](Session&, CollectContext&) -> Snapshot {
    throw ConnectionLost("server closed the connection unexpectedly");
  }));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().connection_lost);
  EXPECT_EQ(r.error().message, "connection lost: server closed the connection unexpectedly");
}

TEST_F(RunOnce, AnyExceptionBecomesAnErrorValue) {
  RunResult std_error = run(test::ScriptedCollector([](Session&, CollectContext&) -> Snapshot {
    throw std::out_of_range("result has no column 'x'");
  }));
  ASSERT_FALSE(std_error.ok());
  EXPECT_EQ(std_error.error().message, "result has no column 'x'");
  EXPECT_EQ(std_error.error().sqlstate, "");
  RunResult odd =
      run(test::ScriptedCollector([](Session&, CollectContext&) -> Snapshot { throw 42; }));
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.error().message, "unknown exception (not derived from std::exception)");
}

}  // namespace
}  // namespace pge
