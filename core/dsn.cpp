#include "core/dsn.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace pge {
namespace {

// The keywords a DSN sets with their values, in libpq's keyword order.
using Keywords = std::vector<std::pair<std::string, std::string>>;

std::optional<Keywords> parse(const std::string& dsn) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(dsn.c_str(), &error), &PQconninfoFree);
  // libpq's message quotes the text it choked on, which may be part of a password: not kept.
  if (error) PQfreemem(error);
  if (!options) return std::nullopt;
  Keywords set;
  for (const PQconninfoOption* o = options.get(); o->keyword; ++o) {
    if (o->val) set.emplace_back(o->keyword, o->val);
  }
  return set;
}

bool sets(const std::string& dsn, const std::string& keyword) {
  const auto keywords = parse(dsn);
  return keywords && std::any_of(keywords->begin(), keywords->end(),
                                 [&](const auto& kv) { return kv.first == keyword; });
}

bool is_uri(const std::string& dsn) {
  return dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
}

std::string percent_encoded(const std::string& value) {
  std::string encoded;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      encoded += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      encoded += buf;
    }
  }
  return encoded;
}

// A key=value value as libpq reads it back: bare when it can be, else single-quoted with
// backslash escapes.
std::string conninfo_value(const std::string& value) {
  const bool bare = !value.empty() && std::none_of(value.begin(), value.end(), [](unsigned char c) {
    return std::isspace(c) || c == '\'' || c == '\\';
  });
  if (bare) return value;
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') quoted += '\\';
    quoted += c;
  }
  return quoted + "'";
}

// `dsn` with one more keyword, written in the DSN's own form.
std::string appended(const std::string& dsn, const std::string& keyword, const std::string& value) {
  if (is_uri(dsn)) {
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + keyword + "=" +
           percent_encoded(value);
  }
  return dsn + (dsn.empty() ? "" : " ") + keyword + "=" + conninfo_value(value);
}

std::string with_default(const std::string& dsn, const std::string& keyword,
                         const std::string& value) {
  return sets(dsn, keyword) ? dsn : appended(dsn, keyword, value);
}

}  // namespace

std::string dsn_password(const std::string& dsn) {
  const auto keywords = parse(dsn);
  if (!keywords) return "";
  auto it = std::find_if(keywords->begin(), keywords->end(),
                         [](const auto& kv) { return kv.first == "password"; });
  return it == keywords->end() ? "" : it->second;
}

std::string redact_dsn(const std::string& dsn) {
  const auto keywords = parse(dsn);
  if (!keywords) return "(a DSN libpq cannot parse)";
  std::string out;
  for (const auto& [keyword, value] : *keywords) {
    out += (out.empty() ? "" : " ") + keyword + "=" +
           (keyword == "password" ? "******" : conninfo_value(value));
  }
  return out;
}

std::string augment_dsn(const std::string& dsn, Seconds connect_timeout) {
  std::string out = with_default(dsn, "application_name", "pg_evolution_exporter");
  const long secs = std::max(1L, static_cast<long>(connect_timeout.count() + 0.5));
  out = with_default(out, "connect_timeout", std::to_string(secs));
  // A peer gone without a reset (host down, black hole): idle connections are probed after 10 s
  // and given up after 3 unanswered probes 5 s apart; unacknowledged data after 30 s.
  out = with_default(out, "keepalives", "1");
  out = with_default(out, "keepalives_idle", "10");
  out = with_default(out, "keepalives_interval", "5");
  out = with_default(out, "keepalives_count", "3");
  return with_default(out, "tcp_user_timeout", "30000");
}

std::string dsn_with_password(const std::string& dsn, const std::string& password) {
  return appended(dsn, "password", password);
}

std::string dsn_with_dbname(const std::string& dsn, const std::string& dbname) {
  return appended(dsn, "dbname", dbname);
}

}  // namespace pge
