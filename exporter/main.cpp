// pg_evolution_exporter: command line, start-up order and shutdown. Config problems are all printed
// and exit with status 2 before anything is served.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/config.h"
#include "core/log.h"
#include "core/session.h"
#include "exporter/flags.h"
#include "exporter/http.h"
#include "exporter/scheduler.h"
#include "exporter/store.h"

namespace {

constexpr int kExitUsage = 2;

volatile std::sig_atomic_t g_signal = 0;
void on_signal(int sig) { g_signal = sig; }

}  // namespace

int main(int argc, char** argv) {
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
  pge::Config config = std::move(*loaded.config);
  if (flags.check) {
    std::cout << "configuration OK: " << config.targets.size() << " target(s)\n";
    return 0;
  }

  pge::log::setup(*pge::log::parse_format(config.log_format), *pge::log::parse_level(config.log_level));
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  pge::SnapshotStore store;
  std::unique_ptr<pge::HttpServer> http;
  try {
    http = std::make_unique<pge::HttpServer>(config, store);
  } catch (const std::exception& e) {
    pge::log::error("cannot serve", {{"err", e.what()}});
    return 1;
  }
  for (int port : http->ports()) {
    pge::log::info("listening", {{"address", config.listen_address}, {"port", port},
                                 {"telemetry_path", config.telemetry_path}, {"version", PGE_VERSION}});
  }
  for (const auto& t : config.targets) {
    pge::log::info("target", {{"name", t.name}, {"dsn", pge::redact_dsn(t.dsn)}});
  }
  pge::Scheduler scheduler(config, store);
  scheduler.start();
  while (g_signal == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  pge::log::info("shutting down", {{"signal", static_cast<int>(g_signal)}});
  scheduler.stop();
  http.reset();
  spdlog::shutdown();
  return 0;
}
