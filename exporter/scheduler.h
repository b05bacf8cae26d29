// Runs every enabled collector of every target at its own interval. One worker thread and one
// database connection per target; collectors of a target run one after another on that connection,
// each through `run_once` (its own transaction with statement and lock timeouts). Results go to the
// SnapshotStore. start() and stop() are called from the main thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collectors/run_once.h"
#include "core/config.h"
#include "core/session.h"
#include "exporter/series_budget.h"
#include "exporter/store.h"

namespace pge {

// The schedule of one target: connects (with the Database's back-off), runs the collectors that are
// due and records each run in the store. It never sleeps and never reads the clock: step() gets the
// time from its caller and returns when it wants to be called again, so tests drive it with their
// own time points and a fake Database. Used by one thread at a time.
class TargetWorker {
 public:
  using Clock = std::chrono::steady_clock;

  // `collectors` (normally collector_registry()) must outlive the worker; the disabled ones in
  // config.collectors are left out.
  TargetWorker(const Config& config, const Target& target, SnapshotStore& store,
               std::unique_ptr<Database> db, const std::vector<CollectorInfo>& collectors);
  ~TargetWorker();

  // Connects if needed and runs every collector due at `now`, unless `stopping` turns true in
  // between. Returns the time of the next step: the earliest next run, at most 5 s away, or the end
  // of the connection back-off.
  Clock::time_point step(Clock::time_point now, const std::atomic<bool>& stopping);

 private:
  struct Scheduled;
  bool connect(Clock::time_point now);
  void record(Scheduled& s, RunResult&& result);

  const Config& config_;
  const Target& target_;
  SnapshotStore& store_;
  std::unique_ptr<Database> db_;
  SeriesBudget budget_;
  std::vector<Scheduled> scheduled_;
  std::string last_connect_error_;
};

class Scheduler {
 public:
  Scheduler(const Config& config, SnapshotStore& store);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void start();
  void stop();  // wakes every worker and joins it; an in-flight query ends at its statement_timeout

 private:
  void run_target(const Target& target);
  // Sleeps until `deadline` or stop(); returns false when stopping.
  bool sleep_until(std::chrono::steady_clock::time_point deadline);

  const Config& config_;
  SnapshotStore& store_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<bool> stopping_{false};
};

}  // namespace pge
