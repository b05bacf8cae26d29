// docs/metrics.md stays in step with the code: every metric family that any collector produces
// against the reference database (all collectors enabled, configured like SharedMinds) is
// documented, and so is every family the exporter binary serves besides (scheduler, process,
// reload).
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "collectors/registry.h"
#include "tests/support/test_support.h"

namespace pge {
namespace {

std::string metrics_reference() {
  std::ifstream in(test::source_dir() + "/docs/metrics.md");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Docs, EveryExportedMetricIsInTheMetricsReference) {
  const std::string doc = metrics_reference();

  test::TestDatabase db;
  db.export_sharedminds_dsns();
  ConfigResult loaded =
      load_config(test::source_dir() + "/config/sharedminds.toml", known_collectors());
  ASSERT_TRUE(loaded.config);
  const Target& target = loaded.config->targets.at(0);

  std::set<std::string> names;
  for (const auto& info : collector_registry()) {
    test::CollectorRunner runner(info.name, target, loaded.config->collectors.at(info.name));
    try {
      for (const auto& f : runner.run().families) names.insert(f.name);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "collector " << info.name
                    << " failed on the reference database: " << e.what();
    }
  }
  EXPECT_GT(names.size(), 50u);
  for (const auto& name : names) {
    EXPECT_NE(doc.find("`" + name + "`"), std::string::npos)
        << name << " is not in docs/metrics.md";
  }
}

TEST(Docs, EveryFamilyTheExporterServesIsInTheMetricsReference) {
  const std::string doc = metrics_reference();
  test::TestDatabase db;
  test::ExporterProcess exporter("[[target]]\nname = \"db\"\ndsn = \"" + db.dsn("pge_exporter") +
                                 "\"\n");
  exporter.wait_for(
      [](const std::vector<test::Sample>& s) {
        return test::find_sample(s, "pg_up", {{"target", "db"}}) == 1;
      },
      30);
  std::istringstream text(exporter.metrics());
  std::size_t families = 0;
  for (std::string line; std::getline(text, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    const std::string name = line.substr(7, line.find(' ', 7) - 7);
    ++families;
    EXPECT_NE(doc.find("`" + name + "`"), std::string::npos)
        << name << " is not in docs/metrics.md";
  }
  EXPECT_GT(families, 20u);
}

}  // namespace
}  // namespace pge
