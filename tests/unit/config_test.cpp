#include "core/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "collectors/registry.h"
#include "tests/support/test_support.h"

namespace pge {
namespace {

using ::testing::HasSubstr;

std::string expected_message(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string first;
  std::getline(in, first);
  const std::string marker = "# expect: ";
  return first.rfind(marker, 0) == 0 ? first.substr(marker.size()) : "";
}

TEST(Config, EveryBadConfigFileIsRejectedWithFileLineAndKey) {
  const auto dir = std::filesystem::path(test::source_dir()) / "tests/config/bad";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++files;
    const std::string expect = expected_message(entry.path());
    ASSERT_FALSE(expect.empty()) << entry.path() << " lacks a '# expect: ' first line";
    ConfigResult r = load_config(entry.path().string(), known_collectors());
    EXPECT_FALSE(r.config.has_value()) << entry.path();
    std::string all;
    for (const auto& e : r.errors) all += e.render() + "\n";
    EXPECT_THAT(all, HasSubstr(expect)) << entry.path();
  }
  EXPECT_GE(files, 10);
}

TEST(Config, ReportsEveryProblemNotJustTheFirst) {
  ConfigResult r = load_config_text(R"(
[exporter]
web_threads = "x"
bogus = 1
[[target]]
name = "a"
)",
                                    "multi.toml", known_collectors());
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.errors.size(), 3u);
}

TEST(Config, SharedMindsExampleLoads) {
  setenv("SHAREDMINDS_DSN", "host=127.0.0.1 port=15432 dbname=sharedminds user=pge_exporter", 0);
  setenv("SHAREDMINDS_PROBE_DSN",
         "host=127.0.0.1 port=15432 dbname=sharedminds user=pge_probe_writer", 0);
  ConfigResult r = load_config(test::source_dir() + "/config/sharedminds.toml", known_collectors());
  for (const auto& e : r.errors) ADD_FAILURE() << e.render();
  ASSERT_TRUE(r.config);
  ASSERT_EQ(r.config->targets.size(), 1u);
  const Target& t = r.config->targets[0];
  EXPECT_EQ(t.name, "sharedminds");
  EXPECT_GE(t.promoted_columns.size(), 3u);
  EXPECT_FALSE(t.query_classes.empty());
  EXPECT_TRUE(t.write_probe.enabled);
  EXPECT_EQ(t.write_probe.dsn,
            "host=127.0.0.1 port=15432 dbname=sharedminds user=pge_probe_writer");
}

TEST(Config, ClusterDiscoveryExampleLoads) {
  setenv("CLUSTER_DSN", "host=127.0.0.1 dbname=postgres user=pge_exporter", 0);
  ConfigResult r = load_config(test::source_dir() + "/config/cluster.toml", known_collectors());
  for (const auto& e : r.errors) ADD_FAILURE() << e.render();
  ASSERT_TRUE(r.config);
  ASSERT_EQ(r.config->targets.size(), 1u);
  EXPECT_TRUE(r.config->targets[0].discover_databases);
  EXPECT_EQ(r.config->targets[0].include_databases.size(), 2u);
}

TEST(Config, DefaultsComeFromTheCollectorRegistry) {
  ConfigResult r = load_config_text("[[target]]\nname = \"a\"\ndsn = \"host=x\"\n", "d.toml",
                                    known_collectors());
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->listen_address, "127.0.0.1:10187");
  EXPECT_EQ(r.config->web_max_connections, 256);
  EXPECT_FALSE(r.config->healthz_without_auth);
  EXPECT_TRUE(r.config->collectors.at("tables").enabled);
  EXPECT_DOUBLE_EQ(r.config->collectors.at("tables").interval.count(), 30);
}

TEST(Config, CollectorSettingsOverrideDefaults) {
  ConfigResult r = load_config_text(R"(
[[target]]
name = "a"
dsn = "host=x"
labels = { env = "prod" }
[collectors.tables]
interval = "1m30s"
timeout = "250ms"
enabled = false
)",
                                    "o.toml", known_collectors());
  ASSERT_TRUE(r.config);
  const auto& s = r.config->collectors.at("tables");
  EXPECT_FALSE(s.enabled);
  EXPECT_DOUBLE_EQ(s.interval.count(), 90);
  EXPECT_DOUBLE_EQ(s.timeout.count(), 0.25);
  EXPECT_EQ(r.config->targets[0].labels.at("env"), "prod");
}

TEST(Config, DsnFromFileIsTrimmed) {
  const std::string path = test::build_dir() + "/dsn_file_test";
  std::ofstream(path) << "host=db password=s3cret\n";
  ConfigResult r = load_config_text("[[target]]\nname = \"a\"\ndsn_file = \"" + path + "\"\n",
                                    "f.toml", known_collectors());
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->targets[0].dsn, "host=db password=s3cret");
}

TEST(Config, IncludeAndExcludePatternsSelectTables) {
  ConfigResult r = load_config_text(R"(
[[target]]
name = "a"
dsn = "host=x"
include_schemas = ["^public$"]
exclude_tables = ["_archive$"]
)",
                                    "p.toml", known_collectors());
  ASSERT_TRUE(r.config);
  const Target& t = r.config->targets[0];
  EXPECT_TRUE(t.selects("public", "context_events"));
  EXPECT_FALSE(t.selects("public", "analytics_events_archive"));
  EXPECT_FALSE(t.selects("ops", "retention_runs"));
}

TEST(Duration, ParsesUnitsAndCombinations) {
  EXPECT_DOUBLE_EQ(parse_duration("500ms")->count(), 0.5);
  EXPECT_DOUBLE_EQ(parse_duration("30s")->count(), 30);
  EXPECT_DOUBLE_EQ(parse_duration("2m")->count(), 120);
  EXPECT_DOUBLE_EQ(parse_duration("90d")->count(), 90 * 86400);
  EXPECT_DOUBLE_EQ(parse_duration("1h")->count(), 3600);
  EXPECT_DOUBLE_EQ(parse_duration("1m30s")->count(), 90);
  EXPECT_DOUBLE_EQ(parse_duration("1.5s")->count(), 1.5);
}

// Each schema.table is split once, at load; a bare name leaves the schema to the search_path.
TEST(Config, RelationNamesAreSplitOnceAtLoad) {
  ConfigResult r = load_config_text(R"(
[[target]]
name = "a"
dsn = "host=x"
[target.retention]
log_table = "ops.retention_runs"
[[target.matview]]
name = "public.dashboard_statistics"
log_table = "refresh_log"
)",
                                    "names.toml", known_collectors());
  for (const auto& e : r.errors) ADD_FAILURE() << e.render();
  ASSERT_TRUE(r.config);
  const Target& t = r.config->targets.at(0);
  EXPECT_EQ(t.retention.table.schema, "ops");
  EXPECT_EQ(t.retention.table.name, "retention_runs");
  EXPECT_EQ(t.matviews.at(0).log_table.schema, "");
  EXPECT_EQ(t.matviews.at(0).log_table.name, "refresh_log");
  EXPECT_EQ(t.write_probe.table.schema, "pge_probe");
  EXPECT_EQ(t.write_probe.table.name, "write_probe");
}

TEST(Duration, RejectsBareNumbersAndUnknownUnits) {
  EXPECT_FALSE(parse_duration("5"));
  EXPECT_FALSE(parse_duration("5 s"));
  EXPECT_FALSE(parse_duration("5w"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("-5s"));
}

}  // namespace
}  // namespace pge
