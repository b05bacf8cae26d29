#include "exporter/target_discovery.h"

#include <algorithm>
#include <optional>

#include "core/dsn.h"
#include "core/log.h"
#include "core/session.h"
#include "core/snapshot.h"
#include "exporter/log_values.h"

namespace pge {
namespace {

// Templates and databases that refuse connections are never targets; the include/exclude patterns
// are applied when expanding, so that a reload that changes them needs no new listing.
constexpr const char* kListDatabases =
    "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate "
    "ORDER BY datname";
constexpr Seconds kListTimeout{5};

// The names in `a` that are not in `b` (both sorted).
std::vector<std::string> missing_from(const std::vector<std::string>& a,
                                      const std::vector<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// A database of a discovering target, watched as if its own [[target]] named it. The discovery
// keys stay with the parent: changing them must not restart the databases that stay selected.
Target database_target(const Target& parent, const std::string& datname) {
  Target t = parent;
  t.name = discovered_target_name(parent.name, datname);
  t.dsn = dsn_with_dbname(parent.dsn, datname);
  if (!t.write_probe.dsn.empty()) t.write_probe.dsn = dsn_with_dbname(t.write_probe.dsn, datname);
  t.discover_databases = false;
  t.include_databases.clear();
  t.exclude_databases.clear();
  t.discovery_interval = Target{}.discovery_interval;
  return t;
}

const Target* find_target(const Config& config, const std::string& name) {
  for (const auto& t : config.targets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace

std::string discovered_target_name(const std::string& parent, const std::string& datname) {
  return parent + "/" + datname;
}

Config expand_discovered_targets(const Config& base, const DiscoveredDatabases& databases) {
  Config out = base;
  out.targets.clear();
  for (const Target& t : base.targets) {
    if (!t.discover_databases) {
      out.targets.push_back(t);
      continue;
    }
    const auto listed = databases.find(t.name);
    if (listed == databases.end()) continue;
    for (const auto& datname : listed->second) {
      if (t.selects_database(datname)) out.targets.push_back(database_target(t, datname));
    }
  }
  return out;
}

struct TargetDiscovery::Attempt {
  std::optional<std::vector<std::string>> databases;  // sorted; absent when the listing failed
  std::string error;                                  // password-free
};

TargetDiscovery::TargetDiscovery(std::shared_ptr<const Config> base, Scheduler& scheduler)
    : scheduler_(scheduler), watchdog_(std::make_shared<QueryWatchdog>()) {
  std::lock_guard<std::mutex> lock(mu_);
  base_ = std::move(base);
  sync_listings_locked();
}

TargetDiscovery::~TargetDiscovery() {
  if (!stop(Seconds{3600})) std::terminate();  // a listing that never ends is a bug
}

void TargetDiscovery::sync_listings_locked() {
  std::map<std::string, Listing> next;
  for (const Target& t : base_->targets) {
    if (!t.discover_databases) continue;
    auto old = listings_.find(t.name);
    Listing& l = next[t.name] = old == listings_.end() ? Listing{} : std::move(old->second);
    l.next_due = Clock::time_point{};
  }
  listings_ = std::move(next);
}

void TargetDiscovery::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] {
    run();
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    wake_.notify_all();
  });
}

ConfigChanges TargetDiscovery::apply(std::shared_ptr<const Config> base) {
  std::lock_guard<std::mutex> in_order(apply_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    base_ = std::move(base);
    sync_listings_locked();
  }
  wake_.notify_all();
  return apply_expansion();
}

ConfigChanges TargetDiscovery::apply_expansion() {
  std::shared_ptr<const Config> expanded;
  {
    std::lock_guard<std::mutex> lock(mu_);
    DiscoveredDatabases databases;
    for (const auto& [name, listing] : listings_) {
      if (listing.listed) databases[name] = listing.databases;
    }
    expanded = std::make_shared<const Config>(expand_discovered_targets(*base_, databases));
  }
  return scheduler_.apply(std::move(expanded));
}

TargetDiscovery::Clock::time_point TargetDiscovery::next_due_locked() const {
  auto next = Clock::now() + std::chrono::hours(1);
  for (const auto& [name, listing] : listings_) next = std::min(next, listing.next_due);
  return next;
}

std::vector<Target> TargetDiscovery::take_due_locked(Clock::time_point now) {
  std::vector<Target> due;
  for (const Target& t : base_->targets) {
    auto listing = listings_.find(t.name);
    if (listing == listings_.end() || listing->second.next_due > now) continue;
    listing->second.next_due =
        now + std::chrono::duration_cast<Clock::duration>(t.discovery_interval);
    due.push_back(t);
  }
  return due;
}

void TargetDiscovery::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wake_.wait_until(lock, next_due_locked(),
                     [this] { return stopping_ || next_due_locked() <= Clock::now(); });
    if (stopping_) break;
    const std::shared_ptr<const Config> base = base_;
    const std::vector<Target> due = take_due_locked(Clock::now());
    lock.unlock();
    bool changed = false;
    for (const Target& target : due) {
      Attempt attempt = list_databases(target, *base);
      std::lock_guard<std::mutex> relock(mu_);
      changed = record_locked(target.name, std::move(attempt)) || changed;
    }
    if (changed) {
      std::lock_guard<std::mutex> in_order(apply_mu_);
      apply_expansion();
    }
    lock.lock();
  }
}

