// The command line (CLI11): every flag, its PG_EVOLUTION_EXPORTER_* environment variable, and the
// postgres_exporter variables DATA_SOURCE_NAME / DATA_SOURCE_PASS_FILE. Precedence is flag, then
// environment, then config file: a flag or variable that is set overrides the file's key, one that
// is not leaves the file alone. --collector.<name> / --no-collector.<name> come from the collector
// registry. Main thread only, before anything starts.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"

namespace pge {

struct Flags {
  std::optional<std::string> config_file;
  std::vector<std::string> listen_addresses;  // repeatable; empty: exporter.listen_address
  std::optional<std::string> web_config_file;
  std::optional<std::string> telemetry_path;
  std::optional<std::string> log_level;
  std::optional<std::string> log_format;
  std::map<std::string, bool> collectors;  // only the collectors a flag or variable switched
  bool check = false;
  bool version = false;
};

// Either flags to run with, or an exit status with the text to print (help: status 0 on stdout;
// a bad flag or value: status 2 on stderr, naming the flag or variable).
struct FlagsOutcome {
  std::optional<Flags> flags;
  int exit_status = 0;
  std::string message;
};
FlagsOutcome parse_flags(int argc, const char* const* argv);

// The environment variable of a flag: "--web.listen-address" ->
// PG_EVOLUTION_EXPORTER_WEB_LISTEN_ADDRESS.
std::string env_name_of(const std::string& flag);

// The configuration to run: the file when --config.file is set, else one target from
// DATA_SOURCE_NAME (with the password of DATA_SOURCE_PASS_FILE added), then the flags applied.
ConfigResult load_configuration(const Flags& flags);

}  // namespace pge
