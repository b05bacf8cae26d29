// Runs every enabled collector of every target at its own interval. One worker thread and one
// database connection per target; collectors of a target run one after another on that connection,
// each in its own read-only transaction with statement and lock timeouts, every statement under a
// client deadline (QueryWatchdog) so that a hung server marks the target down instead of freezing
// it with pg_up 1. Results go to the SnapshotStore. start() and stop() are called from the main
// thread only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/query_watchdog.h"
#include "exporter/store.h"

namespace pge {

class Scheduler {
 public:
  Scheduler(const Config& config, SnapshotStore& store);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void start();
  // Wakes every worker, cancels the statements in flight (their connections are dropped if the
  // cancel is not answered within a second) and joins the workers. Returns false, leaving them
  // running, when they have not all ended within `grace` (a connect can block for connect_timeout):
  // the caller then exits without them.
  bool stop(Seconds grace);

 private:
  struct Worker {
    std::thread thread;
    bool done = false;  // guarded by mu_
  };
  void run_target(const Target& target, std::shared_ptr<QueryWatchdog> watchdog);
  // Sleeps until `deadline` or stop(); returns false when stopping.
  bool sleep_until(std::chrono::steady_clock::time_point deadline);

  const Config& config_;
  SnapshotStore& store_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::shared_ptr<QueryWatchdog>> watchdogs_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<bool> stopping_{false};
};

}  // namespace pge
