#include "exporter/process_metrics.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace pge {
namespace {

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// btime from /proc/stat: the boot time in Unix seconds, which start times in /proc/self/stat count
// from.
std::optional<double> boot_time_seconds() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return std::nullopt;
}

// The soft limit of "Max open files" in /proc/self/limits (what client_golang reports).
std::optional<double> max_open_files() {
  std::ifstream in("/proc/self/limits");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream fields(line.substr(14));
    std::string soft;
    fields >> soft;
    if (soft == "unlimited") return std::nullopt;
    return std::stod(soft);
  }
  return std::nullopt;
}

double count_open_fds() {
  double n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n - 1;  // the directory iterator's own descriptor
}

prometheus::MetricFamily single(const std::string& name, const std::string& help, double value,
                                prometheus::MetricType type = prometheus::MetricType::Gauge) {
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return prometheus::MetricFamily{name, help, type, {m}};
}

}  // namespace

ProcessStats parse_proc_stat(const std::string& stat, long ticks_per_second, long page_size,
                             double boot_time) {
  // The command name (field 2) is in parentheses and may itself hold spaces and ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) throw std::runtime_error("malformed /proc stat: no ')'");
  std::istringstream in(stat.substr(close + 2));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string w; in >> w;) f.push_back(w);
  if (f.size() < 22)
    throw std::runtime_error("malformed /proc stat: " + std::to_string(f.size()) + " fields");
  const auto field = [&](int n) { return std::stod(f.at(static_cast<std::size_t>(n - 3))); };
  ProcessStats s;
  s.cpu_seconds = (field(14) + field(15)) / static_cast<double>(ticks_per_second);
  s.start_time_seconds = boot_time + field(22) / static_cast<double>(ticks_per_second);
  s.virtual_memory_bytes = field(23);
  s.resident_memory_bytes = field(24) * static_cast<double>(page_size);
  return s;
}

std::vector<prometheus::MetricFamily> process_metric_families() {
  std::vector<prometheus::MetricFamily> out;
  const auto stat = read_text("/proc/self/stat");
  const auto boot = boot_time_seconds();
  if (stat && boot) {
    try {
      const ProcessStats s =
          parse_proc_stat(*stat, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), *boot);
      out.push_back(single("process_cpu_seconds_total",
                           "Total user and system CPU time spent in seconds.", s.cpu_seconds,
                           prometheus::MetricType::Counter));
      out.push_back(single("process_resident_memory_bytes", "Resident memory size in bytes.",
                           s.resident_memory_bytes));
      out.push_back(single("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                           s.virtual_memory_bytes));
      out.push_back(single("process_start_time_seconds",
                           "Start time of the process since unix epoch in seconds.",
                           s.start_time_seconds));
    } catch (const std::exception&) {
      // A kernel with another stat layout: the process_* families that need it are left out.
    }
  }
  try {
    out.push_back(single("process_open_fds", "Number of open file descriptors.", count_open_fds()));
  } catch (const std::filesystem::filesystem_error&) {
    // /proc not mounted (a container without it): the family is left out, the scrape goes on.
  }
  if (const auto max = max_open_files()) {
    out.push_back(single("process_max_fds", "Maximum number of open file descriptors.", *max));
  }
  return out;
}

}  // namespace pge
