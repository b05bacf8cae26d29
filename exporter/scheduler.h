// Runs every enabled collector of every target at its own interval. One worker thread and one
// database connection per target; collectors of a target run one after another on that connection,
// each through `run_once` (its own transaction with statement and lock timeouts), every statement
// under a client deadline (QueryWatchdog) so that a hung server marks the target down instead of
// freezing it with pg_up 1. Results go to the SnapshotStore. A new configuration (a reload) reaches
// the running workers through apply(): see ConfigChanges. start(), apply() and stop() may be called
// from any thread; they run one at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collectors/run_once.h"
#include "core/config.h"
#include "core/query_watchdog.h"
#include "core/session.h"
#include "exporter/series_budget.h"
#include "exporter/store.h"

namespace pge {

// How a new configuration reaches the running targets. A target whose settings (its [[target]]
// table, connect_timeout and query_deadline_margin) are unchanged is kept: same connection,
// snapshots and counters, with the new lock_timeout and reconnect back-off cap; its
// collectors whose [collectors.NAME] settings changed get a fresh instance that runs at once,
// keeping their last snapshot and counters until then, and disabled ones vanish. A changed target
// is restarted (its series vanish, it reconnects); a removed one vanishes; an added one starts.
struct ConfigChanges {
  std::vector<std::string> kept, restarted, removed, added;  // target names
  std::vector<std::string> collectors_changed;               // settings differ (enabled or not)
};
ConfigChanges diff_configs(const Config& running, const Config& next);

// The schedule of one target: connects (with the Database's back-off), runs the collectors that are
// due and records each run in the store. It never sleeps and never reads the clock: step() gets the
// time from its caller and returns when it wants to be called again, so tests drive it with their
// own time points and a fake Database. Used by one thread at a time.
class TargetWorker {
 public:
  using Clock = std::chrono::steady_clock;

  // `config`, `target` and `collectors` (normally collector_registry()) must outlive the worker (or
  // the next reconfigure()); the disabled ones in config.collectors are left out.
  TargetWorker(const Config& config, const Target& target, SnapshotStore& store,
               std::unique_ptr<Database> db, const std::vector<CollectorInfo>& collectors);
  ~TargetWorker();

  // Connects if needed and runs every collector due at `now`, unless `stopping` turns true in
  // between. Returns the time of the next step: the earliest next run, at most 5 s away, or the end
  // of the connection back-off.
  Clock::time_point step(Clock::time_point now, const std::atomic<bool>& stopping);

  // Moves to a new configuration in which this target's connection settings are unchanged (see
  // ConfigChanges): the connection stays; a collector with unchanged settings keeps its instance,
  // schedule and status; a changed one gets a new instance due at once (status and snapshot kept
  // until its run); a disabled one is dropped from the store. `config` and `target` replace the
  // old ones, which the caller may free afterwards.
  void reconfigure(const Config& config, const Target& target);

 private:
  struct Scheduled;
  // What the series budget did to a run (it runs inside the collector's SnapshotBuilder::take).
  struct Cut {
    bool applied = false;  // the collector built its snapshot through the budget
    std::size_t dropped = 0;
  };
  Scheduled schedule(const CollectorInfo& info, const CollectorSettings& settings) const;
  // Tells the store the collectors' staleness limits and the series budget.
  void declare();
  // Sets the collectors' effective intervals from their last runs' durations and the duty cycle.
  void spread_out();
  static Clock::time_point next_run(const Scheduled& s, Clock::time_point due,
                                    Clock::time_point now);
  bool connect(Clock::time_point now);
  void record(Scheduled& s, RunResult&& result, const Cut& cut);
  void record_idle(Scheduled& s);

  const Config* config_;
  const Target* target_;
  SnapshotStore& store_;
  std::unique_ptr<Database> db_;
  const std::vector<CollectorInfo>& collectors_;
  SeriesBudget budget_;
  std::vector<Scheduled> scheduled_;
  std::string last_connect_error_;
};

class Scheduler {
 public:
  Scheduler(std::shared_ptr<const Config> config, SnapshotStore& store);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void start();
  // Moves the running targets to `next` as ConfigChanges describes and returns the changes. Blocks
  // while the workers of changed and removed targets stop: their statements are cancelled, but a
  // connect attempt in progress runs to its end (at most connect_timeout). Does nothing once
  // stopped.
  ConfigChanges apply(std::shared_ptr<const Config> next);
  // Wakes every worker, cancels the statements in flight (their connections are dropped if the
  // cancel is not answered within a second) and joins the workers. Returns false, leaving them
  // running, when they have not all ended within `grace` (a connect can block for connect_timeout):
  // the caller then exits without them.
  bool stop(Seconds grace);

 private:
  struct Worker;
  // Starts the worker of the current configuration's target `name`.
  void launch(const std::string& name);
  // Stops and joins the workers of `names` and drops their targets from the store.
  void retire(const std::vector<std::string>& names);
  // Asks a worker to stop and cancels its statement in flight.
  void signal_stop(Worker& w);
  void run_target(Worker& w);
  // Sleeps until `deadline`, stop or a new configuration for the worker; returns false when
  // stopping.
  bool sleep_until(Worker& w, std::chrono::steady_clock::time_point deadline);
  std::shared_ptr<const Config> take_pending(Worker& w);

  SnapshotStore& store_;
  std::mutex control_mu_;                 // held by start(), apply() and stop() throughout
  std::shared_ptr<const Config> config_;  // guarded by control_mu_
  std::map<std::string, std::unique_ptr<Worker>> workers_;  // by target; guarded by control_mu_
  bool stopped_ = false;                                    // guarded by control_mu_
  std::mutex mu_;  // the workers' stop, pending and done fields
  std::condition_variable wake_;
};

}  // namespace pge
