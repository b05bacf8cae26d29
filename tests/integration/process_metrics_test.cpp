// process_* metrics of the running exporter against what /proc says about its pid, read by the test
// just before and just after the scrape (the truth moves a little between the two reads).
#include "exporter/process_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <tuple>

#include "tests/support/test_support.h"

namespace pge::test {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double boot_time() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  throw std::runtime_error("no btime in /proc/stat");
}

ProcessStats truth(int pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  ProcessStats s = parse_proc_stat(read_text(dir + "/stat"), sysconf(_SC_CLK_TCK),
                                   sysconf(_SC_PAGESIZE), boot_time());
  s.open_fds = static_cast<double>(std::distance(std::filesystem::directory_iterator(dir + "/fd"),
                                                 std::filesystem::directory_iterator{}));
  std::istringstream limits(read_text(dir + "/limits"));
  for (std::string line; std::getline(limits, line);) {
    if (line.rfind("Max open files", 0) == 0) s.max_fds = std::stod(line.substr(14));
  }
  return s;
}

TEST(ProcessMetrics, ParseProcStatHandlesACommandNameWithSpacesAndParentheses) {
  // Fields 3.. of a real line; utime=250 stime=50 starttime=1000 vsize=4096000 rss=300.
  const std::string stat =
      "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1000 4096000 300 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
  const ProcessStats s = parse_proc_stat(stat, 100, 4096, 1700000000);
  EXPECT_DOUBLE_EQ(s.cpu_seconds, 3.0);
  EXPECT_DOUBLE_EQ(s.start_time_seconds, 1700000010.0);
  EXPECT_DOUBLE_EQ(s.virtual_memory_bytes, 4096000);
  EXPECT_DOUBLE_EQ(s.resident_memory_bytes, 300 * 4096);
  EXPECT_THROW(parse_proc_stat("42 (x S 1", 100, 4096, 0), std::runtime_error);
}

TEST(ProcessMetrics, ExporterReportsWhatProcSaysAboutItsPid) {
  test::TestDatabase db;
  ExporterProcess exporter("[[target]]\nname = \"db\"\ndsn = \"" + db.dsn("pge_exporter") + "\"\n");
  exporter.wait_for([](const auto& s) { return test::find_sample(s, "pg_up").value_or(0) == 1; },
                    15);
  const ProcessStats before = truth(exporter.pid());
  const auto samples = test::parse_exposition(exporter.metrics());
  const ProcessStats after = truth(exporter.pid());
  auto metric = [&](const std::string& name) {
    auto v = test::find_sample(samples, name);
    EXPECT_TRUE(v.has_value()) << name;
    return v.value_or(-1);
  };
  const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  EXPECT_GE(metric("process_cpu_seconds_total"), before.cpu_seconds);
  EXPECT_LE(metric("process_cpu_seconds_total"), after.cpu_seconds + tick);
  EXPECT_NEAR(metric("process_start_time_seconds"), before.start_time_seconds, 0.011);
  EXPECT_NEAR(metric("process_start_time_seconds"), static_cast<double>(time(nullptr)), 60);
  EXPECT_EQ(metric("process_max_fds"), before.max_fds);
  // The scrape's own socket is open while the exporter counts.
  EXPECT_GE(metric("process_open_fds"), std::min(before.open_fds, after.open_fds) - 1);
  EXPECT_LE(metric("process_open_fds"), std::max(before.open_fds, after.open_fds) + 2);
  for (const auto& [name, lo, hi] :
       {std::tuple{"process_resident_memory_bytes", before.resident_memory_bytes,
                   after.resident_memory_bytes},
        std::tuple{"process_virtual_memory_bytes", before.virtual_memory_bytes,
                   after.virtual_memory_bytes}}) {
    EXPECT_GE(metric(name), std::min(lo, hi) * 0.9) << name;
    EXPECT_LE(metric(name), std::max(lo, hi) * 1.1) << name;
    EXPECT_GT(metric(name), 1e6) << name;
  }
}

}  // namespace
}  // namespace pge::test
