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
  // Relations skipped for other reasons than a lock, by reason (e.g. insufficient_privilege).
  std::map<std::string, double> relations_skipped_total;
  std::size_t series = 0;
  std::string last_error;  // password-free
  // Age of the last success after which its snapshot is no longer served (set by declare()).
  double staleness_limit_seconds = 0;
  // The interval the scheduler runs the collector at: the configured one, or longer when the
  // target's collectors would keep its connection busy beyond exporter.duty_cycle.
  double effective_interval_seconds = 0;
  bool stale = false;  // computed by view(): last success older than the limit (or none yet)
  std::size_t series_dropped = 0;  // left out of the last successful run by the series budget
};

struct TargetState {
  bool up = false;
  // A statement passed its client deadline; cleared when a statement answers again. pg_up is
  // exported as up && !stalled.
  bool stalled = false;
  double deadline_cancels_total = 0;
  double deadline_disconnects_total = 0;
  std::size_t series_budget = 0;  // 0 = none
  std::string last_error;
  std::map<std::string, CollectorStatus> collectors;
  std::map<std::string, std::shared_ptr<const SerializedSnapshot>> snapshots;
};

class SnapshotStore {
 public:
  using View = std::map<std::string, TargetState>;  // by target name, ordered

  // The collectors of a target with their staleness limits (seconds).
  void declare(const std::string& target,
               const std::vector<std::pair<std::string, double>>& collectors);
  void set_up(const std::string& target, bool up, const std::string& error = "");
  // A statement of the target passed its client deadline (`disconnect`: and its connection was
  // dropped). Marks the target stalled and counts it.
  void deadline_exceeded(const std::string& target, bool disconnect);
  // A statement answered: the target is no longer stalled.
  void answered(const std::string& target);
  void set_series_budget(const std::string& target, std::size_t budget);
  // Stores a collector's run: its snapshot, serialized here on the caller's thread (nullptr on
  // failure, which drops the old one: stale data must not pass for current) and its status.
  void put(const std::string& target, const std::string& collector,
           std::shared_ptr<const Snapshot> snapshot, const CollectorStatus& status);
  // Records a run that had nothing to read: the status is refreshed, the snapshot kept.
  void touch(const std::string& target, const std::string& collector,
             const CollectorStatus& status);
  // Drops every snapshot of a target (its connection is gone).
  void clear_snapshots(const std::string& target);
  // Drops a collector's snapshot and status (disabled by a reload).
  void forget_collector(const std::string& target, const std::string& collector);
  // Drops everything about a target (removed or restarted by a reload).
  void remove(const std::string& target);
  CollectorStatus status(const std::string& target, const std::string& collector) const;
  // A copy of everything, with the snapshots older than their staleness limit at `now_unix` left
  // out and marked stale.
  View view(double now_unix) const;
  View view() const;  // at the current time

 private:
  mutable std::mutex mu_;
  View targets_;  // guarded by mu_
};

}  // namespace pge
