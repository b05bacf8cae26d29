// pg_evolution_exporter: command line, start-up order, reload on SIGHUP and shutdown. Config
// problems are all printed and exit with status 2 before anything is served.
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/dsn.h"
#include "core/log.h"
#include "core/session.h"
#include "exporter/config_reloader.h"
#include "exporter/flags.h"
#include "exporter/http.h"
#include "exporter/scheduler.h"
#include "exporter/store.h"
#include "exporter/target_discovery.h"
#include "exporter/web_config.h"

namespace {

constexpr int kExitUsage = 2;

// glibc raises its mmap threshold to the size of each large block freed (a page of text is
// hundreds of KiB), after which page buffers come from the heap and stay there as free blocks, in
// up to 8 arenas per core (one per busy HTTP worker). A fixed threshold sends page-sized buffers
// back to the kernel when freed, and two arenas keep the free lists few; without these the soak's
// RSS grew 27 MiB over 3,000 scrapes, with them 15 (docs/performance.md).
void bound_heap_growth() {
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_ARENA_MAX, 2);
}

volatile std::sig_atomic_t g_signal = 0;
void on_signal(int sig) { g_signal = sig; }
volatile std::sig_atomic_t g_reload = 0;
void on_reload(int) { g_reload = 1; }

// The HTTP side's settings: the web config file (TLS, users, headers), the listen addresses (the
// flags', else the config file's one) and the config file's limits. Problems are printed; nullopt
// then means exit before serving.
std::optional<pge::HttpSettings> http_settings(const pge::Flags& flags, const pge::Config& config) {
  pge::HttpSettings web;
  if (flags.web_config_file) {
    pge::WebConfigResult loaded = pge::load_web_config(*flags.web_config_file);
    for (const auto& e : loaded.errors) std::cerr << e.render() << "\n";
    if (!loaded.config) {
      std::cerr << "pg_evolution_exporter: web config has " << loaded.errors.size()
                << " problem(s); nothing served\n";
      return std::nullopt;
    }
    web.web = std::move(*loaded.config);
  }
  web.listen_addresses = flags.listen_addresses;
  if (web.listen_addresses.empty()) web.listen_addresses = {config.listen_address};
  web.telemetry_path = config.telemetry_path;
  web.scrape_threads = config.web_threads;
  web.max_connections = config.web_max_connections;
  web.healthz_open = config.healthz_without_auth;
  return web;
}

// One line per listener; a warning for each that any host may reach without TLS or credentials.
void log_listeners(const pge::HttpSettings& web, const std::vector<int>& ports) {
  const bool tls = web.web.tls.has_value();
  const bool auth = !web.web.basic_auth_users.empty();
  for (size_t i = 0; i < ports.size() && i < web.listen_addresses.size(); ++i) {
    const std::string& address = web.listen_addresses[i];
    pge::log::info("listening", {{"address", address},
                                 {"port", ports[i]},
                                 {"tls", tls},
                                 {"basic_auth", auth},
                                 {"telemetry_path", web.telemetry_path},
                                 {"version", PGE_VERSION}});
    if (pge::listens_on_all_interfaces(address) && !(tls && auth)) {
      pge::log::warn(
          "listening on every interface without TLS and basic auth: anyone who reaches it "
          "reads the database's table and query names (see docs/security.md)",
          {{"address", address}});
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bound_heap_growth();
  pge::log::setup(pge::log::Format::kLogfmt, pge::log::Level::kInfo);
  const pge::FlagsOutcome parsed = pge::parse_flags(argc, argv);
  if (!parsed.flags) {
    (parsed.exit_status == 0 ? std::cout : std::cerr) << parsed.message;
    return parsed.exit_status;
  }
  const pge::Flags& flags = *parsed.flags;
  if (flags.version) {
    std::cout << "pg_evolution_exporter " << PGE_VERSION << " (revision " << PGE_REVISION << ")\n";
    return 0;
  }

  pge::ConfigResult loaded = pge::load_configuration(flags);
  for (const auto& e : loaded.errors) std::cerr << e.render() << "\n";
  if (!loaded.config) {
    std::cerr << "pg_evolution_exporter: configuration has " << loaded.errors.size()
              << " problem(s); nothing served\n";
    return kExitUsage;
  }
  const auto config = std::make_shared<const pge::Config>(std::move(*loaded.config));
  const std::optional<pge::HttpSettings> web = http_settings(flags, *config);
  if (!web) return kExitUsage;
  if (flags.check) {
    std::cout << "configuration OK: " << config->targets.size() << " target(s)\n";
    return 0;
  }

  pge::log::setup(*pge::log::parse_format(config->log_format),
                  *pge::log::parse_level(config->log_level));
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGHUP, on_reload);

  pge::SnapshotStore store;
  // Discovering targets start with no databases: the discovery lists them once running.
  pge::Scheduler scheduler(
      std::make_shared<const pge::Config>(pge::expand_discovered_targets(*config, {})), store);
  pge::TargetDiscovery discovery(config, scheduler);
  pge::ConfigReloader reloader(flags, config, discovery);
  std::unique_ptr<pge::HttpServer> http;
  try {
    http = std::make_unique<pge::HttpServer>(*web, store, reloader);
  } catch (const std::exception& e) {
    pge::log::error("cannot serve", {{"err", e.what()}});
    return 1;
  }
  log_listeners(*web, http->ports());
  for (const auto& t : config->targets) {
    pge::log::info("target", {{"name", t.name},
                              {"dsn", pge::redact_dsn(t.dsn)},
                              {"discover_databases", t.discover_databases}});
  }
  scheduler.start();
  discovery.start();
  while (g_signal == 0) {
    if (g_reload) {
      g_reload = 0;
      pge::log::info("SIGHUP: reloading the configuration");
      reloader.reload();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    http->log_held_back_lines();
  }
  pge::log::info("shutting down: cancelling statements in flight, closing connections",
                 {{"signal", static_cast<int>(g_signal)}});
  // SIGTERM must end the process within 5 s (service managers escalate to SIGKILL): statements in
  // flight are cancelled; a worker or listing still blocked after 4 s (in a connect) is left to the
  // exit.
  if (!discovery.stop(pge::Seconds{1}) || !scheduler.stop(pge::Seconds{3})) {
    pge::log::warn(
        "a target worker or the database discovery did not stop within 4 s (blocked connecting); "
        "exiting without it");
    spdlog::shutdown();
    std::_Exit(0);
  }
  http.reset();
  pge::log::info("stopped");
  spdlog::shutdown();
  return 0;
}
