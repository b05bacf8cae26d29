// The scheduler's per-target loop, stepped with made-up time points on a fake database: each
// collector at its own interval, no catch-up after a stall, idle runs, failures, reconnecting, and
// moving to a reloaded configuration; and which targets a reload keeps, restarts, removes or adds.
#include "exporter/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "tests/support/test_support.h"

namespace pge {
namespace {

using std::chrono::seconds;
using TimePoint = TargetWorker::Clock::time_point;

class SchedulerStep : public ::testing::Test {
 protected:
  // Registers a collector that counts its runs, with the given interval, behaviour and idleness.
  void add(const std::string& name, Seconds interval, test::ScriptedCollector::Run run = {},
           std::function<bool()> idle = {}) {
    config_.collectors[name].interval = interval;
    int* count = &runs_[name];
    int* instances = &instances_[name];
    test::ScriptedCollector::Run counted = [count, run, name](Session& s, CollectContext& ctx) {
      ++*count;
      if (run) return run(s, ctx);
      SnapshotBuilder b;
      b.gauge("pg_" + name, "help", {}, *count);
      return b.take();
    };
    collectors_.push_back({.name = name, .code = {.make = [counted, idle, instances] {
                                           ++*instances;
                                           return std::make_unique<test::ScriptedCollector>(
                                               counted, false, idle);
                                         }}});
  }

  TargetWorker& worker() {
    if (!worker_) {
      auto db = std::make_unique<test::FakeDatabase>();
      db_ = db.get();
      worker_ =
          std::make_unique<TargetWorker>(config_, target_, store_, std::move(db), collectors_);
    }
    return *worker_;
  }

  TimePoint step(seconds after_start) { return worker().step(t0_ + after_start, stopping_); }

  std::shared_ptr<const SerializedSnapshot> stored(const std::string& collector) const {
    const auto view = store_.view();
    const auto& snapshots = view.at(target_.name).snapshots;
    auto it = snapshots.find(collector);
    return it == snapshots.end() ? nullptr : it->second;
  }

  // A sample of a stored (serialized) snapshot, read back from its text.
  std::optional<double> stored_value(const std::string& collector, const std::string& name,
                                     const std::map<std::string, std::string>& labels = {}) const {
    std::string text;
    for (const auto& family : stored(collector)->families) text += family.header + family.samples;
    return test::find_sample(test::parse_exposition(text), name, labels);
  }

  // Hands the worker `next` (a reloaded configuration, kept alive by the fixture).
  void reconfigure(Config next) {
    reloaded_ = std::make_unique<Config>(std::move(next));
    worker().reconfigure(*reloaded_, target_);
  }

