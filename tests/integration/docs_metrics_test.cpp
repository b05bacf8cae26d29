// docs/metrics.md stays in step with the code: every metric family that any collector produces
// against the reference database (all collectors enabled, configured like SharedMinds) is documented.
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "collectors/registry.h"
#include "tests/support/test_support.h"

namespace pge {
namespace {

TEST(Docs, EveryExportedMetricIsInTheMetricsReference) {
  std::ifstream in(test::source_dir() + "/docs/metrics.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();

  test::TestDatabase db;
  db.export_sharedminds_dsns();
  ConfigResult loaded = load_config(test::source_dir() + "/config/sharedminds.toml", known_collectors());
  ASSERT_TRUE(loaded.config);
  const Target& target = loaded.config->targets.at(0);

  std::set<std::string> names;
  for (const auto& info : collector_registry()) {
    test::CollectorRunner runner(info.name, target, loaded.config->collectors.at(info.name));
    try {
      for (const auto& f : runner.run().families) names.insert(f.name);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "collector " << info.name << " failed on the reference database: " << e.what();
    }
  }
  EXPECT_GT(names.size(), 50u);
  for (const auto& name : names) {
    EXPECT_NE(doc.find("`" + name + "`"), std::string::npos) << name << " is not in docs/metrics.md";
  }
}

}  // namespace
}  // namespace pge