TargetDiscovery::Attempt TargetDiscovery::list_databases(const Target& target,
                                                         const Config& config) const {
  Attempt attempt;
  // Opened for the listing and closed after it: the database's own target keeps its one
  // long-lived connection.
  Connection conn(target.dsn, config.connect_timeout, config.max_backoff, watchdog_,
                  config.query_deadline_margin);
  if (!conn.ensure_open(Clock::now(), &attempt.error)) return attempt;
  try {
    conn.run({kListTimeout, config.lock_timeout, true}, [&](Session& session) {
      const Rows rows = session.query(kListDatabases);
      std::vector<std::string> names;
      for (std::size_t i = 0; i < rows.size(); ++i) names.push_back(rows.text(i, "datname"));
      std::sort(names.begin(), names.end());
      attempt.databases = std::move(names);
    });
  } catch (const std::exception& e) {  // QueryError and ConnectionLost carry no password
    attempt.error = e.what();
  }
  return attempt;
}

bool TargetDiscovery::record_locked(const std::string& target, Attempt&& attempt) {
  auto found = listings_.find(target);
  if (found == listings_.end()) return false;  // no longer discovering (a reload)
  Listing& l = found->second;
  if (!attempt.databases) {
    if (attempt.error != l.last_error) {
      log::warn("database discovery failed: the last list stays",
                {{"target", target}, {"err", attempt.error}});
    }
    l.success = false;
    l.last_error = attempt.error;
    return false;
  }
  if (!l.success && !l.last_error.empty())
    log::info("database discovery recovered", {{"target", target}});
  const std::vector<std::string> added = missing_from(*attempt.databases, l.databases);
  const std::vector<std::string> removed = missing_from(l.databases, *attempt.databases);
  const bool changed = !l.listed || !added.empty() || !removed.empty();
  if (changed) {
    log::info("databases discovered",
              {{"target", target},
               {"databases", static_cast<double>(attempt.databases->size())},
               {"added", joined(added)},
               {"removed", joined(removed)}});
  }
  l.databases = std::move(*attempt.databases);
  l.listed = true;
  l.success = true;
  l.last_error.clear();
  l.last_success_unix = unix_now();
  return changed;
}

bool TargetDiscovery::stop(Seconds grace) {
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  if (!thread_.joinable()) return true;
  lock.unlock();
  wake_.notify_all();
  watchdog_->interrupt(std::chrono::seconds(1));  // a listing in flight is cancelled
  lock.lock();
  if (!wake_.wait_for(lock, std::chrono::duration_cast<Clock::duration>(grace),
                      [this] { return done_; })) {
    return false;
  }
  lock.unlock();
  thread_.join();
  return true;
}

std::vector<prometheus::MetricFamily> TargetDiscovery::metric_families() const {
  std::lock_guard<std::mutex> lock(mu_);
  SnapshotBuilder out;
  const std::string ns = "pg_evolution_exporter_discovery_";
  for (const auto& [name, listing] : listings_) {
    const Target* parent = find_target(*base_, name);
    const Labels labels{{"target", name}};
    out.gauge(ns + "success",
              "Whether the last listing of the target's databases succeeded (1) or not (0).",
              labels, listing.success ? 1 : 0);
    const auto selected =
        std::count_if(listing.databases.begin(), listing.databases.end(),
                      [&](const std::string& d) { return parent && parent->selects_database(d); });
    out.gauge(ns + "databases",
              "Databases of the target's cluster watched as targets TARGET/DATABASE (selected by "
              "include/exclude_databases, from the last successful listing).",
              labels, static_cast<double>(selected));
    out.gauge(ns + "last_success_timestamp_seconds",
              "Unix time of the last successful listing of the target's databases (0: none yet).",
              labels, listing.last_success_unix);
  }
  return out.take().families;
}

}  // namespace pge
