// process_* metrics of the exporter itself, as every Prometheus client library has them (CPU
// seconds, resident and virtual memory, open and maximum file descriptors, start time), read from
// /proc/self on each call. Pure read-only file access: any thread may call it; a file that cannot
// be read leaves its metrics out rather than failing the scrape.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace pge {

// What /proc says about one process.
struct ProcessStats {
  double cpu_seconds = 0;
  double resident_memory_bytes = 0;
  double virtual_memory_bytes = 0;
  double start_time_seconds = 0;  // Unix time
  double open_fds = 0;
  double max_fds = 0;
};

// Parses /proc/<pid>/stat text (fields after the command name) with the clock tick, page size and
// boot time given; throws std::runtime_error on malformed text. Exposed for tests.
ProcessStats parse_proc_stat(const std::string& stat, long ticks_per_second, long page_size,
                             double boot_time_seconds);

// The six process_* families for this process.
std::vector<prometheus::MetricFamily> process_metric_families();

}  // namespace pge
