// Config reload of the exporter binary against the test cluster (SIGHUP and POST /-/reload): an
// unchanged target keeps its backend (same pid in pg_stat_activity, one "connected" event), its
// series in every scrape and its collector's counters; a changed target reconnects and starts over;
// a removed one vanishes and an added one starts; a bad config is logged with file, line and key
// while the running one stays, and the reload metrics say so.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/test_support.h"

namespace pge::test {
namespace {

using ::testing::HasSubstr;

constexpr const char* kSuccessful = "pg_evolution_exporter_config_last_reload_successful";
constexpr const char* kSuccessTime =
    "pg_evolution_exporter_config_last_reload_success_timestamp_seconds";
constexpr const char* kReloads = "pg_evolution_exporter_config_reloads_total";
constexpr const char* kProbeRuns = "pg_probe_duration_seconds_count";

// A target whose backend is known by its application_name, with a probe that runs every second (its
// run count is a counter the collector instance keeps) and one that always fails.
std::string target(const TestDatabase& db, const std::string& name, const std::string& app) {
  return "[[target]]\nname = \"" + name + "\"\ndsn = \"" + db.dsn("pge_exporter") +
         " application_name=" + app +
         "\"\n"
         "[[target.probe]]\nname = \"one\"\nsql = \"SELECT 1\"\n"
         "[[target.probe]]\nname = \"fails\"\nsql = \"SELECT 1/0\"\n";
}

std::string config(const std::string& targets) {
  return "[exporter]\nconnect_timeout = \"2s\"\nmax_backoff = \"2s\"\n" + targets +
         "[collectors.probes]\ninterval = \"1s\"\n";
}

std::optional<double> of(const std::vector<Sample>& s, const std::string& name,
                         const std::string& target,
                         std::map<std::string, std::string> labels = {{"probe", "one"}}) {
  labels["target"] = target;
  return test::find_sample(s, name, labels);
}

// The pids of the backends with this application_name.
std::vector<std::string> backends(const TestDatabase& db, const std::string& app) {
  const Rows rows = db.query(
      "SELECT pid::text AS pid FROM pg_stat_activity WHERE application_name = '" + app + "'");
  std::vector<std::string> pids;
  for (std::size_t i = 0; i < rows.size(); ++i) pids.push_back(rows.text(i, "pid"));
  return pids;
}

// Whether one log line, logfmt or JSON (the test support picks one per test), has key=value.
bool has_field(const std::string& line, const std::string& key, const std::string& value) {
  for (const std::string& form :
       {key + "=" + value + " ", key + "=\"" + value + "\"", "\"" + key + "\":\"" + value + "\""}) {
    if (line.find(form) != std::string::npos) return true;
  }
  const std::string last = key + "=" + value;
  return line.size() >= last.size() &&
         line.compare(line.size() - last.size(), last.size(), last) == 0;
}

// The log lines that have every one of `fields`.
std::vector<std::string> events(const std::string& log,
                                const std::map<std::string, std::string>& fields) {
  std::vector<std::string> out;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (std::all_of(fields.begin(), fields.end(),
                    [&](const auto& f) { return has_field(line, f.first, f.second); })) {
      out.push_back(line);
    }
  }
  return out;
}

std::size_t connects(const std::string& log, const std::string& target) {
  return events(log, {{"msg", "connected"}, {"target", target}}).size();
}

TEST(ConfigReload, SighupKeepsUnchangedTargetsWithoutAGapRestartsChangedOnesRemovesAndAdds) {
  TestDatabase db;
  ExporterProcess exporter(config(target(db, "keep", "pge_reload_keep") +
                                  target(db, "change", "pge_reload_change") +
                                  target(db, "gone", "pge_reload_gone")));
  auto warmed = exporter.wait_for(
      [](const std::vector<Sample>& s) {
        return of(s, kProbeRuns, "keep").value_or(0) >= 3 &&
               of(s, kProbeRuns, "change").value_or(0) >= 3 &&
               of(s, "pg_probe_errors_total", "keep", {{"probe", "fails"}}).value_or(0) >= 2 &&
               of(s, kProbeRuns, "gone").has_value();
      },
      30);
  ASSERT_GE(of(warmed, kProbeRuns, "change").value_or(0), 3) << exporter.log();
  const auto keep_pids = backends(db, "pge_reload_keep");
  ASSERT_EQ(keep_pids.size(), 1u);
  ASSERT_EQ(backends(db, "pge_reload_change").size(), 1u);

  exporter.write_config(config(target(db, "keep", "pge_reload_keep") +
                               target(db, "change", "pge_reload_changed") +
                               target(db, "added", "pge_reload_added")));
  auto before = test::parse_exposition(exporter.metrics());
  double keep_runs = *of(before, kProbeRuns, "keep");
  double keep_errors = *of(before, "pg_probe_errors_total", "keep", {{"probe", "fails"}});
  const double change_runs = *of(before, kProbeRuns, "change");
  double change_runs_after = 1e9;  // the fewest runs seen on the changed target once reloaded
  const double started = *test::find_sample(before, kSuccessTime);
  ASSERT_EQ(kill(exporter.pid(), SIGHUP), 0);
  // Every scrape from the signal until the reload is done and a second later holds the kept
  // target's series, its counters never going back.
  int scrapes = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  std::vector<Sample> s;
  while (std::chrono::steady_clock::now() < until ||
         test::find_sample(s, kSuccessTime) == started) {
    s = test::parse_exposition(exporter.metrics());
    ++scrapes;
    ASSERT_EQ(of(s, "pg_up", "keep", {}), 1) << "scrape " << scrapes;
    const double runs = of(s, kProbeRuns, "keep").value_or(-1);
    const double errors = of(s, "pg_probe_errors_total", "keep", {{"probe", "fails"}}).value_or(-1);
    ASSERT_GE(runs, keep_runs) << "scrape " << scrapes;
    ASSERT_GE(errors, keep_errors) << "scrape " << scrapes;
    keep_runs = runs;
    keep_errors = errors;
    if (test::find_sample(s, kSuccessTime) != started) {
      change_runs_after = std::min(change_runs_after, of(s, kProbeRuns, "change").value_or(1e9));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GT(*test::find_sample(s, kSuccessTime), started);
  EXPECT_EQ(test::find_sample(s, kSuccessful), 1);
  EXPECT_EQ(test::find_sample(s, kReloads, {{"result", "success"}}), 1);
  EXPECT_EQ(test::find_sample(s, kReloads, {{"result", "failure"}}), 0);
  EXPECT_FALSE(of(s, "pg_up", "gone", {}).has_value());

  EXPECT_EQ(backends(db, "pge_reload_keep"), keep_pids);
  const std::string log = exporter.log();
  EXPECT_EQ(connects(log, "keep"), 1u) << log;
  const auto reloaded = events(log, {{"msg", "configuration reloaded"},
                                     {"kept", "keep"},
                                     {"restarted", "change"},
                                     {"added", "added"},
                                     {"removed", "gone"}});
  ASSERT_EQ(reloaded.size(), 1u) << log;
  std::smatch took;
  std::regex_search(reloaded[0], took, std::regex("duration_seconds\"?[=:]\"?([0-9.e-]+)"));
  std::cout << "reload took " << took[1] << " s; " << scrapes
            << " scrapes during it, none without the kept target\n";

  // The restarted target runs every default collector once before its probe is due again (under
  // load that is seconds), so its first probe series may only come after the window above.
  const auto restarted = exporter.wait_for(
      [](const std::vector<Sample>& s) {
        return of(s, "pg_up", "change", {}) == 1 && of(s, kProbeRuns, "change").has_value() &&
               of(s, "pg_up", "added", {}) == 1;
      },
      15);
  change_runs_after =
      std::min(change_runs_after, of(restarted, kProbeRuns, "change").value_or(1e9));
  EXPECT_LT(change_runs_after, change_runs);  // a new collector instance
  EXPECT_EQ(connects(exporter.log(), "change"), 2u);
  EXPECT_TRUE(test::eventually(
      [&] {
        return backends(db, "pge_reload_change").empty() &&
               backends(db, "pge_reload_changed").size() == 1 &&
               backends(db, "pge_reload_gone").empty() &&
               backends(db, "pge_reload_added").size() == 1;
      },
      10));
}

TEST(ConfigReload, ABadConfigIsLoggedWithFileLineAndKeyAndTheRunningOneStays) {
  TestDatabase db;
  const std::string good = config(target(db, "keep", "pge_reload_bad_keep"));
  ExporterProcess exporter(good);
  exporter.wait_for(
      [](const std::vector<Sample>& s) { return of(s, kProbeRuns, "keep").has_value(); }, 30);
  const auto pids = backends(db, "pge_reload_bad_keep");
  ASSERT_EQ(pids.size(), 1u) << exporter.log();

  exporter.write_config("[exporter]\nconnect_timeout = \"2s\"\nmax_backof = \"2s\"\n");
  auto [status, response] = test::http_request(exporter.port(), "/-/reload", "", "POST");
  EXPECT_EQ(status, 500);
  EXPECT_THAT(response, HasSubstr(".toml:3: exporter.max_backof: unknown key"));
  EXPECT_EQ(
      events(exporter.log(), {{"level", "error"}, {"line", "3"}, {"key", "exporter.max_backof"}})
          .size(),
      1u)
      << exporter.log();
  auto s = test::parse_exposition(exporter.metrics());
  EXPECT_EQ(test::find_sample(s, kSuccessful), 0);
  EXPECT_EQ(test::find_sample(s, kReloads, {{"result", "failure"}}), 1);
  EXPECT_EQ(of(s, "pg_up", "keep", {}), 1);
  EXPECT_TRUE(of(s, kProbeRuns, "keep").has_value());
  EXPECT_EQ(backends(db, "pge_reload_bad_keep"), pids);

  exporter.write_config(good);
  EXPECT_EQ(test::http_request(exporter.port(), "/-/reload", "", "POST").first, 200);
  s = test::parse_exposition(exporter.metrics());
  EXPECT_EQ(test::find_sample(s, kSuccessful), 1);
  EXPECT_EQ(test::find_sample(s, kReloads, {{"result", "success"}}), 1);
  EXPECT_EQ(backends(db, "pge_reload_bad_keep"), pids);
  EXPECT_EQ(connects(exporter.log(), "keep"), 1u);
}

}  // namespace
}  // namespace pge::test
