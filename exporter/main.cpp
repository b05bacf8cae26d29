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
#include <vector>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "collectors/registry.h"
#include "core/config.h"
#include "core/session.h"
#include "exporter/http.h"
#include "exporter/scheduler.h"
#include "exporter/store.h"
#include "exporter/web_config.h"

namespace {

constexpr int kExitUsage = 2;

struct Flags {
  std::optional<std::string> config_file;
  std::vector<std::string> listen_addresses;  // repeatable
  std::optional<std::string> web_config_file;
  std::optional<std::string> log_level;
  bool version = false;
  bool check = false;
  bool help = false;
};

const char* kUsage =
    "usage: pg_evolution_exporter [flags]\n"
    "  --config.file=PATH            TOML configuration (without it: DATA_SOURCE_NAME, default collectors)\n"
    "  --web.listen-address=ADDR     listen address, default 127.0.0.1:9187 (overrides the config\n"
    "                                file); repeat the flag to listen on several addresses\n"
    "  --web.config.file=PATH        TLS and basic auth (exporter-toolkit YAML format)\n"
    "  --log.level=LEVEL             trace, debug, info, warn, error (overrides the config file)\n"
    "  --config.check                validate the configuration, print every problem, exit 0 or 2\n"
    "  --version                     print the version and exit\n";

std::optional<Flags> parse_flags(int argc, char** argv) {
  Flags f;
  const std::map<std::string, std::optional<std::string>*> valued{
      {"--config.file", &f.config_file},
      {"--web.config.file", &f.web_config_file},
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
    const bool repeatable = name == "--web.listen-address";
    auto it = valued.find(name);
    if (!repeatable && it == valued.end()) {
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
    if (repeatable) {
      f.listen_addresses.push_back(value);
    } else {
      *it->second = value;
    }
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

// One line per listener; a warning for each that any host may reach without TLS or credentials.
void log_listeners(const pge::HttpSettings& web, const std::vector<int>& ports) {
  const bool tls = web.web.tls.has_value();
  const bool auth = !web.web.basic_auth_users.empty();
  for (size_t i = 0; i < ports.size() && i < web.listen_addresses.size(); ++i) {
    const std::string& address = web.listen_addresses[i];
    spdlog::info("listening address={} port={} tls={} basic_auth={} version={}", address, ports[i], tls,
                 auth, PGE_VERSION);
    if (pge::listens_on_all_interfaces(address) && !(tls && auth)) {
      spdlog::warn("address={} listens on every interface without TLS and basic auth: anyone who "
                   "reaches it reads the database's table and query names (see docs/security.md)",
                   address);
    }
  }
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
  pge::HttpSettings web;
  if (flags->web_config_file) {
    pge::WebConfigResult web_loaded = pge::load_web_config(*flags->web_config_file);
    for (const auto& e : web_loaded.errors) std::cerr << e.render() << "\n";
    if (!web_loaded.config) {
      std::cerr << "pg_evolution_exporter: web config has " << web_loaded.errors.size()
                << " problem(s); nothing served\n";
      return kExitUsage;
    }
    web.web = std::move(*web_loaded.config);
  }
  web.listen_addresses = flags->listen_addresses;
  if (web.listen_addresses.empty()) web.listen_addresses = {config.listen_address};
  web.scrape_threads = config.web_threads;
  web.max_connections = config.web_max_connections;
  web.healthz_open = config.healthz_without_auth;
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
    http = std::make_unique<pge::HttpServer>(web, store);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  log_listeners(web, http->ports());
  for (const auto& t : config.targets) {
    spdlog::info("target name={} dsn=\"{}\"", t.name, pge::redact_dsn(t.dsn));
  }
  pge::Scheduler scheduler(config, store);
  scheduler.start();
  while (g_signal == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  spdlog::info("shutting down signal={}: cancelling statements in flight, closing connections",
               static_cast<int>(g_signal));
  // SIGTERM must end the process within 5 s (service managers escalate to SIGKILL): statements in
  // flight are cancelled; a worker still blocked after 4 s (in a connect) is left to the exit.
  if (!scheduler.stop(pge::Seconds{4})) {
    spdlog::warn("a target worker did not stop within 4 s (blocked connecting); exiting without it");
    spdlog::shutdown();
    std::_Exit(0);
  }
  http.reset();
  spdlog::info("stopped");
  spdlog::shutdown();
  return 0;
}
