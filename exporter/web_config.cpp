#include "exporter/web_config.h"

#include <openssl/ssl.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "exporter/tls_context.h"

namespace pge {
namespace {

// Go's cipher suite names (what exporter-toolkit files use) and OpenSSL's names for them. Only the
// suites Go itself enables by default; RC4, 3DES and CBC-SHA256 are refused.
const std::map<std::string, std::string>& cipher_names() {
  static const std::map<std::string, std::string> names{
      {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
      {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
      {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
      {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
      {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
      {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
      {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
      {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
  };
  return names;
}

const std::map<std::string, std::string>& curve_names() {
  static const std::map<std::string, std::string> names{
      {"CurveP256", "P-256"}, {"CurveP384", "P-384"}, {"CurveP521", "P-521"}, {"X25519", "X25519"}};
  return names;
}

const std::map<std::string, ClientAuth>& client_auth_names() {
  static const std::map<std::string, ClientAuth> names{
      {"NoClientCert", ClientAuth::kNone},
      {"RequestClientCert", ClientAuth::kRequest},
      {"RequireAnyClientCert", ClientAuth::kRequire},
      {"VerifyClientCertIfGiven", ClientAuth::kVerifyIfGiven},
      {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerify}};
  return names;
}

// The security headers exporter-toolkit accepts, with the values it restricts.
const std::map<std::string, std::set<std::string>>& allowed_headers() {
  static const std::map<std::string, std::set<std::string>> headers{
      {"Content-Security-Policy", {}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-XSS-Protection", {}},
      {"Strict-Transport-Security", {}}};
  return headers;
}

// The keys of each mapping, by dotted path ("" is the top level). headers' keys are the header
// names.
const std::map<std::string, std::set<std::string>>& known_keys() {
  static const std::map<std::string, std::set<std::string>> keys{
      {"", {"tls_server_config", "basic_auth_users", "http_server_config"}},
      {"tls_server_config",
       {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version",
        "cipher_suites", "prefer_server_cipher_suites", "curve_preferences"}},
      {"http_server_config", {"headers", "http2"}},
  };
  return keys;
}

// Walks the YAML tree collecting every problem with file:line and the dotted key.
class Reader {
 public:
  Reader(std::string file, std::string base_dir)
      : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  std::vector<ConfigError>& errors() { return errors_; }

  void error(const YAML::Node& node, const std::string& key, const std::string& message) {
    const int line = node.Mark().is_null() ? 0 : node.Mark().line + 1;
    errors_.push_back({file_, line, key, message});
  }

  // The map's entries, after reporting keys outside `allowed` and duplicates.
  std::map<std::string, YAML::Node> entries(const YAML::Node& map, const std::string& prefix,
                                            const std::set<std::string>& allowed) {
    std::map<std::string, YAML::Node> out;
    if (map.IsNull()) return out;
    if (!map.IsMap()) {
      error(map, prefix, "must be a mapping");
      return out;
    }
    for (const auto& kv : map) {
      const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
      const std::string key = prefix.empty() ? name : prefix + "." + name;
      if (!allowed.count(name)) {
        error(kv.first, key, "unknown key");
      } else if (!out.emplace(name, kv.second).second) {
        error(kv.first, key, "given twice");
      }
    }
    return out;
  }

  std::optional<std::string> string(const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar()) {
      error(node, key, "must be a string");
      return std::nullopt;
    }
    return node.Scalar();
  }

  std::optional<bool> boolean(const YAML::Node& node, const std::string& key) {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      error(node, key, "must be true or false");
      return std::nullopt;
    }
    return value;
  }

  std::vector<std::string> strings(const YAML::Node& node, const std::string& key) {
    std::vector<std::string> out;
    if (!node.IsSequence()) {
      error(node, key, "must be a list of strings");
      return out;
    }
    for (const auto& item : node) {
      if (auto s = string(item, key)) out.push_back(*s);
    }
    return out;
  }

  // A file path from the config, resolved against the config's directory and checked readable.
  std::optional<std::string> readable_file(const YAML::Node& node, const std::string& key) {
    auto path = string(node, key);
    if (!path) return std::nullopt;
    if (path->empty()) {
      error(node, key, "is empty");
      return std::nullopt;
    }
    std::filesystem::path p(*path);
    if (p.is_relative() && !base_dir_.empty()) p = std::filesystem::path(base_dir_) / p;
    std::ifstream in(p);
    if (!in) {
      error(node, key, "cannot read " + p.string());
      return std::nullopt;
    }
    return p.string();
  }

 private:
  std::string file_;
  std::string base_dir_;
  std::vector<ConfigError> errors_;
};

std::optional<int> tls_version(Reader& r, const YAML::Node& node, const std::string& key) {
  auto s = r.string(node, key);
  if (!s) return std::nullopt;
  if (*s == "TLS12") return TLS1_2_VERSION;
  if (*s == "TLS13") return TLS1_3_VERSION;
  if (*s == "TLS10" || *s == "TLS11") {
    r.error(node, key, *s + " is refused: TLS 1.0 and 1.1 are broken; use TLS12 or TLS13");
  } else {
    r.error(node, key, "must be TLS12 or TLS13, got \"" + *s + "\"");
  }
  return std::nullopt;
}

// Translates a list through `names`, reporting entries it does not know.
std::vector<std::string> translated(Reader& r, const YAML::Node& node, const std::string& key,
                                    const std::map<std::string, std::string>& names) {
  std::vector<std::string> out;
  if (!node.IsSequence()) {
    r.error(node, key, "must be a list of strings");
    return out;
  }
  for (const auto& item : node) {
    auto s = r.string(item, key);
    if (!s) continue;
    auto it = names.find(*s);
    if (it == names.end()) {
      r.error(item, key, "unknown or refused value \"" + *s + "\"");
    } else {
      out.push_back(it->second);
    }
  }
  return out;
}

std::optional<TlsServerConfig> read_tls(Reader& r, const YAML::Node& node) {
  const std::string p = "tls_server_config";
  auto e = r.entries(node, p, known_keys().at(p));
  if (node.IsNull() || !node.IsMap()) return std::nullopt;
  const size_t errors_before = r.errors().size();
  TlsServerConfig tls;
  if (!e.count("cert_file")) r.error(node, p + ".cert_file", "is required for TLS");
  if (!e.count("key_file")) r.error(node, p + ".key_file", "is required for TLS");
  if (e.count("cert_file"))
    tls.cert_file = r.readable_file(e["cert_file"], p + ".cert_file").value_or("");
  if (e.count("key_file"))
    tls.key_file = r.readable_file(e["key_file"], p + ".key_file").value_or("");
  if (e.count("client_ca_file")) {
    tls.client_ca_file = r.readable_file(e["client_ca_file"], p + ".client_ca_file").value_or("");
  }
  if (e.count("client_auth_type")) {
    if (auto s = r.string(e["client_auth_type"], p + ".client_auth_type")) {
      auto it = client_auth_names().find(*s);
      if (it == client_auth_names().end()) {
        r.error(e["client_auth_type"], p + ".client_auth_type", "unknown value \"" + *s + "\"");
      } else {
        tls.client_auth = it->second;
      }
    }
  }
  const bool verifies = tls.client_auth == ClientAuth::kVerifyIfGiven ||
                        tls.client_auth == ClientAuth::kRequireAndVerify;
  if (verifies && !e.count("client_ca_file")) {
    r.error(node, p + ".client_ca_file", "is required to verify client certificates");
  }
  if (!verifies && e.count("client_ca_file")) {
    r.error(e["client_ca_file"], p + ".client_ca_file",
            "is given but client_auth_type does not verify client certificates");
  }
  if (e.count("min_version")) {
    tls.min_version =
        tls_version(r, e["min_version"], p + ".min_version").value_or(tls.min_version);
  }
  if (e.count("max_version")) {
    tls.max_version = tls_version(r, e["max_version"], p + ".max_version").value_or(0);
    if (tls.max_version && tls.max_version < tls.min_version) {
      r.error(e["max_version"], p + ".max_version", "is below min_version");
    }
  }
  if (e.count("cipher_suites")) {
    tls.cipher_suites = translated(r, e["cipher_suites"], p + ".cipher_suites", cipher_names());
  }
  if (e.count("curve_preferences")) {
    tls.curves = translated(r, e["curve_preferences"], p + ".curve_preferences", curve_names());
  }
  if (e.count("prefer_server_cipher_suites")) {
    r.boolean(e["prefer_server_cipher_suites"], p + ".prefer_server_cipher_suites");
  }
  if (r.errors().size() != errors_before) return std::nullopt;
  try {
    SSL_CTX_free(make_server_tls_context(tls));
  } catch (const TlsSetupError& err) {
    r.error(e.count(err.key()) ? e[err.key()] : node, p + "." + err.key(), err.what());
    return std::nullopt;
  }
  return tls;
}

std::map<std::string, std::string> read_users(Reader& r, const YAML::Node& node) {
  std::map<std::string, std::string> users;
  if (node.IsNull()) return users;
  if (!node.IsMap()) {
    r.error(node, "basic_auth_users", "must be a mapping of user name to bcrypt hash");
    return users;
  }
  for (const auto& kv : node) {
    const std::string user = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const std::string key = "basic_auth_users." + user;
    if (user.empty() || user.find(':') != std::string::npos) {
      r.error(kv.first, key, "user names must be non-empty and contain no ':'");
      continue;
    }
    auto hash = r.string(kv.second, key);
    if (!hash) continue;
    // The value is never echoed: a plain-text password pasted here must not reach the log.
    if (!is_bcrypt_hash(*hash)) {
      r.error(kv.second, key, "is not a bcrypt hash ($2a$, $2b$ or $2y$, e.g. from htpasswd -nbB)");
    } else if (!users.emplace(user, *hash).second) {
      r.error(kv.first, key, "given twice");
    }
  }
  return users;
}

std::vector<std::pair<std::string, std::string>> read_headers(Reader& r, const YAML::Node& node) {
  std::vector<std::pair<std::string, std::string>> headers;
  std::set<std::string> names;
  for (const auto& name : allowed_headers()) names.insert(name.first);
  auto e = r.entries(node, "http_server_config.headers", names);
  for (auto& [name, value_node] : e) {
    const std::string key = "http_server_config.headers." + name;
    auto value = r.string(value_node, key);
    if (!value) continue;
    const auto& allowed = allowed_headers().at(name);
    std::string lower = *value;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!allowed.empty() && !allowed.count(lower)) {
      r.error(value_node, key, "value \"" + *value + "\" is not allowed");
    } else if (value->find_first_of("\r\n") != std::string::npos || value->empty()) {
      r.error(value_node, key, "must be one non-empty line");
    } else {
      headers.emplace_back(name, *value);
    }
  }
  return headers;
}

void read_http_server_config(Reader& r, const YAML::Node& node, WebConfig& cfg) {
  auto e = r.entries(node, "http_server_config", known_keys().at("http_server_config"));
  if (e.count("headers")) cfg.headers = read_headers(r, e["headers"]);
  // HTTP/2 is accepted for compatibility; CivetWeb serves HTTP/1.1, which Prometheus speaks.
  if (e.count("http2")) r.boolean(e["http2"], "http_server_config.http2");
}

WebConfigResult parse(const std::string& text, const std::string& name,
                      const std::string& base_dir) {
  Reader r(name, base_dir);
  WebConfigResult result;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    result.errors.push_back({name, e.mark.is_null() ? 0 : e.mark.line + 1, "", "YAML: " + e.msg});
    return result;
  }
  WebConfig cfg;
  cfg.source_file = name;
  auto e = r.entries(root, "", known_keys().at(""));
  try {
    if (e.count("tls_server_config")) cfg.tls = read_tls(r, e["tls_server_config"]);
    if (e.count("basic_auth_users")) cfg.basic_auth_users = read_users(r, e["basic_auth_users"]);
    if (e.count("http_server_config")) read_http_server_config(r, e["http_server_config"], cfg);
  } catch (const YAML::Exception& ex) {
    r.error(root, "", std::string("YAML: ") + ex.what());
  }
  result.errors = std::move(r.errors());
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

}  // namespace

std::vector<std::string> web_config_keys() {
  std::vector<std::string> out;
  for (const auto& [parent, children] : known_keys()) {
    for (const auto& child : children) out.push_back(parent.empty() ? child : parent + "." + child);
  }
  for (const auto& [name, values] : allowed_headers())
    out.push_back("http_server_config.headers." + name);
  return out;
}

bool is_bcrypt_hash(const std::string& hash) {
  static const std::regex bcrypt(R"(^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$)");
  return std::regex_match(hash, bcrypt);
}

WebConfigResult load_web_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {std::nullopt, {{path, 0, "", "cannot read the web config file"}}};
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path, std::filesystem::path(path).parent_path().string());
}

WebConfigResult load_web_config_text(const std::string& yaml_text, const std::string& name,
                                     const std::string& base_dir) {
  return parse(yaml_text, name, base_dir);
}

}  // namespace pge
