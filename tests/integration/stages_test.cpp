// The `stages` collector against PostgreSQL's own reading of the same timestamps: each configured
// [[target.stage]] start and end, whatever its offset, must be the Unix time that
// extract(epoch FROM timestamptz ...) gives; a running stage has no end series.
#include <gtest/gtest.h>

#include "collectors/registry.h"
#include "core/config.h"
#include "tests/support/test_support.h"

namespace pge {
namespace {

Target target_with_stages(const std::string& dsn) {
  const std::string toml = "[[target]]\nname = \"test\"\ndsn = \"" + dsn + "\"\n" + R"(
[[target.stage]]
name = "backfill"
started_at = 2026-11-02

[[target.stage]]
name = "dual_write"
started_at = 2026-11-16T10:30:00+01:00
ended_at = 2026-12-01T08:15:30.25Z

[[target.stage]]
name = "trigger_consolidation"
started_at = 2026-11-30T23:00:00-05:00
)";
  ConfigResult r = load_config_text(toml, "stages.toml", known_collectors());
  for (const auto& e : r.errors) ADD_FAILURE() << e.render();
  return r.config->targets.at(0);
}

TEST(Stages, StartAndEndAreTheUnixTimesPostgresqlReadsFromTheSameTimestamps) {
  test::TestDatabase db;
  test::CollectorRunner runner("stages", target_with_stages(db.dsn("pge_exporter")));
  Snapshot s = runner.run();
  const std::string started = "pg_evolution_stage_started_timestamp_seconds";
  const std::string ended = "pg_evolution_stage_ended_timestamp_seconds";
  EXPECT_DOUBLE_EQ(test::value(s, started, {{"stage", "backfill"}}),
                   db.scalar("SELECT extract(epoch FROM timestamptz '2026-11-02 00:00:00+00')"));
  EXPECT_DOUBLE_EQ(test::value(s, started, {{"stage", "dual_write"}}),
                   db.scalar("SELECT extract(epoch FROM timestamptz '2026-11-16 10:30:00+01')"));
  EXPECT_DOUBLE_EQ(test::value(s, ended, {{"stage", "dual_write"}}),
                   db.scalar("SELECT extract(epoch FROM timestamptz '2026-12-01 08:15:30.25+00')"));
  EXPECT_DOUBLE_EQ(test::value(s, started, {{"stage", "trigger_consolidation"}}),
                   db.scalar("SELECT extract(epoch FROM timestamptz '2026-11-30 23:00:00-05')"));
  EXPECT_EQ(test::count_series(s, started), 3u);
  EXPECT_EQ(test::count_series(s, ended), 1u);  // running stages have no end
}

}  // namespace
}  // namespace pge
