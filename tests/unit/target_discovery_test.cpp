// Database discovery without a server: the discovery keys as the config reads them, and the
// expansion of a discovering target into one target per selected database, which the scheduler
// then runs (and diffs, on a new listing or a reload) like configured targets.
#include "exporter/target_discovery.h"

#include <gtest/gtest.h>

#include "collectors/registry.h"
#include "core/dsn.h"

namespace pge {
namespace {

Config load(const std::string& toml) {
  ConfigResult r = load_config_text(toml, "discovery.toml", known_collectors());
  for (const auto& e : r.errors) ADD_FAILURE() << e.render();
  return r.config.value_or(Config{});
}

constexpr const char* kCluster = R"(
[[target]]
name = "cluster"
dsn = "host=db dbname=postgres user=pge_exporter password=s3cret"
labels = { env = "prod" }
series_budget = 5000
discover_databases = true
include_databases = ["^app_", "^billing$"]
exclude_databases = ["_old$"]
discovery_interval = "2m"
[[target]]
name = "reporting"
dsn = "host=other dbname=reporting"
)";

std::vector<std::string> names(const Config& config) {
  std::vector<std::string> out;
  for (const auto& t : config.targets) out.push_back(t.name);
  return out;
}

TEST(TargetDiscovery, DiscoveryKeysAreRead) {
  const Config c = load(kCluster);
  ASSERT_EQ(c.targets.size(), 2u);
  const Target& t = c.targets[0];
  EXPECT_TRUE(t.discover_databases);
  EXPECT_DOUBLE_EQ(t.discovery_interval.count(), 120);
  EXPECT_TRUE(t.selects_database("app_1"));
  EXPECT_TRUE(t.selects_database("billing"));
  EXPECT_FALSE(t.selects_database("billing_2"));
  EXPECT_FALSE(t.selects_database("app_1_old")) << "exclude wins over include";
  EXPECT_FALSE(t.selects_database("postgres"));
  EXPECT_FALSE(c.targets[1].discover_databases);
}

TEST(TargetDiscovery, WithoutIncludePatternsEveryDatabaseButTheExcludedIsSelected) {
  Target t;
  EXPECT_TRUE(t.selects_database("anything"));
  const Config c = load(
      "[[target]]\nname = \"c\"\ndsn = \"host=x\"\ndiscover_databases = true\n"
      "exclude_databases = [\"^postgres$\"]\n");
  EXPECT_TRUE(c.targets[0].selects_database("postgres_2"));
  EXPECT_FALSE(c.targets[0].selects_database("postgres"));
}

TEST(TargetDiscovery, ADiscoveringTargetBecomesOneTargetPerSelectedDatabase) {
  const Config base = load(kCluster);
  const Config expanded = expand_discovered_targets(
      base, {{"cluster", {"app_1", "app_1_old", "app_2", "billing", "postgres"}}});
  EXPECT_EQ(names(expanded), (std::vector<std::string>{"cluster/app_1", "cluster/app_2",
                                                       "cluster/billing", "reporting"}));
  const Target& app = expanded.targets[0];
  EXPECT_EQ(redact_dsn(app.dsn), "user=pge_exporter password=****** dbname=app_1 host=db");
  EXPECT_EQ(dsn_password(app.dsn), "s3cret");
  EXPECT_EQ(app.labels.at("env"), "prod");
  EXPECT_EQ(app.series_budget, 5000u);
  EXPECT_FALSE(app.discover_databases) << "a discovered database discovers nothing itself";
  EXPECT_EQ(expanded.targets[3], base.targets[1]) << "a configured target passes unchanged";
}

TEST(TargetDiscovery, ADiscoveringTargetNotListedYetHasNoTargets) {
  const Config expanded = expand_discovered_targets(load(kCluster), {});
  EXPECT_EQ(names(expanded), std::vector<std::string>{"reporting"});
}

// The scheduler's diff of two listings: the databases that stay are kept (same connection and
// snapshots), a dropped one is removed, a created one added.
TEST(TargetDiscovery, ANewListingKeepsTheDatabasesThatStay) {
  const Config base = load(kCluster);
  const Config before = expand_discovered_targets(base, {{"cluster", {"app_1", "app_2"}}});
  const Config after = expand_discovered_targets(base, {{"cluster", {"app_2", "app_3"}}});
  const ConfigChanges changes = diff_configs(before, after);
  EXPECT_EQ(changes.kept, (std::vector<std::string>{"cluster/app_2", "reporting"}));
  EXPECT_EQ(changes.removed, std::vector<std::string>{"cluster/app_1"});
  EXPECT_EQ(changes.added, std::vector<std::string>{"cluster/app_3"});
  EXPECT_TRUE(changes.restarted.empty());
}

// Patterns and interval are the parent's: a reload that changes them restarts nothing that stays
// selected.
TEST(TargetDiscovery, ChangingTheDiscoveryKeysRestartsNoSelectedDatabase) {
  std::string wider = kCluster;
  wider.replace(wider.find("\"^billing$\""), 11, "\"^bill\"");
  wider.replace(wider.find("\"2m\""), 4, "\"30s\"");
  const DiscoveredDatabases listed{{"cluster", {"app_1", "billing", "billing_2"}}};
  const ConfigChanges changes = diff_configs(expand_discovered_targets(load(kCluster), listed),
                                             expand_discovered_targets(load(wider), listed));
  EXPECT_EQ(changes.kept,
            (std::vector<std::string>{"cluster/app_1", "cluster/billing", "reporting"}));
  EXPECT_EQ(changes.added, std::vector<std::string>{"cluster/billing_2"});
  EXPECT_TRUE(changes.restarted.empty());
}

TEST(TargetDiscovery, TheWriteProbeOfADiscoveredDatabaseWritesInThatDatabase) {
  Config base = load(kCluster);
  base.targets[0].write_probe.enabled = true;
  base.targets[0].write_probe.dsn = "host=db dbname=postgres user=pge_probe_writer";
  const Config expanded = expand_discovered_targets(base, {{"cluster", {"app_1"}}});
  EXPECT_EQ(redact_dsn(expanded.targets[0].write_probe.dsn),
            "user=pge_probe_writer dbname=app_1 host=db");
}

}  // namespace
}  // namespace pge
