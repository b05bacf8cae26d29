// The web configuration file (`--web.config.file`): TLS, basic auth and response headers in the
// Prometheus exporter-toolkit format, so that the file a DBA already writes for postgres_exporter
// or node_exporter works here unchanged. Loading is strict: an unknown key, an unreadable file, a
// key that does not match its certificate, a TLS version below 1.2 or a password hash that is not
// bcrypt is an error naming file, line and key, and nothing is served. The result is immutable
// after loading and safe to read from any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"

namespace pge {

enum class ClientAuth {
  kNone,              // NoClientCert (the default)
  kRequest,           // RequestClientCert: asked for, not required, not verified
  kRequire,           // RequireAnyClientCert: required, not verified
  kVerifyIfGiven,     // VerifyClientCertIfGiven
  kRequireAndVerify,  // RequireAndVerifyClientCert
};

struct TlsServerConfig {
  std::string cert_file;
  std::string key_file;
  ClientAuth client_auth = ClientAuth::kNone;
  std::string client_ca_file;
  int min_version = 0x0303;  // TLS 1.2 (OpenSSL's TLS1_2_VERSION)
  int max_version = 0;       // 0: the highest the library supports (TLS 1.3)
  // OpenSSL names of the TLS 1.2 cipher suites (translated from the Go names in the file); empty:
  // OpenSSL's defaults. TLS 1.3 suites are not configurable, as in Go.
  std::vector<std::string> cipher_suites;
  std::vector<std::string> curves;  // OpenSSL group names, translated from curve_preferences
};

struct WebConfig {
  std::string source_file;
  std::optional<TlsServerConfig> tls;
  std::map<std::string, std::string> basic_auth_users;       // user -> bcrypt hash
  std::vector<std::pair<std::string, std::string>> headers;  // added to every response
};

struct WebConfigResult {
  std::optional<WebConfig> config;
  std::vector<ConfigError> errors;  // all problems, not just the first
};

// Loads and validates a web config file. Never throws. Relative paths in the file are resolved
// against the file's directory, as exporter-toolkit does.
WebConfigResult load_web_config(const std::string& path);
// Same, from YAML text (tests, fuzzing); `name` stands in for the file name, relative paths are
// resolved against `base_dir`.
WebConfigResult load_web_config_text(const std::string& yaml_text, const std::string& name,
                                     const std::string& base_dir);

// Every key the loader accepts, dotted ("tls_server_config.cert_file"), for the docs test.
std::vector<std::string> web_config_keys();

// True for a bcrypt hash crypt_r can verify: $2a$, $2b$ or $2y$, cost 04-31, 53 characters of salt
// and digest.
bool is_bcrypt_hash(const std::string& hash);

}  // namespace pge
