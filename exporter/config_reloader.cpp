#include "exporter/config_reloader.h"

#include "core/log.h"
#include "core/snapshot.h"
#include "exporter/log_values.h"

namespace pge {
namespace {

// Keys the HTTP server reads once, when it starts listening.
struct StartOnlyKey {
  const char* key;
  std::string (*value)(const Config&);
};
constexpr StartOnlyKey kStartOnlyKeys[] = {
    {"exporter.listen_address", [](const Config& c) { return c.listen_address; }},
    {"exporter.telemetry_path", [](const Config& c) { return c.telemetry_path; }},
    {"exporter.web_threads", [](const Config& c) { return std::to_string(c.web_threads); }},
    {"exporter.web_max_connections",
     [](const Config& c) { return std::to_string(c.web_max_connections); }},
    {"exporter.healthz_without_auth",
     [](const Config& c) { return std::string(c.healthz_without_auth ? "true" : "false"); }},
};

void warn_about_start_only_keys(const Config& running, const Config& next) {
  for (const StartOnlyKey& k : kStartOnlyKeys) {
    const std::string was = k.value(running), now = k.value(next);
    if (was != now) {
      log::warn("configuration key is read only at start: restart the exporter to apply it",
                {{"key", k.key}, {"running", was}, {"new", now}});
    }
  }
}

}  // namespace

ConfigReloader::ConfigReloader(Flags flags, std::shared_ptr<const Config> running,
                               TargetDiscovery& targets)
    : flags_(std::move(flags)),
      targets_(targets),
      running_(std::move(running)),
      last_success_unix_(unix_now()) {}

ReloadOutcome ConfigReloader::reload() {
  std::lock_guard<std::mutex> one_at_a_time(reload_mu_);
  const auto started = std::chrono::steady_clock::now();
  ConfigResult loaded = load_configuration(flags_);
  return loaded.config ? apply(std::move(*loaded.config), started) : fail(loaded.errors);
}

ReloadOutcome ConfigReloader::fail(const std::vector<ConfigError>& errors) {
  std::string message;
  for (const auto& e : errors) {
    log::error("configuration reload failed: the running configuration stays",
               {{"file", e.file}, {"line", e.line}, {"key", e.key}, {"err", e.message}});
    message += e.render() + "\n";
  }
  std::lock_guard<std::mutex> lock(mu_);
  last_successful_ = false;
  failures_ += 1;
  return {false, message};
}

ReloadOutcome ConfigReloader::apply(Config next_config,
                                    std::chrono::steady_clock::time_point started) {
  auto next = std::make_shared<const Config>(std::move(next_config));
  warn_about_start_only_keys(*running_, *next);
  log::setup(*log::parse_format(next->log_format), *log::parse_level(next->log_level));
  const ConfigChanges changes = targets_.apply(next);
  running_ = next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_successful_ = true;
    last_success_unix_ = unix_now();
    successes_ += 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  log::info("configuration reloaded", {{"file", next->source_file},
                                       {"kept", joined(changes.kept)},
                                       {"restarted", joined(changes.restarted)},
                                       {"added", joined(changes.added)},
                                       {"removed", joined(changes.removed)},
                                       {"collectors_changed", joined(changes.collectors_changed)},
                                       {"duration_seconds", seconds}});
  return {true, "configuration reloaded\n"};
}

std::vector<prometheus::MetricFamily> ConfigReloader::metric_families() const {
  std::lock_guard<std::mutex> lock(mu_);
  SnapshotBuilder out;
  const std::string ns = "pg_evolution_exporter_";
  out.gauge(
      ns + "config_last_reload_successful",
      "Whether the last configuration reload attempt was successful (1) or not (0); the load at "
      "start counts as one.",
      {}, last_successful_ ? 1 : 0);
  out.gauge(ns + "config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration reload (or of the start).", {},
            last_success_unix_);
  const char* reloads_help =
      "Configuration reloads (SIGHUP, POST /-/reload) by result; the start is not one.";
  out.counter(ns + "config_reloads_total", reloads_help, {{"result", "success"}}, successes_);
  out.counter(ns + "config_reloads_total", reloads_help, {{"result", "failure"}}, failures_);
  std::vector<prometheus::MetricFamily> families = out.take().families;
  for (auto& family : targets_.metric_families()) families.push_back(std::move(family));
  return families;
}

}  // namespace pge
