// pg_evolution_exporter: command line, start-up order and shutdown. Config problems are all printed
// and exit with status 2 before anything is served.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "collectors/registry.h"
#include "core/config.h"
#include "core/session.h"
#include "exporter/http.h"
#include "exporter/scheduler.h"
#include "exporter/store.h"

namespace {

constexpr int kExitUsage = 2;

struct Flags {
  std::optional<std::string> config_file;
  std::optional<std::string> listen_address;
  std::optional<std::string> log_level;
  bool version = false;
  bool check = false;
  bool help = false;
};

const char* kUsage =
    "usage: pg_evolution_exporter [flags]\n"
    "  --config.file=PATH            TOML configuration (without it: DATA_SOURCE_NAME, default collectors)\n"
    "  --web.listen-address=ADDR     listen address, default :9187 (overrides the config file)\n"
    "  --log.level=LEVEL             trace, debug, info, warn, error (overrides the config file)\n"
    "  --config.check                validate the configuration, print every problem, exit 0 or 2\n"
    "  --version                     print the version and exit\n";

std::optional<Flags> parse_flags(int argc, char** argv) {
  Flags f;
  const std::map<std::string, std::optional<std::string>*> valued{
      {"--config.file", &f.config_file},
      {"--web.listen-address", &f.listen_address},
      {"--log.level", &f.log_level}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--version") { f.version = true; continue; }
    if (arg == "--config.check") { f.check = true; continue; }
    if (arg == "--help" || arg == "-h") { f.help = true; continue; }
    std::string name = arg, value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    auto it = valued.find(name);
    if (it == valued.end()) {
      std::cerr << "pg_evolution_exporter: unknown flag " << name << "\n" << kUsage;
      return std::nullopt;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        std::cerr << "pg_evolution_exporter: flag " << name << " needs a value\n";
        return std::nullopt;
      }
      value = argv[++i];
    }
    *it->second = value;
  }
  return f;
}

volatile std::sig_atomic_t g_signal = 0;
void on_signal(int sig) { g_signal = sig; }

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("pg_evolution_exporter");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l msg=%v", spdlog::pattern_time_type::utc);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace

int main(int argc, char** argv) {
  auto flags = parse_flags(argc, argv);
  if (!flags) return kExitUsage;
  if (flags->help) {
    std::cout << kUsage;
    return 0;
  }
  if (flags->version) {
    std::cout << "pg_evolution_exporter " << PGE_VERSION << " (revision " << PGE_REVISION << ")\n";
    return 0;
  }
  static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (flags->log_level && !levels.count(*flags->log_level)) {
    std::cerr << "pg_evolution_exporter: --log.level must be one of trace, debug, info, warn, error, "
                 "critical, off; got \""
              << *flags->log_level << "\"\n";
    return kExitUsage;
  }

  pge::ConfigResult loaded;
  if (flags->config_file) {
    loaded = pge::load_config(*flags->config_file, pge::known_collectors());
  } else if (const char* dsn = std::getenv("DATA_SOURCE_NAME"); dsn && *dsn) {
    loaded = pge::config_from_dsn(dsn, pge::known_collectors());
  } else {
    std::cerr << "pg_evolution_exporter: give --config.file=PATH or set DATA_SOURCE_NAME\n";
    return kExitUsage;
  }
  for (const auto& e : loaded.errors) std::cerr << e.render() << "\n";
  if (!loaded.config) {
    std::cerr << "pg_evolution_exporter: configuration has " << loaded.errors.size()
              << " problem(s); nothing served\n";
    return kExitUsage;
  }
  pge::Config config = std::move(*loaded.config);
  if (flags->listen_address) config.listen_address = *flags->listen_address;
  if (flags->log_level) config.log_level = *flags->log_level;
  if (flags->check) {
    std::cout << "configuration OK: " << config.targets.size() << " target(s)\n";
    return 0;
  }

  setup_logging(config.log_level);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  pge::SnapshotStore store;
  std::unique_ptr<pge::HttpServer> http;
  try {
    http = std::make_unique<pge::HttpServer>(config, store);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  for (int port : http->ports()) {
    spdlog::info("listening address={} port={} version={}", config.listen_address, port, PGE_VERSION);
  }
  for (const auto& t : config.targets) {
    spdlog::info("target name={} dsn=\"{}\"", t.name, pge::redact_dsn(t.dsn));
  }
  pge::Scheduler scheduler(config, store);
  scheduler.start();
  while (g_signal == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  spdlog::info("shutting down signal={}", static_cast<int>(g_signal));
  scheduler.stop();
  http.reset();
  spdlog::shutdown();
  return 0;
}
