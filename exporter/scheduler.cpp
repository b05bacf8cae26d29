#include "exporter/scheduler.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "collectors/registry.h"
#include "core/session.h"

namespace pge {

namespace {

using Clock = std::chrono::steady_clock;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Scheduled {
  const CollectorInfo* info;
  const CollectorSettings* settings;
  std::unique_ptr<Collector> collector;
  Clock::time_point next_run;
  CollectorStatus status;
};

Labels target_labels(const Target& target) {
  Labels labels{{"target", target.name}};
  for (const auto& [k, v] : target.labels) labels.emplace_back(k, v);
  return labels;
}

// Runs one collector and records the outcome. Rethrows ConnectionLost so that the worker can drop
// the connection; every other failure ends here.
void run_collector(Connection& conn, const Config& config, const Target& target, Scheduled& s,
                   SnapshotStore& store) {
  CollectContext ctx{target, *s.settings, std::chrono::system_clock::now()};
  if (s.collector->idle(ctx)) return;  // its last snapshot and status stay as they are
  const auto started = Clock::now();
  CollectorStatus& st = s.status;
  st.ran = true;
  st.last_run_unix = unix_now();
  auto finish = [&](std::shared_ptr<const Snapshot> snapshot, const std::string& error) {
    st.duration_seconds = std::chrono::duration<double>(Clock::now() - started).count();
    st.lock_skips_total += ctx.lock_skips;
    const bool was_failing = !st.success && st.errors_total > 0;
    st.success = snapshot != nullptr;
    if (st.success) {
      st.last_success_unix = unix_now();
      st.series = snapshot->series();
      st.last_error.clear();
      if (was_failing) {
        spdlog::info("collector recovered target={} collector={}", target.name, s.info->name);
      }
    } else {
      st.errors_total += 1;
      st.series = 0;
      if (error != st.last_error) {
        spdlog::warn("collector failed target={} collector={} error=\"{}\"", target.name,
                     s.info->name, error);
      }
      st.last_error = error;
    }
    spdlog::debug("collector ran target={} collector={} duration_ms={:.1f} success={}",
                  target.name, s.info->name, st.duration_seconds * 1000, st.success);
    store.put(target.name, s.info->name, std::move(snapshot), st);
  };
  try {
    Snapshot snapshot;
    TransactionLimits limits{s.settings->timeout, config.lock_timeout, !s.collector->writes()};
    conn.run(limits, [&](Session& session) { snapshot = s.collector->collect(session, ctx); });
    add_labels(snapshot, target_labels(target));
    finish(std::make_shared<const Snapshot>(std::move(snapshot)), "");
  } catch (const ConnectionLost& e) {
    finish(nullptr, std::string("connection lost: ") + e.what());
    throw;
  } catch (const QueryError& e) {
    if (e.is_lock_timeout()) st.lock_timeouts_total += 1;
    std::string msg = e.what();
    finish(nullptr, msg.substr(0, msg.find('\n')));
  } catch (const std::exception& e) {
    finish(nullptr, e.what());
  }
}

}  // namespace

Scheduler::Scheduler(const Config& config, SnapshotStore& store) : config_(config), store_(store) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
  for (const auto& target : config_.targets) {
    workers_.emplace_back([this, &target] { run_target(target); });
  }
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  workers_.clear();
}

bool Scheduler::sleep_until(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait_until(lock, deadline, [this] { return stopping_.load(); });
  return !stopping_;
}

void Scheduler::run_target(const Target& target) {
  std::vector<Scheduled> scheduled;
  std::vector<std::string> names;
  for (const auto& info : collector_registry()) {
    const CollectorSettings& settings = config_.collectors.at(info.name);
    if (!settings.enabled) continue;
    scheduled.push_back({&info, &settings, info.make(), Clock::now(), {}});
    names.push_back(info.name);
  }
  store_.declare(target.name, names);
  Connection conn(target.dsn, config_.connect_timeout, config_.max_backoff);
  std::string last_connect_error;

  while (!stopping_) {
    const auto now = Clock::now();
    if (!conn.is_open()) {
      std::string error;
      if (!conn.ensure_open(now, &error)) {
        if (error != last_connect_error) {
          spdlog::warn("database unavailable target={} error=\"{}\"", target.name,
                       error.substr(0, error.find('\n')));
          last_connect_error = error;
        }
        store_.set_up(target.name, false, error);
        store_.clear_snapshots(target.name);
        if (!sleep_until(conn.next_attempt())) break;
        continue;
      }
      spdlog::info("connected target={} server_version={}", target.name, conn.server_version());
      last_connect_error.clear();
      store_.set_up(target.name, true);
    }
    for (auto& s : scheduled) {
      if (stopping_ || Clock::now() < s.next_run) continue;
      const auto interval = std::chrono::duration_cast<Clock::duration>(s.settings->interval);
      s.next_run += interval;
      if (s.next_run <= Clock::now()) s.next_run = Clock::now() + interval;
      try {
        run_collector(conn, config_, target, s, store_);
      } catch (const ConnectionLost& e) {
        conn.drop(Clock::now());
        store_.set_up(target.name, false, e.what());
        store_.clear_snapshots(target.name);
        break;
      }
    }
    if (!conn.is_open()) continue;
    auto next = Clock::now() + std::chrono::seconds(5);
    for (const auto& s : scheduled) next = std::min(next, s.next_run);
    if (!sleep_until(next)) break;
  }
}

}  // namespace pge
