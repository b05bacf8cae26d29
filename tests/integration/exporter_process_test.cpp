// The exporter binary end to end: command line, config errors, /metrics validity, pg_up across a
// database restart, a scrape that never waits on the database, and no password anywhere.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "collectors/registry.h"
#include "tests/support/test_support.h"

namespace pge::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string config_for(const std::string& dsn, const std::string& extra = "") {
  return "[exporter]\nconnect_timeout = \"2s\"\nmax_backoff = \"2s\"\n"
         "[[target]]\nname = \"db\"\ndsn = \"" +
         dsn + "\"\n" + extra +
         "\n[collectors.tables]\ninterval = \"1s\"\n[collectors.server]\ninterval = \"1s\"\n"
         "[collectors.activity]\ninterval = \"1s\"\n";
}

std::optional<double> up(const std::vector<Sample>& s) {
  return test::find_sample(s, "pg_up", {{"target", "db"}});
}

TEST(Exporter, VersionAndHelp) {
  auto [rc, out] = test::run_exporter({"--version"});
  EXPECT_EQ(rc, 0);
  EXPECT_THAT(out, HasSubstr("pg_evolution_exporter " PGE_VERSION));
}

TEST(Exporter, BadConfigExitsTwoNamingFileLineAndKeyAndServesNothing) {
  const std::string path = test::source_dir() + "/tests/config/bad/unknown_key.toml";
  auto [rc, out] =
      test::run_exporter({"--config.file=" + path, "--web.listen-address=127.0.0.1:0"});
  EXPECT_EQ(rc, 2);
  EXPECT_THAT(out, HasSubstr("unknown_key.toml:6: target[0].passwrd: unknown key"));
  EXPECT_THAT(out, Not(HasSubstr("listening")));
}

TEST(Exporter, ConfigCheckPrintsEveryProblem) {
  const std::string path = test::build_dir() + "/two_problems.toml";
  std::ofstream(path)
      << "[exporter]\nweb_threads = \"x\"\n[[target]]\nname = \"a\"\ndsn = \"host=x\"\ntypo = 1\n";
  auto [rc, out] = test::run_exporter({"--config.file=" + path, "--config.check"});
  EXPECT_EQ(rc, 2);
  EXPECT_THAT(out, HasSubstr("two_problems.toml:2: exporter.web_threads"));
  EXPECT_THAT(out, HasSubstr("two_problems.toml:6: target[0].typo: unknown key"));
  auto [ok_rc, ok_out] = test::run_exporter(
      {"--config.file=" + test::source_dir() + "/config/sharedminds.toml", "--config.check"},
      {{"SHAREDMINDS_DSN", "host=127.0.0.1"}, {"SHAREDMINDS_PROBE_DSN", "host=127.0.0.1"}});
  EXPECT_EQ(ok_rc, 0) << ok_out;
}

TEST(Exporter, BadLogLevelFlagIsRejected) {
  auto [rc, out] = test::run_exporter({"--log.level=WARN"}, {{"DATA_SOURCE_NAME", "host=x"}});
  EXPECT_EQ(rc, 2);
  EXPECT_THAT(out, HasSubstr("--log.level: must be one of debug, info, warn, error"));
}

// Every collector, configured as for SharedMinds, against the reference database: each one
// succeeds and the whole /metrics output passes promtool's linter.
TEST(Exporter, EveryCollectorSucceedsAndMetricsPassPromtoolCheckMetrics) {
  TestDatabase db;
  std::ifstream in(test::source_dir() + "/config/sharedminds.toml");
  const std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  db.export_sharedminds_dsns();
  ExporterProcess exporter(config);
  auto all_ran = [](const std::vector<Sample>& samples) {
    for (const auto& info : collector_registry()) {
      const std::map<std::string, std::string> l{{"collector", info.name},
                                                 {"target", "sharedminds"}};
      auto ok = test::find_sample(samples, "pg_evolution_exporter_collector_success", l);
      auto errors = test::find_sample(samples, "pg_evolution_exporter_collector_errors_total", l);
      if (!ok || (*ok == 0 && errors.value_or(0) == 0)) return false;
    }
    return true;
  };
  auto samples = exporter.wait_for(all_ran, 60);
  ASSERT_TRUE(all_ran(samples)) << exporter.log();
  for (const auto& info : collector_registry()) {
    EXPECT_EQ(test::find_sample(samples, "pg_evolution_exporter_collector_success",
                                {{"collector", info.name}, {"target", "sharedminds"}}),
              1)
        << info.name << " failed; log:\n"
        << exporter.log();
  }
  auto [rc, lint] = test::promtool_check_metrics(
      exporter.metrics(), test::build_dir() + "/metrics_" + db.name() + ".txt");
  EXPECT_EQ(rc, 0) << lint;
}

