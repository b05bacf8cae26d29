// Durations as the config file writes them and as every layer passes them around: seconds held in
// a double. Pure functions; safe from any thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace pge {

using Seconds = std::chrono::duration<double>;

// Parses "500ms", "5s", "2m", "1h", "1m30s". Returns nullopt on anything else (no bare numbers:
// a unit is required so that "5" cannot mean milliseconds to one reader and seconds to another).
std::optional<Seconds> parse_duration(const std::string& text);

}  // namespace pge