  Config config_;
  std::unique_ptr<Config> reloaded_;
  Target target_ = test::make_target("host=unused", "main");
  std::vector<CollectorInfo> collectors_;
  SnapshotStore store_;
  std::map<std::string, int> runs_;
  std::map<std::string, int> instances_;  // collector objects made, by name
  std::atomic<bool> stopping_{false};
  TimePoint t0_ = TimePoint{} + std::chrono::hours(1);
  test::FakeDatabase* db_ = nullptr;
  std::unique_ptr<TargetWorker> worker_;
};

TEST_F(SchedulerStep, RunsEachCollectorAtItsOwnInterval) {
  add("fast", Seconds{10});
  add("slow", Seconds{30});
  EXPECT_EQ(step(seconds(0)), t0_ + seconds(5));  // never sleeps longer than 5 s
  for (int t = 5; t <= 60; t += 5) step(seconds(t));
  EXPECT_EQ(runs_["fast"], 7);  // 0, 10, ..., 60
  EXPECT_EQ(runs_["slow"], 3);  // 0, 30, 60
  EXPECT_EQ(db_->transactions.size(), 10u);
  EXPECT_EQ(stored_value("fast", "pg_fast", {{"target", "main"}}), 7);
}

TEST_F(SchedulerStep, ReturnsTheEarliestNextRun) {
  add("quick", Seconds{2});
  add("fast", Seconds{3});
  EXPECT_EQ(step(seconds(0)), t0_ + seconds(2));
  EXPECT_EQ(step(seconds(2)), t0_ + seconds(3));
  EXPECT_EQ(runs_["quick"], 2);
  EXPECT_EQ(runs_["fast"], 1);
}

TEST_F(SchedulerStep, AfterAStallRunsOnceAndStartsANewIntervalInsteadOfCatchingUp) {
  add("fast", Seconds{10});
  step(seconds(0));
  step(seconds(95));  // nine runs were missed
  EXPECT_EQ(runs_["fast"], 2);
  step(seconds(100));
  EXPECT_EQ(runs_["fast"], 2);
  step(seconds(105));
  EXPECT_EQ(runs_["fast"], 3);
}

// A collector that sleeps 20 ms per run while `slow` is set.
test::ScriptedCollector::Run sleeping(const bool& slow) {
  return [&slow](Session&, CollectContext&) -> Snapshot {
    if (slow) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return {};
  };
}

TEST_F(SchedulerStep, ACollectorBeyondTheDutyCycleSpreadsOutAndComesBackWhenCheapAgain) {
  bool slow = true;
  add("tables", Seconds{10}, sleeping(slow));
  config_.duty_cycle = 0.001;  // 10 ms per 10 s
  step(seconds(0));
  const CollectorStatus st = store_.status("main", "tables");
  EXPECT_GE(st.effective_interval_seconds, 20);  // at least 20 ms / 0.001
  EXPECT_DOUBLE_EQ(st.effective_interval_seconds, st.duration_seconds / 0.001);
  // A spread-out collector is not stale: its limit follows the effective interval.
  EXPECT_DOUBLE_EQ(store_.view().at("main").collectors.at("tables").staleness_limit_seconds,
                   3 * st.effective_interval_seconds + 5);
  const auto next = seconds(static_cast<long>(std::ceil(st.effective_interval_seconds)));
  for (auto t = seconds(10); t < next; t += seconds(10)) step(t);
  EXPECT_EQ(runs_["tables"], 1);
  slow = false;
  step(next);
  EXPECT_EQ(runs_["tables"], 2);
  EXPECT_EQ(store_.status("main", "tables").effective_interval_seconds, 10);
  EXPECT_EQ(store_.view().at("main").collectors.at("tables").staleness_limit_seconds, 3 * 10 + 5);
  step(next + seconds(10));
  EXPECT_EQ(runs_["tables"], 3);
}

TEST_F(SchedulerStep, OnlyTheExpensiveCollectorsSpreadOutTheCheapOnesKeepTheirInterval) {
  const bool slow = true;
  add("cheap", Seconds{10});
  add("tables", Seconds{10}, sleeping(slow));
  add("indexes", Seconds{10}, sleeping(slow));
  config_.duty_cycle = 0.002;
  step(seconds(0));
  EXPECT_EQ(store_.status("main", "cheap").effective_interval_seconds, 10);
  // The two expensive ones share what the cheap one leaves, about 0.001 each. (The stored status
  // of `tables` shows the interval set at its own run, before `indexes` had run; its staleness
  // limit and schedule follow at once.)
  const CollectorStatus indexes = store_.status("main", "indexes");
  EXPECT_GE(indexes.effective_interval_seconds, 20);
  EXPECT_NEAR(indexes.effective_interval_seconds, indexes.duration_seconds / 0.001,
              0.01 * indexes.effective_interval_seconds);
  const double tables_interval = store_.status("main", "tables").duration_seconds / 0.001;
  EXPECT_NEAR(store_.view().at("main").collectors.at("tables").staleness_limit_seconds,
              3 * tables_interval + 5, 0.03 * tables_interval);
  step(seconds(10));
  EXPECT_EQ(runs_["cheap"], 2);
  EXPECT_EQ(runs_["tables"], 1);
}

TEST_F(SchedulerStep, WithinTheDutyCycleEveryCollectorKeepsItsConfiguredInterval) {
  const bool slow = true;
  add("tables", Seconds{10}, sleeping(slow));
  config_.duty_cycle = 1;
  step(seconds(0));
  step(seconds(10));
  EXPECT_EQ(runs_["tables"], 2);
  EXPECT_EQ(store_.status("main", "tables").effective_interval_seconds, 10);
}

TEST_F(SchedulerStep, LeavesOutDisabledCollectors) {
  add("fast", Seconds{10});
  add("off", Seconds{10});
  config_.collectors["off"].enabled = false;
  step(seconds(0));
  EXPECT_EQ(runs_["off"], 0);
  EXPECT_FALSE(store_.view().at("main").collectors.count("off"));
}

TEST_F(SchedulerStep, AnIdleCollectorKeepsItsLastSnapshotAndStatusWithoutATransaction) {
  bool idle = false;
  add("statements", Seconds{10}, {}, [&idle] { return idle; });
  step(seconds(0));
  const CollectorStatus first = store_.status("main", "statements");
  ASSERT_TRUE(first.success);
  idle = true;
  step(seconds(10));
  EXPECT_EQ(runs_["statements"], 1);
  EXPECT_EQ(db_->transactions.size(), 1u);
  EXPECT_EQ(store_.status("main", "statements").last_run_unix, first.last_run_unix);
  ASSERT_NE(stored("statements"), nullptr);
  EXPECT_EQ(stored_value("statements", "pg_statements"), 1);
}

TEST_F(SchedulerStep, AFailedRunDropsTheSnapshotAndCountsTheErrorAndLockTimeout) {
  bool fail = false;
  add("tables", Seconds{10}, [&fail](Session&, CollectContext&) -> Snapshot {
    if (fail) throw QueryError("ERROR:  canceling statement due to lock timeout", "55P03");
    return {};
  });
  step(seconds(0));
  ASSERT_NE(stored("tables"), nullptr);
  fail = true;
  step(seconds(10));
  const CollectorStatus st = store_.status("main", "tables");
  EXPECT_FALSE(st.success);
  EXPECT_EQ(st.errors_total, 1);
  EXPECT_EQ(st.lock_timeouts_total, 1);
  EXPECT_EQ(st.last_error, "ERROR:  canceling statement due to lock timeout");
  EXPECT_EQ(stored("tables"), nullptr);
  EXPECT_TRUE(store_.view().at("main").up);  // one collector's failure is not the target's
}

TEST_F(SchedulerStep, WaitsOutTheBackOffWhileTheDatabaseIsDownThenConnects) {
  add("fast", Seconds{10});
  worker();
  db_->refuse_connects = 2;
  EXPECT_EQ(step(seconds(0)), t0_ + seconds(1));  // the back-off of the fake
  EXPECT_FALSE(store_.view().at("main").up);
  EXPECT_EQ(store_.view().at("main").last_error, "connection refused");
  step(seconds(1));
  EXPECT_EQ(runs_["fast"], 0);
  step(seconds(2));
  EXPECT_TRUE(store_.view().at("main").up);
  EXPECT_EQ(db_->connects, 1);
  EXPECT_EQ(runs_["fast"], 1);
}

TEST_F(SchedulerStep, ALostConnectionMarksTheTargetDownClearsItsSnapshotsAndReconnects) {
  bool lose = false;
  add("fast", Seconds{10});
  add("flaky", Seconds{10}, [&lose](Session&, CollectContext&) -> Snapshot {
    if (lose) throw ConnectionLost("server closed the connection unexpectedly");
    return {};
  });
  step(seconds(0));
  ASSERT_NE(stored("fast"), nullptr);
  lose = true;
  EXPECT_EQ(step(seconds(10)), t0_ + seconds(10));  // straight back to reconnect
  EXPECT_FALSE(db_->is_open());
  EXPECT_FALSE(store_.view().at("main").up);
  EXPECT_EQ(stored("fast"), nullptr);
  EXPECT_EQ(store_.status("main", "flaky").errors_total, 1);
  lose = false;
  EXPECT_EQ(step(seconds(10)), t0_ + seconds(11));  // back-off
  step(seconds(11));
  EXPECT_TRUE(store_.view().at("main").up);
  EXPECT_EQ(db_->connects, 2);
}

TEST_F(SchedulerStep, StopsBetweenCollectorsWhenAskedTo) {
  add("first", Seconds{10}, [this](Session&, CollectContext&) -> Snapshot {
    stopping_ = true;
    return {};
  });
  add("second", Seconds{10});
  step(seconds(0));
  EXPECT_EQ(runs_["first"], 1);
  EXPECT_EQ(runs_["second"], 0);
}

TEST_F(SchedulerStep, AReloadKeepsTheConnectionScheduleStatusAndSnapshotOfUnchangedCollectors) {
  bool fail = true;
  add("fast", Seconds{10}, [&fail](Session&, CollectContext&) -> Snapshot {
    if (fail) throw QueryError("ERROR:  boom", "XX000");
    SnapshotBuilder b;
    b.gauge("pg_fast", "help", {}, 1);
    return b.take();
  });
  step(seconds(0));
  fail = false;
  step(seconds(10));
  reconfigure(config_);
  EXPECT_EQ(db_->connects, 1);
  EXPECT_EQ(instances_["fast"], 1);
  EXPECT_EQ(store_.status("main", "fast").errors_total, 1);
  ASSERT_NE(stored("fast"), nullptr);
  step(seconds(15));
  EXPECT_EQ(runs_["fast"], 2);  // still due at 20, not at once
  step(seconds(20));
  EXPECT_EQ(runs_["fast"], 3);
  EXPECT_EQ(store_.status("main", "fast").errors_total, 1);
}

TEST_F(SchedulerStep,
       AReloadRestartsAChangedCollectorAtOnceKeepingItsCountersAndSnapshotUntilItRuns) {
  add("fast", Seconds{10});
  add("slow", Seconds{30});
  step(seconds(0));
  Config next = config_;
  next.collectors["fast"].interval = Seconds{20};
  next.collectors["fast"].numbers["knob"] = 1;
  reconfigure(next);
  EXPECT_EQ(instances_["fast"], 2);
  EXPECT_EQ(instances_["slow"], 1);
  ASSERT_NE(stored("fast"), nullptr);
  EXPECT_EQ(store_.view().at("main").collectors.at("fast").staleness_limit_seconds, 3 * 20 + 5);
  step(seconds(1));
  EXPECT_EQ(runs_["fast"], 2);  // the new instance runs at once
  step(seconds(11));
  EXPECT_EQ(runs_["fast"], 2);  // then every 20 s
  step(seconds(21));
  EXPECT_EQ(runs_["fast"], 3);
  EXPECT_EQ(runs_["slow"], 1);
  EXPECT_EQ(db_->connects, 1);
}

TEST_F(SchedulerStep, AReloadDropsADisabledCollectorFromTheStoreAndStartsAnEnabledOne) {
  add("fast", Seconds{10});
  add("later", Seconds{10});
  config_.collectors["later"].enabled = false;
  step(seconds(0));
  Config next = config_;
  next.collectors["fast"].enabled = false;
  next.collectors["later"].enabled = true;
  reconfigure(next);
  const auto view = store_.view().at("main");
  EXPECT_FALSE(view.collectors.count("fast"));
  EXPECT_FALSE(view.snapshots.count("fast"));
  step(seconds(1));
  EXPECT_EQ(runs_["later"], 1);
  EXPECT_EQ(runs_["fast"], 1);
  EXPECT_EQ(db_->connects, 1);
}

TEST_F(SchedulerStep, AReloadSetsTheReconnectBackOffCapFromTheNewShortestInterval) {
  add("fast", Seconds{10});
  config_.max_backoff = Seconds{60};
  step(seconds(0));
  Config next = config_;
  next.collectors["fast"].interval = Seconds{4};
  reconfigure(next);
  EXPECT_EQ(db_->max_backoff, Seconds{4});
}

class DiffConfigs : public ::testing::Test {
 protected:
  DiffConfigs() {
    running_.collectors["tables"].interval = Seconds{30};
    running_.targets = {test::make_target("host=a", "a"), test::make_target("host=b", "b"),
                        test::make_target("host=c", "c")};
    next_ = running_;
  }
  ConfigChanges diff() const { return diff_configs(running_, next_); }
  Config running_, next_;
};

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST_F(DiffConfigs, AnUnchangedConfigurationKeepsEveryTarget) {
  const ConfigChanges c = diff();
  EXPECT_THAT(c.kept, ElementsAre("a", "b", "c"));
  EXPECT_THAT(c.restarted, IsEmpty());
  EXPECT_THAT(c.collectors_changed, IsEmpty());
}

TEST_F(DiffConfigs, AChangedTargetIsRestartedARemovedOneRemovedAnAddedOneAdded) {
  next_.targets[0].dsn = "host=a2";
  next_.targets[1].include_tables.push_back({"^x$", std::regex("^x$", std::regex::extended)});
  next_.targets.pop_back();
  next_.targets.push_back(test::make_target("host=d", "d"));
  const ConfigChanges c = diff();
  EXPECT_THAT(c.kept, IsEmpty());
  EXPECT_THAT(c.restarted, ElementsAre("a", "b"));
  EXPECT_THAT(c.removed, ElementsAre("c"));
  EXPECT_THAT(c.added, ElementsAre("d"));
}

TEST_F(DiffConfigs, ALabelOrSeriesBudgetChangeRestartsOnlyThatTarget) {
  next_.targets[0].labels["env"] = "prod";
  next_.targets[2].series_budget = 10;
  const ConfigChanges c = diff();
  EXPECT_THAT(c.kept, ElementsAre("b"));
  EXPECT_THAT(c.restarted, ElementsAre("a", "c"));
}

TEST_F(DiffConfigs, ConnectionSettingsRestartEveryTarget) {
  for (auto change : {+[](Config& c) { c.connect_timeout = Seconds{9}; },
                      +[](Config& c) { c.query_deadline_margin = Seconds{3}; }}) {
    next_ = running_;
    change(next_);
    EXPECT_THAT(diff().restarted, ElementsAre("a", "b", "c"));
  }
}

TEST_F(DiffConfigs, CollectorLockTimeoutAndBackOffSettingsKeepTheTargets) {
  next_.collectors["tables"].interval = Seconds{5};
  next_.lock_timeout = Seconds{2};
  next_.max_backoff = Seconds{5};
  const ConfigChanges c = diff();
  EXPECT_THAT(c.kept, ElementsAre("a", "b", "c"));
  EXPECT_THAT(c.collectors_changed, ElementsAre("tables"));
}

TEST(ConfigEquality, PatternsCompareByTheirSourceText) {
  const Pattern a{"^x$", std::regex("^x$", std::regex::extended)};
  const Pattern b{"^x$", std::regex("^x$", std::regex::extended)};
  const Pattern c{"^y$", std::regex("^y$", std::regex::extended)};
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == c);
}

}  // namespace
}  // namespace pge
