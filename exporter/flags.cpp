#include "exporter/flags.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "collectors/registry.h"
#include "core/dsn.h"
#include "core/log.h"
#include "core/session.h"

namespace pge {
namespace {

constexpr int kExitUsage = 2;
constexpr const char* kEnvPrefix = "PG_EVOLUTION_EXPORTER_";

// An optional string flag with its environment variable; `opt` is only set when the flag or the
// variable was given, so that the config file's value stands otherwise.
CLI::Option* add_string(CLI::App& app, const std::string& flag, std::optional<std::string>& opt,
                        const std::string& help) {
  return app
      .add_option_function<std::string>(
          flag, [&opt](const std::string& v) { opt = v; }, help)
      ->envname(env_name_of(flag));
}

CLI::Validator one_of(std::string what, const std::function<bool(const std::string&)>& ok) {
  return CLI::Validator(
      [what, ok](std::string& v) {
        return ok(v) ? std::string() : "must be " + what + ", got \"" + v + "\"";
      },
      "", what);
}

CLI::Validator telemetry_path_validator() {
  return one_of(kTelemetryPathRule, is_valid_telemetry_path);
}

void add_collector_flags(CLI::App& app, Flags& f) {
  for (const CollectorInfo& info : collector_registry()) {
    const std::string flag = "--collector." + info.name;
    const std::string name = info.name;
    app.add_flag_function(
           flag + ",!--no-collector." + info.name,
           [&f, name](std::int64_t count) { f.collectors[name] = count > 0; },
           "Enable the " + info.name + " collector (" + (info.enabled_by_default ? "on" : "off") +
               " by default): " + info.help)
        ->envname(env_name_of(flag))
        ->group("Collectors");
  }
}

// CLI11 turns a flag's variable into a number and throws std::invalid_argument on a word it does
// not know, so the collector variables are checked first, for a message that names the variable.
std::optional<std::string> bad_collector_variable() {
  static const std::set<std::string> kBooleans{"true", "false", "1", "0", "yes", "no", "on", "off"};
  for (const CollectorInfo& info : collector_registry()) {
    const std::string name = env_name_of("--collector." + info.name);
    const char* value = std::getenv(name.c_str());
    if (value && *value && !kBooleans.count(value)) {
      return name + ": must be true or false, got \"" + value + "\"";
    }
  }
  return std::nullopt;
}

std::string read_password_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  std::string pw = s.str();
  while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
  return pw;
}

ConfigResult config_from_environment() {
  const char* dsn = std::getenv("DATA_SOURCE_NAME");
  if (!dsn || !*dsn) {
    return {std::nullopt,
            {{"pg_evolution_exporter", 0, "", "give --config.file=PATH or set DATA_SOURCE_NAME"}}};
  }
  std::string full = dsn;
  if (const char* pass_file = std::getenv("DATA_SOURCE_PASS_FILE"); pass_file && *pass_file) {
    if (!dsn_password(full).empty()) {
      return {std::nullopt,
              {{"environment", 0, "DATA_SOURCE_PASS_FILE",
                "DATA_SOURCE_NAME already holds a password; set one or the other"}}};
    }
    try {
      full = dsn_with_password(full, read_password_file(pass_file));
    } catch (const std::exception& e) {
      return {std::nullopt, {{"environment", 0, "DATA_SOURCE_PASS_FILE", e.what()}}};
    }
  }
  return config_from_dsn(full, known_collectors());
}

void apply_flags(const Flags& f, Config& cfg) {
  if (f.telemetry_path) cfg.telemetry_path = *f.telemetry_path;
  if (f.log_level) cfg.log_level = *f.log_level;
  if (f.log_format) cfg.log_format = *f.log_format;
  for (const auto& [name, enabled] : f.collectors) cfg.collectors.at(name).enabled = enabled;
}

}  // namespace

std::string env_name_of(const std::string& flag) {
  std::string out = kEnvPrefix;
  for (char c : flag.substr(flag.find_first_not_of('-'))) {
    out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
  }
  return out;
}

FlagsOutcome parse_flags(int argc, const char* const* argv) {
  Flags f;
  CLI::App app(
      "pg_evolution_exporter: a Prometheus exporter for PostgreSQL databases that grow and "
      "whose schema evolves. Every flag can also be set by the environment variable shown; "
      "a flag wins over its variable, both win over the config file. Without "
      "--config.file, DATA_SOURCE_NAME (libpq URI or key=value string) gives one target and "
      "DATA_SOURCE_PASS_FILE a file holding its password.",
      "pg_evolution_exporter");
  app.get_formatter()->column_width(44);
  add_string(app, "--config.file", f.config_file, "TOML configuration file");
  app.add_option("--web.listen-address", f.listen_addresses,
                 "Address to listen on (default 127.0.0.1:10187); repeat the flag (or separate by "
                 "commas in the variable) for several; overrides exporter.listen_address")
      ->envname(env_name_of("--web.listen-address"))
      ->delimiter(',')
      ->allow_extra_args(false);
  add_string(app, "--web.config.file", f.web_config_file,
             "TLS, basic auth and response headers (exporter-toolkit YAML web config)");
  add_string(app, "--web.telemetry-path", f.telemetry_path,
             "Path of the metrics (default /metrics); overrides exporter.telemetry_path")
      ->check(telemetry_path_validator());
  add_string(app, "--log.level", f.log_level,
             "debug, info, warn or error (default info); overrides exporter.log_level")
      ->check(one_of("one of debug, info, warn, error",
                     [](const std::string& v) { return log::parse_level(v).has_value(); }));
  add_string(app, "--log.format", f.log_format,
             "logfmt or json (default logfmt); overrides exporter.log_format")
      ->check(one_of("logfmt or json",
                     [](const std::string& v) { return log::parse_format(v).has_value(); }));
  app.add_flag("--config.check", f.check,
               "Validate the configuration, print every problem, exit 0 or 2")
      ->envname(env_name_of("--config.check"));
  app.add_flag("--version", f.version, "Print the version and exit");
  add_collector_flags(app, f);
  if (auto bad = bad_collector_variable()) {
    return {std::nullopt, kExitUsage, "pg_evolution_exporter: " + *bad + "\n"};
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return {std::nullopt, 0, app.help()};
  } catch (const CLI::ParseError& e) {
    return {
        std::nullopt, kExitUsage,
        std::string("pg_evolution_exporter: ") + e.what() + "\nRun with --help for the flags.\n"};
  }
  return {std::move(f), 0, ""};
}

ConfigResult load_configuration(const Flags& flags) {
  ConfigResult loaded = flags.config_file ? load_config(*flags.config_file, known_collectors())
                                          : config_from_environment();
  if (loaded.config) apply_flags(flags, *loaded.config);
  return loaded;
}

}  // namespace pge