TEST(Exporter, DataSourceNameAloneGivesOneTargetWithDefaultCollectors) {
  TestDatabase db;
  const std::string dsn = db.dsn("pge_exporter");
  const std::string log = test::build_dir() + "/dsn_env_" + db.name() + ".log";
  // run in the background, scrape, then stop: run_exporter would block, so use a shell job
  const std::string cmd = "DATA_SOURCE_NAME='" + dsn + "' timeout 8 " + test::exporter_binary() +
                          " --web.listen-address=127.0.0.1:0 2>" + log + " &";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  int port = 0;
  ASSERT_TRUE(test::eventually(
      [&] {
        std::ifstream in(log);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto pos = text.find(" port=");
        if (pos != std::string::npos) port = std::atoi(text.c_str() + pos + 6);
        return port > 0;
      },
      5));
  ASSERT_TRUE(test::eventually(
      [&] {
        auto s = test::parse_exposition(test::http_get(port, "/metrics"));
        auto v = test::find_sample(s, "pg_up", {{"target", "default"}});
        return v && *v == 1 && test::find_sample(s, "pg_database_size_bytes").has_value();
      },
      8));
}

TEST(Exporter, PgUpFollowsTheDatabaseThroughAStopAndRestart) {
  const std::string dir = test::build_dir() + "/restart-pg";
  const std::string script = test::source_dir() + "/scripts/pg_local.sh";
  const int port = test::test_port() + 7;
  ASSERT_EQ(std::system((script + " start " + dir + " " + std::to_string(port)).c_str()), 0);
  const std::string dsn =
      "host=127.0.0.1 port=" + std::to_string(port) + " user=postgres dbname=postgres";
  ExporterProcess exporter(config_for(dsn));
  auto is_up = [](double want) {
    return [want](const std::vector<Sample>& s) {
      auto v = up(s);
      return v && *v == want;
    };
  };
  EXPECT_TRUE(up(exporter.wait_for(is_up(1), 15)).value_or(-1) == 1) << exporter.log();
  ASSERT_EQ(std::system((script + " stop " + dir).c_str()), 0);
  auto down = exporter.wait_for(is_up(0), 15);
  EXPECT_EQ(up(down).value_or(-1), 0) << exporter.log();
  EXPECT_FALSE(test::find_sample(down, "pg_stat_user_tables_n_live_tup"))
      << "stale series served while the database is down";
  ASSERT_EQ(std::system((script + " start " + dir + " " + std::to_string(port)).c_str()), 0);
  EXPECT_EQ(up(exporter.wait_for(is_up(1), 20)).value_or(-1), 1) << exporter.log();
  EXPECT_EQ(exporter.stop(), 0);
  std::system((script + " stop " + dir).c_str());
}

// A server that accepts TCP connections and never answers: connecting to it hangs until
// connect_timeout. Scrapes must still answer at once.
class BlackHole {
 public:
  BlackHole() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(fd_, 16);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~BlackHole() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_;
  int port_;
};

