#include "exporter/scheduler.h"

#include <malloc.h>

#include <algorithm>
#include <limits>

#include "collectors/registry.h"
#include "core/log.h"
#include "exporter/log_values.h"

namespace pge {

namespace {

using Clock = std::chrono::steady_clock;

// Runs that built at least this many series give their memory back to the system afterwards.
constexpr std::size_t kTrimAfterSeries = 10000;

// A snapshot older than this is not served: three missed runs, the last one running to its timeout.
// `interval` is the effective one, so a collector spread out by its cost does not look stale.
Seconds staleness_limit(const CollectorSettings& settings, Seconds interval) {
  return 3 * interval + settings.timeout;
}

// The largest duty (run duration / interval) one collector may have so that the collectors' duties,
// each capped at it, add up to at most `duty_cycle`: the cheap ones keep theirs and the expensive
// ones share the rest equally. Infinite when the uncapped duties fit.
double duty_cap(std::vector<double> duties, double duty_cycle) {
  std::sort(duties.begin(), duties.end());
  double left = duty_cycle;
  for (std::size_t i = 0; i < duties.size(); ++i) {
    const double equal_share = left / static_cast<double>(duties.size() - i);
    if (duties[i] > equal_share) return equal_share;
    left -= duties[i];
  }
  return std::numeric_limits<double>::infinity();
}

// Back-off never beyond the shortest collector interval: a healed database is back within one
// interval.
Seconds backoff_cap(const Config& config) {
  Seconds shortest = config.max_backoff;
  for (const auto& [name, settings] : config.collectors) {
    if (settings.enabled) shortest = std::min(shortest, settings.interval);
  }
  return std::max(shortest, Seconds{1});
}

// What every target's connection is opened with (connect_timeout is part of its DSN): a change
// means reconnecting.
bool same_connection_settings(const Config& a, const Config& b) {
  return a.connect_timeout == b.connect_timeout &&
         a.query_deadline_margin == b.query_deadline_margin;
}

const Target* find_target(const Config& config, const std::string& name) {
  for (const auto& t : config.targets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace

ConfigChanges diff_configs(const Config& running, const Config& next) {
  ConfigChanges changes;
  const bool same_connections = same_connection_settings(running, next);
  for (const auto& t : running.targets) {
    const Target* now = find_target(next, t.name);
    if (!now)
      changes.removed.push_back(t.name);
    else if (same_connections && *now == t)
      changes.kept.push_back(t.name);
    else
      changes.restarted.push_back(t.name);
  }
  for (const auto& t : next.targets) {
    if (!find_target(running, t.name)) changes.added.push_back(t.name);
  }
  for (const auto& [name, settings] : next.collectors) {
    auto old = running.collectors.find(name);
    if (old == running.collectors.end() || !(old->second == settings)) {
      changes.collectors_changed.push_back(name);
    }
  }
  return changes;
}

struct TargetWorker::Scheduled {
  const CollectorInfo* info;
  const CollectorSettings* settings;
  std::unique_ptr<Collector> collector;
  Clock::time_point next_run;
  CollectorStatus status;
  // The duration of its last successful run: what spreading out goes by. A run that failed (a
  // frozen or unreachable server, a timeout) says nothing of the work, and counting it would keep
  // the collector spread out long after the server is back.
  double cost_seconds = 0;

  Seconds interval() const { return Seconds{status.effective_interval_seconds}; }
  void set_interval(Seconds interval) { status.effective_interval_seconds = interval.count(); }
};

TargetWorker::TargetWorker(const Config& config, const Target& target, SnapshotStore& store,
                           std::unique_ptr<Database> db,
                           const std::vector<CollectorInfo>& collectors)
    : config_(&config),
      target_(&target),
      store_(store),
      db_(std::move(db)),
      collectors_(collectors),
      budget_(target) {
  for (const auto& info : collectors_) {
    const CollectorSettings& settings = config_->collectors.at(info.name);
    if (settings.enabled) scheduled_.push_back(schedule(info, settings));
  }
  declare();
}

TargetWorker::Scheduled TargetWorker::schedule(const CollectorInfo& info,
                                               const CollectorSettings& settings) const {
  Scheduled s{&info, &settings, info.code.make(), Clock::time_point{}, {}};
  s.set_interval(settings.interval);
  return s;
}

void TargetWorker::declare() {
  std::vector<std::pair<std::string, double>> limits;
  for (const auto& s : scheduled_)
    limits.emplace_back(s.info->name, staleness_limit(*s.settings, s.interval()).count());
  store_.declare(target_->name, limits);
  store_.set_series_budget(target_->name, budget_.budget());
}

// After a run: every collector's interval is its configured one, or longer when that would keep the
// connection busy beyond the duty cycle (a collector's cost is its last successful run's duration).
// A changed interval moves the collector's next run and its staleness limit at once.
void TargetWorker::spread_out() {
  std::vector<double> duties;
  for (const auto& s : scheduled_) duties.push_back(s.cost_seconds / s.settings->interval.count());
  const double cap = duty_cap(duties, config_->duty_cycle);
  for (std::size_t i = 0; i < scheduled_.size(); ++i) {
    Scheduled& s = scheduled_[i];
    const Seconds interval = duties[i] > cap ? Seconds{s.cost_seconds / cap} : s.settings->interval;
    if (interval == s.interval()) continue;
    if (s.status.ran)
      s.next_run += std::chrono::duration_cast<Clock::duration>(interval - s.interval());
    s.set_interval(interval);
    store_.declare(target_->name, {{s.info->name, staleness_limit(*s.settings, interval).count()}});
  }
}

void TargetWorker::reconfigure(const Config& config, const Target& target) {
  std::vector<Scheduled> next;
  for (const auto& info : collectors_) {
    const CollectorSettings& settings = config.collectors.at(info.name);
    auto old = std::find_if(scheduled_.begin(), scheduled_.end(),
                            [&](const Scheduled& s) { return s.info == &info; });
    const bool was_running = old != scheduled_.end();
    if (!settings.enabled) {
      if (was_running) store_.forget_collector(target.name, info.name);
      continue;
    }
    if (!was_running) {
      next.push_back(schedule(info, settings));
    } else if (*old->settings == settings) {
      old->settings = &settings;
      next.push_back(std::move(*old));
    } else {
      // A stateful collector may depend on its options, so it starts over; its counters go on, and
      // its interval is the new configured one until its first run says what it costs.
      next.push_back(schedule(info, settings));
      next.back().status = old->status;
      next.back().set_interval(settings.interval);
    }
  }
  scheduled_ = std::move(next);
  config_ = &config;
  target_ = &target;
  db_->set_max_backoff(backoff_cap(config));
  declare();
}

TargetWorker::~TargetWorker() {
  if (db_->is_open()) db_->drop(Clock::now());
  log::info("closed connection", {{"target", target_->name}});
}

bool TargetWorker::connect(Clock::time_point now) {
  std::string error;
  if (!db_->ensure_open(now, &error)) {
    if (error != last_connect_error_) {
      log::warn("database unavailable", {{"target", target_->name}, {"err", error}});
      last_connect_error_ = error;
    }
    store_.set_up(target_->name, false, error);
    store_.clear_snapshots(target_->name);
    return false;
  }
  log::info("connected", {{"target", target_->name}, {"server_version", db_->server_version()}});
  last_connect_error_.clear();
  store_.set_up(target_->name, true);
  store_.answered(target_->name);
  return true;
}

// A run with nothing to read: the collector vouches for its last snapshot, which stays fresh.
void TargetWorker::record_idle(Scheduled& s) {
  if (s.status.success) s.status.last_success_unix = unix_now();
  store_.touch(target_->name, s.info->name, s.status);
}

// Folds one run into the collector's status and stores it. A failed run drops the collector's
// snapshot: stale data must not pass for current.
void TargetWorker::record(Scheduled& s, RunResult&& result, const Cut& cut) {
  CollectorStatus& st = s.status;
  const bool was_failing = !st.success && st.errors_total > 0;
  const double finished = unix_now();
  st.ran = true;
  st.last_run_unix = finished - result.duration.count();
  st.duration_seconds = result.duration.count();
  if (result.ok()) s.cost_seconds = st.duration_seconds;
  spread_out();  // before the status is stored: it shows the interval the next run is due at
  st.lock_skips_total += result.lock_skips;
  for (const auto& [reason, n] : result.relations_skipped) st.relations_skipped_total[reason] += n;
  st.success = result.ok();
  std::shared_ptr<const Snapshot> snapshot;
  std::size_t raw_series = 0;  // before the series budget
  if (st.success) {
    if (!cut.applied) budget_.count(s.info->name, result.snapshot().series());
    st.series_dropped = cut.dropped;
    raw_series = result.snapshot().series() + cut.dropped;
    snapshot = std::make_shared<const Snapshot>(std::move(result.snapshot()));
    st.last_success_unix = finished;
    st.series = snapshot->series();
    st.last_error.clear();
    if (was_failing) {
      log::info("collector recovered", {{"target", target_->name}, {"collector", s.info->name}});
    }
  } else {
    const RunError& error = result.error();
    st.errors_total += 1;
    st.lock_timeouts_total += error.is_lock_timeout() ? 1 : 0;
    st.series = 0;
    if (error.message != st.last_error) {
      log::warn("collector failed",
                {{"target", target_->name}, {"collector", s.info->name}, {"err", error.message}});
    }
    st.last_error = error.message;
  }
  log::debug("collector ran", {{"target", target_->name},
                               {"collector", s.info->name},
                               {"duration_seconds", st.duration_seconds},
                               {"success", st.success}});
  store_.put(target_->name, s.info->name, std::move(snapshot), st);
  // A big run's rows and series are freed by now, but glibc keeps the pages resident; handing them
  // back keeps RSS between runs near what the stored snapshots need. Small runs skip it: trimming
  // walks the whole heap.
  if (raw_series >= kTrimAfterSeries) malloc_trim(0);
}

// One interval after the run that was due at `due`; after a stall, one interval from `now` instead
// of catching up.
TargetWorker::Clock::time_point TargetWorker::next_run(const Scheduled& s, Clock::time_point due,
                                                       Clock::time_point now) {
  const auto interval = std::chrono::duration_cast<Clock::duration>(s.interval());
  return due + interval > now ? due + interval : now + interval;
}

TargetWorker::Clock::time_point TargetWorker::step(Clock::time_point now,
                                                   const std::atomic<bool>& stopping) {
  if (!db_->is_open() && !connect(now)) return db_->next_attempt();
  for (auto& s : scheduled_) {
    if (stopping || now < s.next_run) continue;
    const Clock::time_point due = s.next_run;
    Cut cut;
    const SeriesCut apply_budget = [&](const std::vector<prometheus::MetricFamily>& families,
                                       SeriesTable& table) {
      cut.applied = true;
      return cut.dropped = budget_.apply(s.info->name, families, table);
    };
    RunResult result =
        run_once(*s.collector, *db_, {*target_, *s.settings, config_->lock_timeout, apply_budget});
    if (!result.ran) {
      record_idle(s);
      s.next_run = next_run(s, due, now);
      continue;
    }
    const bool lost = !result.ok() && result.error().connection_lost;
    const std::string message = lost ? result.error().message : "";
    record(s, std::move(result), cut);
    s.next_run = next_run(s, due, now);
    if (lost) {
      db_->drop(now);
      if (!stopping) log::warn("connection lost", {{"target", target_->name}, {"err", message}});
      store_.set_up(target_->name, false, message);
      store_.clear_snapshots(target_->name);
      return now;  // reconnect on the next step
    }
    store_.answered(target_->name);
  }
  auto next = now + std::chrono::seconds(5);
  for (const auto& s : scheduled_) next = std::min(next, s.next_run);
  return next;
}

struct Scheduler::Worker {
  std::string target;
  std::shared_ptr<const Config> config;   // what the worker thread runs on; only it replaces it
  std::shared_ptr<const Config> pending;  // guarded by mu_: the next configuration for the thread
  std::shared_ptr<QueryWatchdog> watchdog;
  std::atomic<bool> stopping{false};  // set under mu_
  bool done = false;                  // guarded by mu_
  std::thread thread;
};

Scheduler::Scheduler(std::shared_ptr<const Config> config, SnapshotStore& store)
    : store_(store), config_(std::move(config)) {}

Scheduler::~Scheduler() {
  if (!stop(Seconds{3600})) std::terminate();  // a worker that never ends is a bug, not a shutdown
}

void Scheduler::start() {
  std::lock_guard<std::mutex> control(control_mu_);
  for (const auto& target : config_->targets) launch(target.name);
}

void Scheduler::launch(const std::string& name) {
  auto worker = std::make_unique<Worker>();
  Worker& w = *worker;
  w.target = name;
  w.config = config_;
  w.watchdog = std::make_shared<QueryWatchdog>([this, name](QueryWatchdog::Action a) {
    const bool drop = a == QueryWatchdog::Action::Disconnect;
    log::warn(
        "statement past its client deadline",
        {{"target", name},
         {"action", drop ? "disconnect" : "cancel"},
         {"effect", drop ? "connection dropped (no answer to the cancel)" : "target marked down"}});
    store_.deadline_exceeded(name, drop);
  });
  w.thread = std::thread([this, &w] {
    run_target(w);
    std::lock_guard<std::mutex> lock(mu_);
    w.done = true;
    wake_.notify_all();
  });
  workers_[name] = std::move(worker);
}

ConfigChanges Scheduler::apply(std::shared_ptr<const Config> next) {
  std::lock_guard<std::mutex> control(control_mu_);
  ConfigChanges changes = diff_configs(*config_, *next);
  if (stopped_) return changes;
  std::vector<std::string> ending = changes.restarted;
  ending.insert(ending.end(), changes.removed.begin(), changes.removed.end());
  retire(ending);
  config_ = std::move(next);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& name : changes.kept) workers_.at(name)->pending = config_;
  }
  wake_.notify_all();
  for (const auto& name : changes.restarted) launch(name);
  for (const auto& name : changes.added) launch(name);
  return changes;
}

void Scheduler::signal_stop(Worker& w) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    w.stopping = true;
  }
  // A long statement must not hold up the stop: it is cancelled now, and its connection dropped if
  // the cancel is not answered within a second.
  w.watchdog->interrupt(std::chrono::seconds(1));
}

