// The latest snapshot and run status of every (target, collector), plus each target's pg_up.
// Written by the target workers, read by the HTTP threads; all methods are thread-safe. Snapshots
// are stored serialized (text and deflate pieces, see exposition.h), never as metric objects: the
// worker serializes before taking the lock. Readers get a consistent copy of shared pointers to
// immutable serialized snapshots, so a scrape never blocks a collector for longer than that copy,
// and never waits on the database.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/snapshot.h"
#include "exporter/exposition.h"

namespace pge {

struct CollectorStatus {
  bool ran = false;
  bool success = false;
  double duration_seconds = 0;
  double last_success_unix = 0;  // 0 = never
  double last_run_unix = 0;
  double errors_total = 0;
  double lock_skips_total = 0;
  double lock_timeouts_total = 0;
  std::size_t series = 0;
  std::string last_error;  // password-free
  std::size_t series_dropped = 0;  // left out of the last successful run by the series budget
};

struct TargetState {
  bool up = false;
  std::size_t series_budget = 0;  // 0 = none
  std::string last_error;
  std::map<std::string, CollectorStatus> collectors;
  std::map<std::string, std::shared_ptr<const SerializedSnapshot>> snapshots;
};

class SnapshotStore {
 public:
  using View = std::map<std::string, TargetState>;  // by target name, ordered

  void declare(const std::string& target, const std::vector<std::string>& collectors);
  void set_up(const std::string& target, bool up, const std::string& error = "");
  void set_series_budget(const std::string& target, std::size_t budget);
  // Stores a collector's run: its snapshot, serialized here on the caller's thread (nullptr on
  // failure, which drops the old one: stale data must not pass for current) and its status.
  void put(const std::string& target, const std::string& collector,
           std::shared_ptr<const Snapshot> snapshot, const CollectorStatus& status);
  // Drops every snapshot of a target (its connection is gone).
  void clear_snapshots(const std::string& target);
  CollectorStatus status(const std::string& target, const std::string& collector) const;
  View view() const;

 private:
  mutable std::mutex mu_;
  View targets_;  // guarded by mu_
};

}  // namespace pge
