// Runs every enabled collector of every target at its own interval. One worker thread and one
// database connection per target; collectors of a target run one after another on that connection,
// each in its own read-only transaction with statement and lock timeouts. Results go to the
// SnapshotStore. start() and stop() are called from the main thread only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/config.h"
#include "exporter/store.h"

namespace pge {

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