void Scheduler::retire(const std::vector<std::string>& names) {
  for (const auto& name : names) signal_stop(*workers_.at(name));
  wake_.notify_all();
  for (const auto& name : names) {
    workers_.at(name)->thread.join();
    workers_.erase(name);  // after the join: the watchdog's callback may still write to the store
    store_.remove(name);
  }
}

bool Scheduler::stop(Seconds grace) {
  std::lock_guard<std::mutex> control(control_mu_);
  stopped_ = true;
  if (workers_.empty()) return true;
  for (auto& [name, w] : workers_) signal_stop(*w);
  wake_.notify_all();
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(grace);
  std::unique_lock<std::mutex> lock(mu_);
  const bool all_done = wake_.wait_until(lock, deadline, [this] {
    return std::all_of(workers_.begin(), workers_.end(),
                       [](const auto& w) { return w.second->done; });
  });
  lock.unlock();
  if (!all_done) return false;  // a worker still blocked (in a connect): the caller decides
  for (auto& [name, w] : workers_) w->thread.join();
  workers_.clear();
  return true;
}

bool Scheduler::sleep_until(Worker& w, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait_until(lock, deadline, [&w] { return w.stopping || w.pending; });
  return !w.stopping;
}

std::shared_ptr<const Config> Scheduler::take_pending(Worker& w) {
  std::lock_guard<std::mutex> lock(mu_);
  return std::move(w.pending);
}

void Scheduler::run_target(Worker& w) {
  const Config& config = *w.config;  // the connection's settings: a change restarts the worker
  const Target& target = *find_target(config, w.target);
  TargetWorker worker(
      config, target, store_,
      std::make_unique<Connection>(target.dsn, config.connect_timeout, backoff_cap(config),
                                   w.watchdog, config.query_deadline_margin),
      collector_registry());
  while (!w.stopping) {
    if (auto next = take_pending(w)) {
      worker.reconfigure(*next, *find_target(*next, w.target));
      w.config = std::move(next);  // the old configuration is freed here, no longer referenced
    }
    if (!sleep_until(w, worker.step(std::chrono::steady_clock::now(), w.stopping))) break;
  }
}

}  // namespace pge
