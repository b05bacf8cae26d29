// Config reload (SIGHUP, POST /-/reload): reads the configuration again as at start (flag, then
// environment, then file) and, when it is valid, moves the scheduler to it (through
// TargetDiscovery::apply, which expands discovering targets into their databases) and applies the
// new log level and format. A configuration with problems is logged, problem by problem
// with file, line and key, and the running one stays. Keys read only at start (listen address,
// telemetry path, web threads and connections, healthz_without_auth) keep their running values with
// a warning. Exports the outcome as Prometheus does its own (config_last_reload_successful,
// config_last_reload_success_timestamp_seconds; the start counts as a successful load) plus a count
// of reloads by result, and the discovery's metrics. Thread-safe: the main thread (SIGHUP) and HTTP
// threads may call it at once; reloads run one at a time.
#pragma once

#include <prometheus/metric_family.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/config.h"
#include "exporter/flags.h"
#include "exporter/scheduler.h"
#include "exporter/target_discovery.h"

namespace pge {

struct ReloadOutcome {
  bool ok = false;
  std::string message;  // one line per problem, or what changed
};

class ConfigReloader {
 public:
  // `running` is the configuration the exporter started with; `targets` must outlive this.
  ConfigReloader(Flags flags, std::shared_ptr<const Config> running, TargetDiscovery& targets);

  ReloadOutcome reload();
  std::vector<prometheus::MetricFamily> metric_families() const;

 private:
  ReloadOutcome fail(const std::vector<ConfigError>& errors);
  ReloadOutcome apply(Config next, std::chrono::steady_clock::time_point started);

  const Flags flags_;
  TargetDiscovery& targets_;
  // Held through a reload, which may wait for a worker's connect; mu_ is held only briefly, so a
  // scrape never waits for a reload.
  std::mutex reload_mu_;
  std::shared_ptr<const Config> running_;  // guarded by reload_mu_
  mutable std::mutex mu_;
  bool last_successful_ = true;  // guarded by mu_
  double last_success_unix_;     // guarded by mu_
  double successes_ = 0;         // guarded by mu_
  double failures_ = 0;          // guarded by mu_
};

}  // namespace pge
