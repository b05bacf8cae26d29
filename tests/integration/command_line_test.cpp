// The command line as an operator meets it: --help lists every flag with its environment variable,
// bad values exit 2 naming the flag, flag > environment > config file, collector switches generated
// from the registry, and postgres_exporter's DATA_SOURCE_NAME / DATA_SOURCE_PASS_FILE.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "collectors/registry.h"
#include "exporter/flags.h"
#include "tests/support/test_support.h"

namespace pge::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> kFlags{
    "--config.file", "--web.listen-address", "--web.telemetry-path",
    "--log.level",   "--log.format",         "--config.check",
    "--version"};

// Sets an environment variable for the lifetime of the object (children inherit it).
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
    setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { unsetenv(name_.c_str()); }

 private:
  std::string name_;
};

std::string minimal_config(const std::string& dsn, const std::string& exporter_keys = "") {
  return "[exporter]\n" + exporter_keys + "\n[[target]]\nname = \"db\"\ndsn = \"" + dsn +
         "\"\n[collectors.tables]\ninterval = \"1s\"\n[collectors.server]\ninterval = \"1s\"\n";
}

TEST(CommandLine, HelpListsEveryFlagAndCollectorWithItsEnvironmentVariable) {
  auto [rc, out] = test::run_exporter({"--help"});
  EXPECT_EQ(rc, 0);
  for (const auto& flag : kFlags) {
    EXPECT_THAT(out, HasSubstr(flag)) << out;
    if (flag != "--version") {
      EXPECT_THAT(out, HasSubstr(env_name_of(flag))) << flag;
    }
  }
  for (const auto& info : collector_registry()) {
    EXPECT_THAT(out, HasSubstr("--collector." + info.name));
    EXPECT_THAT(out, HasSubstr("--no-collector." + info.name));
    EXPECT_THAT(out,
                HasSubstr("PG_EVOLUTION_EXPORTER_COLLECTOR_" + env_name_of(info.name).substr(22)));
  }
  EXPECT_THAT(out, HasSubstr("DATA_SOURCE_NAME"));
  EXPECT_THAT(out, HasSubstr("DATA_SOURCE_PASS_FILE"));
}

TEST(CommandLine, EnvironmentVariableNamesFollowTheFlag) {
  EXPECT_EQ(env_name_of("--web.listen-address"), "PG_EVOLUTION_EXPORTER_WEB_LISTEN_ADDRESS");
  EXPECT_EQ(env_name_of("--collector.promoted_columns"),
            "PG_EVOLUTION_EXPORTER_COLLECTOR_PROMOTED_COLUMNS");
}

struct BadValue {
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string message;
};

TEST(CommandLine, BadValuesExitTwoNamingTheFlag) {
  const std::map<std::string, std::string> dsn{{"DATA_SOURCE_NAME", "host=127.0.0.1"}};
  auto with_dsn = [&](std::map<std::string, std::string> env) {
    env.insert(dsn.begin(), dsn.end());
    return env;
  };
  const std::vector<BadValue> cases{
      {{"--log.level=WARN"},
       dsn,
       "--log.level: must be one of debug, info, warn, error, got \"WARN\""},
      {{"--log.level=warning"}, dsn, "--log.level: must be one of debug, info, warn, error"},
      {{"--log.format=text"}, dsn, "--log.format: must be logfmt or json, got \"text\""},
      {{"--web.telemetry-path=metrics"},
       dsn,
       "--web.telemetry-path: must be a path starting with /"},
      {{"--web.telemetry-path=/healthz"},
       dsn,
       "--web.telemetry-path: must be a path starting with /"},
      {{"--collector.no_such_collector"}, dsn, "--collector.no_such_collector"},
      {{"--no-such-flag"}, dsn, "--no-such-flag"},
      {{}, with_dsn({{"PG_EVOLUTION_EXPORTER_LOG_LEVEL", "verbose"}}), "got \"verbose\""},
      {{}, with_dsn({{"PG_EVOLUTION_EXPORTER_LOG_FORMAT", "xml"}}), "got \"xml\""},
      {{},
       with_dsn({{"PG_EVOLUTION_EXPORTER_COLLECTOR_TABLES", "maybe"}}),
       "PG_EVOLUTION_EXPORTER_COLLECTOR_TABLES: must be true or false, got \"maybe\""},
      {{"--log.level=info", "--log.level=debug"}, dsn, "--log.level"},
      {{}, {}, "give --config.file=PATH or set DATA_SOURCE_NAME"},
      {{},
       with_dsn({{"DATA_SOURCE_PASS_FILE", "/nonexistent/pass"}}),
       "environment: DATA_SOURCE_PASS_FILE: cannot read /nonexistent/pass"},
  };
  for (const auto& c : cases) {
    auto [rc, out] = test::run_exporter(c.args, c.env);
    EXPECT_EQ(rc, 2) << out;
    EXPECT_THAT(out, HasSubstr(c.message)) << (c.args.empty() ? "(env)" : c.args[0]);
    EXPECT_THAT(out, Not(HasSubstr("msg=listening")));
  }
}

