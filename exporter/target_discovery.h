// Database discovery (`discover_databases = true` on a target), as postgres_exporter's
// --auto-discover-databases has it. It sits between the configuration and the scheduler: it keeps
// the configuration as loaded (the base) and, for each discovering target, the databases its
// cluster listed last; the scheduler runs the expansion (expand_discovered_targets), in which each
// selected database is a target of its own, "TARGET/DATABASE", with the parent's settings and the
// parent's DSN pointed at that database. So each database has its own worker thread and its one
// connection, and /probe?target=TARGET/DATABASE serves it like any configured target.
//
// One discovery thread lists the databases of every discovering target, at start and then every
// discovery_interval, over a connection opened for the listing and closed after it. A change moves
// the scheduler as a reload does (Scheduler::apply): a dropped database's target goes away, a new
// one starts, the others keep running untouched. A failed listing keeps the last list (the
// databases' own targets report pg_up) and shows as discovery_success 0. Reloads reach the
// scheduler through apply(), which expands the new base with the lists at hand and lists again at
// once.
//
// Thread-safe: apply() (reloads), metric_families() (scrapes) and the discovery thread may run at
// once; a scrape never waits for a listing or for the scheduler.
#pragma once

#include <prometheus/metric_family.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/query_watchdog.h"
#include "exporter/scheduler.h"

namespace pge {

// Database names by discovering target, as pg_database listed them.
using DiscoveredDatabases = std::map<std::string, std::vector<std::string>>;

// The configuration the scheduler runs: `base` with each discovering target replaced by one target
// per database of `databases[target]` that passes its include/exclude_databases (none while its
// cluster has not been listed yet).
Config expand_discovered_targets(const Config& base, const DiscoveredDatabases& databases);

// The target a discovered database runs as: "PARENT/DATNAME".
std::string discovered_target_name(const std::string& parent, const std::string& datname);

class TargetDiscovery {
 public:
  // `base` is the configuration as loaded; the scheduler (which must outlive this) was built with
  // its expansion for no databases.
  TargetDiscovery(std::shared_ptr<const Config> base, Scheduler& scheduler);
  ~TargetDiscovery();
  TargetDiscovery(const TargetDiscovery&) = delete;
  TargetDiscovery& operator=(const TargetDiscovery&) = delete;

  // Starts the discovery thread; it lists every discovering target at once.
  void start();
  // A reloaded configuration: the scheduler moves to its expansion with the lists at hand (lists of
  // targets that no longer discover are dropped); then every discovering target is listed again.
  // Returns the scheduler's changes.
  ConfigChanges apply(std::shared_ptr<const Config> base);
  // Stops the thread, cancelling a listing in flight. Returns false, leaving it running, when it
  // has not ended within `grace` (a connect can block for connect_timeout).
  bool stop(Seconds grace);
  // discovery_success, discovery_databases and discovery_last_success_timestamp_seconds per
  // discovering target.
  std::vector<prometheus::MetricFamily> metric_families() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Listing {
    std::vector<std::string> databases;  // every database that allows connections, no templates
    bool listed = false;                 // databases holds a successful listing
    bool success = false;                // the last attempt succeeded
    double last_success_unix = 0;
    std::string last_error;  // password-free
    Clock::time_point next_due{};
  };
  struct Attempt;

  void run();
  // Keeps a listing per discovering target of base_ (new ones empty), all due at once.
  void sync_listings_locked();
  // The discovering targets due at `now`, their next listing scheduled.
  std::vector<Target> take_due_locked(Clock::time_point now);
  Clock::time_point next_due_locked() const;
  Attempt list_databases(const Target& target, const Config& config) const;
  // Folds an attempt into its listing; true when the databases changed.
  bool record_locked(const std::string& target, Attempt&& attempt);
  // Moves the scheduler to the expansion of the current base and listings. Requires apply_mu_.
  ConfigChanges apply_expansion();

  Scheduler& scheduler_;
  std::shared_ptr<QueryWatchdog> watchdog_;
  // Held while the scheduler moves, so expansions reach it in order; mu_ only briefly inside.
  std::mutex apply_mu_;
  mutable std::mutex mu_;
  std::shared_ptr<const Config> base_;       // guarded by mu_
  std::map<std::string, Listing> listings_;  // by discovering target; guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  bool done_ = false;                        // guarded by mu_
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace pge
