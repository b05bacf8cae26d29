// Values the exporter's logs and self-metrics show: the wall-clock time as Unix seconds and a list
// of names joined with commas. Pure functions; any thread.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace pge {

inline double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

inline std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

}  // namespace pge