TEST(CommandLine, PassFileWithAPasswordAlreadyInTheDsnIsRefused) {
  const std::string pass = test::build_dir() + "/cli_pass_file";
  std::ofstream(pass) << "secret\n";
  auto [rc, out] = test::run_exporter(
      {"--config.check"},
      {{"DATA_SOURCE_NAME", "host=x password=other"}, {"DATA_SOURCE_PASS_FILE", pass}});
  EXPECT_EQ(rc, 2);
  EXPECT_THAT(out, HasSubstr("DATA_SOURCE_NAME already holds a password"));
}

TEST(CommandLine, FlagBeatsEnvironmentBeatsConfigFile) {
  TestDatabase db;
  const std::string config =
      minimal_config(db.dsn("pge_exporter"), "telemetry_path = \"/from-file\"\n");
  // pg_up appears once the target's worker has run (slower under the sanitizers): wait for it.
  auto serves = [](const ExporterProcess& e, const std::string& path) {
    return test::eventually(
        [&] {
          int status = 0;
          const std::string body = test::http_get(e.port(), path, &status);
          return status == 200 && body.find("pg_up") != std::string::npos;
        },
        10);
  };
  auto not_found = [](const ExporterProcess& e, const std::string& path) {
    int status = 0;
    test::http_get(e.port(), path, &status);
    return status == 404;
  };
  {
    ExporterProcess file_only(config);
    EXPECT_TRUE(serves(file_only, "/from-file"));
    EXPECT_TRUE(not_found(file_only, "/metrics"));
  }
  ScopedEnv env("PG_EVOLUTION_EXPORTER_WEB_TELEMETRY_PATH", "/from-env");
  {
    ExporterProcess env_over_file(config);
    EXPECT_TRUE(serves(env_over_file, "/from-env"));
    EXPECT_TRUE(not_found(env_over_file, "/from-file"));
  }
  ExporterProcess flag_over_env(config, {"--web.telemetry-path=/from-flag"});
  EXPECT_TRUE(serves(flag_over_env, "/from-flag"));
  EXPECT_TRUE(not_found(flag_over_env, "/from-env"));
  int status = 0;
  EXPECT_THAT(test::http_get(flag_over_env.port(), "/", &status), HasSubstr("href=\"/from-flag\""));
}

TEST(CommandLine, CollectorFlagsAndVariablesSwitchCollectorsOverTheConfigFile) {
  TestDatabase db;
  // The file enables tables and server; the variable turns server off, the flag turns tables off
  // and wal (off by default in no file) stays as the registry says.
  ScopedEnv env("PG_EVOLUTION_EXPORTER_COLLECTOR_SERVER", "false");
  ExporterProcess exporter(minimal_config(db.dsn("pge_exporter")),
                           {"--no-collector.tables", "--collector.database"});
  auto samples = exporter.wait_for_series("pg_evolution_exporter_collector_success",
                                          {{"collector", "database"}}, 15);
  auto ran = [&](const std::string& name) {
    return test::find_sample(samples, "pg_evolution_exporter_collector_success",
                             {{"collector", name}})
        .has_value();
  };
  EXPECT_TRUE(ran("database")) << exporter.log();
  EXPECT_FALSE(ran("tables"));
  EXPECT_FALSE(ran("server"));
  EXPECT_FALSE(test::find_sample(samples, "pg_stat_user_tables_n_live_tup").has_value());
}

TEST(CommandLine, DataSourceNameWithPassFileConnects) {
  TestDatabase db;
  const std::string pass = test::build_dir() + "/cli_pass_file_ok";
  std::ofstream(pass) << "it's a \\secret\n";
  // Both DSN forms without a password of their own (TestDatabase::dsn carries one).
  const std::string port = std::to_string(test::test_port());
  const std::string key_value =
      "host=127.0.0.1 port=" + port + " dbname=" + db.name() + " user=pge_exporter";
  const std::string uri = "postgresql://pge_exporter@127.0.0.1:" + port + "/" + db.name();
  for (const std::string& dsn : {key_value, uri}) {
    ScopedEnv name("DATA_SOURCE_NAME", dsn);
    ScopedEnv file("DATA_SOURCE_PASS_FILE", pass);
    ExporterProcess exporter("", {"--collector.server"});
    auto samples = exporter.wait_for(
        [](const auto& s) {
          return test::find_sample(s, "pg_up", {{"target", "default"}}).value_or(0) == 1;
        },
        15);
    EXPECT_EQ(test::find_sample(samples, "pg_up", {{"target", "default"}}).value_or(0), 1)
        << exporter.log();
    EXPECT_THAT(exporter.log(), Not(HasSubstr("secret")));
  }
}

}  // namespace
}  // namespace pge::test
