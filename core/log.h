// Structured logging: one event per line, as logfmt (the default, what Prometheus' own programs
// write) or as JSON, with the level names debug, info, warn, error. Callers pass a message and
// key/value fields; every value is quoted and escaped as the format needs, so a multi-line libpq
// error or a DSN with quotes stays one parseable line. spdlog does the I/O (thread-safe, flushed at
// info and above); the formatting functions are pure and exposed for tests. Any thread may log once
// setup() has run (before it, events go to spdlog's default stderr logger, still one line each).
#pragma once

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace pge::log {

enum class Format { kLogfmt, kJson };
enum class Level { kDebug, kInfo, kWarn, kError };

// "logfmt" / "json" and "debug" / "info" / "warn" / "error"; nullopt for anything else.
std::optional<Format> parse_format(std::string_view name);
std::optional<Level> parse_level(std::string_view name);
std::string_view level_name(Level level);

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  template <typename N, typename = std::enable_if_t<std::is_arithmetic_v<N>>>
  Field(std::string_view k, N v) : key(k), value(number(v)) {}

  std::string_view key;
  std::string value;

 private:
  static std::string number(double v);
  static std::string number(long long v);
  template <typename N>
  static std::string number(N v) {
    if constexpr (std::is_floating_point_v<N>)
      return number(static_cast<double>(v));
    else
      return number(static_cast<long long>(v));
  }
};
using Fields = std::initializer_list<Field>;

// One complete line (without the newline) in the given format. Keys ts, level, msg come first.
std::string format_line(Format format, std::chrono::system_clock::time_point ts, Level level,
                        std::string_view msg, Fields fields);

// Installs the stderr logger with this format and minimum level. Call once, from main.
void setup(Format format, Level level);

void write(Level level, std::string_view msg, Fields fields);
inline void debug(std::string_view msg, Fields fields = {}) { write(Level::kDebug, msg, fields); }
inline void info(std::string_view msg, Fields fields = {}) { write(Level::kInfo, msg, fields); }
inline void warn(std::string_view msg, Fields fields = {}) { write(Level::kWarn, msg, fields); }
inline void error(std::string_view msg, Fields fields = {}) { write(Level::kError, msg, fields); }

}  // namespace pge::log