TEST(Exporter, ScrapesNeverWaitOnAHungDatabase) {
  BlackHole hole;
  ExporterProcess exporter(config_for("host=127.0.0.1 port=" + std::to_string(hole.port()) +
                                      " user=x dbname=x password=TopSecret42"));
  for (int i = 0; i < 10; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string body = exporter.metrics();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(ms, 500) << "scrape " << i << " took " << ms << " ms";
    EXPECT_THAT(body, HasSubstr("pg_up{target=\"db\"} 0"));
  }
  int status = 0;
  EXPECT_THAT(test::http_get(exporter.port(), "/healthz", &status), HasSubstr("ok"));
  EXPECT_EQ(status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // let a connect attempt time out
  const std::string page = test::http_get(exporter.port(), "/", &status);
  EXPECT_EQ(status, 200);
  EXPECT_THAT(page, HasSubstr("Target db"));
  EXPECT_THAT(page, Not(HasSubstr("TopSecret42")));
  EXPECT_THAT(exporter.metrics(), Not(HasSubstr("TopSecret42")));
  EXPECT_THAT(exporter.log(), Not(HasSubstr("TopSecret42")));
  EXPECT_THAT(exporter.log(), HasSubstr("password=******"));
}

TEST(Exporter, ScrapesDoNotAddDatabaseLoad) {
  TestDatabase db;
  ExporterProcess exporter(config_for(db.dsn("pge_exporter")) +
                           "[collectors.database]\ninterval = \"1h\"\n");
  const std::map<std::string, std::string> labels{{"collector", "database"}, {"target", "db"}};
  auto samples = exporter.wait_for(
      [&](const auto& s) {
        auto v = test::find_sample(
            s, "pg_evolution_exporter_collector_last_success_timestamp_seconds", labels);
        return v && *v > 0;
      },
      10);
  const double first = *test::find_sample(
      samples, "pg_evolution_exporter_collector_last_success_timestamp_seconds", labels);
  for (int i = 0; i < 30; ++i) exporter.metrics();
  auto after = test::parse_exposition(exporter.metrics());
  EXPECT_EQ(*test::find_sample(
                after, "pg_evolution_exporter_collector_last_success_timestamp_seconds", labels),
            first)
      << "a scrape triggered a collection";
}

TEST(Exporter, LandingPageListsCollectorsWithTheirStatus) {
  TestDatabase db;
  ExporterProcess exporter(config_for(db.dsn("pge_exporter")));
  exporter.wait_for_series("pg_stat_user_tables_n_live_tup", {}, 10);
  int status = 0;
  const std::string page = test::http_get(exporter.port(), "/", &status);
  EXPECT_EQ(status, 200);
  EXPECT_THAT(page, HasSubstr("<td>tables</td><td>ok</td>"));
  EXPECT_THAT(page, Not(HasSubstr("password")));
}

// Multi-target: /probe?target=NAME serves that target's series and self-metrics only, so that
// Prometheus gets one `up` per database.
TEST(Exporter, ProbeServesOneTargetAndRejectsUnknownOnes) {
  TestDatabase db;
  const std::string dsn = db.dsn("pge_exporter");
  ExporterProcess exporter(config_for(dsn) + "[[target]]\nname = \"second\"\ndsn = \"" + dsn +
                           "\"\n");
  exporter.wait_for(
      [](const auto& s) {
        return test::find_sample(s, "pg_stat_user_tables_n_live_tup", {{"target", "second"}})
                   .has_value() &&
               test::find_sample(s, "pg_stat_user_tables_n_live_tup", {{"target", "db"}})
                   .has_value();
      },
      20);
  int status = 0;
  const std::string text = test::http_get(exporter.port(), "/probe?target=second", &status);
  EXPECT_EQ(status, 200);
  auto samples = test::parse_exposition(text);
  EXPECT_EQ(test::find_sample(samples, "pg_up", {{"target", "second"}}), 1);
  EXPECT_FALSE(test::find_sample(samples, "pg_up", {{"target", "db"}}).has_value());
  EXPECT_TRUE(test::find_sample(samples, "pg_stat_user_tables_n_live_tup", {{"target", "second"}})
                  .has_value());
  EXPECT_THAT(text, Not(HasSubstr("target=\"db\"")));
  test::http_get(exporter.port(), "/probe?target=nope", &status);
  EXPECT_EQ(status, 404);
  test::http_get(exporter.port(), "/probe", &status);
  EXPECT_EQ(status, 400);
}

// Prometheus asks for gzip: the body is one gzip member that inflates to the plain body's format.
TEST(Exporter, ServesGzipWhenAskedAndTheInflatedBodyPassesPromtool) {
  TestDatabase db;
  ExporterProcess exporter(config_for(db.dsn("pge_exporter")));
  exporter.wait_for_series("pg_stat_user_tables_n_live_tup", {}, 10);
  const std::string path = test::build_dir() + "/gzip_" + db.name();
  const std::string cmd = "curl -s -D " + path + ".headers -H 'Accept-Encoding: gzip' -o " + path +
                          ".gz http://127.0.0.1:" + std::to_string(exporter.port()) +
                          "/metrics && gzip -t " + path + ".gz && gzip -dc " + path + ".gz > " +
                          path + ".txt";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream headers(path + ".headers"), body(path + ".txt");
  const std::string head((std::istreambuf_iterator<char>(headers)),
                         std::istreambuf_iterator<char>());
  const std::string text((std::istreambuf_iterator<char>(body)), std::istreambuf_iterator<char>());
  EXPECT_THAT(head, HasSubstr("Content-Encoding: gzip"));
  EXPECT_TRUE(
      test::find_sample(test::parse_exposition(text), "pg_up", {{"target", "db"}}).has_value());
  auto [rc, lint] = test::promtool_check_metrics(text, path + ".promtool.txt");
  EXPECT_EQ(rc, 0) << lint;
}

}  // namespace
}  // namespace pge::test
