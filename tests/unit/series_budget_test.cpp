#include "exporter/series_budget.h"

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace pge {
namespace {

struct Table {
  std::string schema, name;
  double bytes, inserts, dead;
};

// What the tables collector would export for these tables: 4 series per table.
SnapshotBuilder tables_builder(const std::vector<Table>& tables) {
  SnapshotBuilder b;
  for (const auto& t : tables) {
    const Labels l{{"datname", "db"}, {"schemaname", t.schema}, {"relname", t.name}};
    b.gauge("pg_stat_user_tables_total_size_bytes", "size", l, t.bytes);
    b.counter("pg_stat_user_tables_n_tup_ins_total", "inserts", l, t.inserts);
    b.gauge("pg_stat_user_tables_n_dead_tup", "dead", l, t.dead);
    b.gauge("pg_stat_user_tables_last_vacuum", "timestamp", l, 1000);
  }
  b.gauge("pg_database_size_bytes", "not per relation", {{"datname", "db"}}, 1);
  return b;
}

// The snapshot of a run of `collector` that built `b`, cut by the budget as the scheduler has it
// done (SnapshotBuilder::take with the run's SeriesCut); `dropped` gets what the cut left out.
Snapshot apply(SeriesBudget& budget, const std::string& collector, SnapshotBuilder b,
               std::size_t* dropped = nullptr) {
  std::size_t n = 0;
  Snapshot s =
      b.take([&](const std::vector<prometheus::MetricFamily>& families, SeriesTable& table) {
        return n = budget.apply(collector, families, table);
      });
  if (dropped) *dropped = n;
  return s;
}

Target budget_target(std::size_t budget) {
  Target t = test::make_target("host=unused", "main");
  t.series_budget = budget;
  return t;
}

std::vector<Table> twelve_tables() {
  std::vector<Table> out;
  for (int i = 0; i < 12; ++i) {
    out.push_back({i % 2 ? "app" : "audit", "t" + std::to_string(i), 1000.0 * (i + 1), 0, 0});
  }
  return out;
}

TEST(SeriesBudget, UnderTheBudgetNothingIsCut) {
  SeriesBudget budget(budget_target(1000));
  std::size_t dropped = 1;
  Snapshot s = apply(budget, "tables", tables_builder(twelve_tables()), &dropped);
  EXPECT_EQ(dropped, 0u);
  EXPECT_EQ(s.series(), 12u * 4 + 1);
}

TEST(SeriesBudget, OverTheBudgetKeepsTheLargestAndRollsUpTheRestPerSchemaWithExactSums) {
  SeriesBudget budget(budget_target(25));
  std::vector<Table> tables = twelve_tables();
  std::size_t dropped = 0;
  Snapshot s = apply(budget, "tables", tables_builder(tables), &dropped);
  EXPECT_LE(s.series(), 25u);
  EXPECT_EQ(dropped,
            12u * 4 + 1 - s.series() + 2 * 3);  // 2 schemas x 3 summable families of rollups
  // 24 for per-relation series, 6 of them reserved for rollups: the 4 largest tables stay whole.
  for (int i : {11, 10, 9, 8}) {
    EXPECT_TRUE(test::find_value(s, "pg_stat_user_tables_last_vacuum",
                                 {{"relname", "t" + std::to_string(i)}}))
        << i;
  }
  EXPECT_FALSE(test::find_value(s, "pg_stat_user_tables_last_vacuum", {{"relname", "t7"}}));
  for (const std::string schema : {"app", "audit"}) {
    double dropped_bytes = 0;
    for (const auto& t : tables) {
      if (t.schema == schema && t.bytes < 9000) dropped_bytes += t.bytes;
    }
    EXPECT_EQ(test::value(s, "pg_stat_user_tables_total_size_bytes",
                          {{"schemaname", schema}, {"relname", ""}}),
              dropped_bytes)
        << schema;
  }
  // A timestamp has no meaningful sum: no rollup.
  EXPECT_FALSE(test::find_value(s, "pg_stat_user_tables_last_vacuum", {{"relname", ""}}));
  EXPECT_EQ(test::value(s, "pg_database_size_bytes"), 1);
}

TEST(SeriesBudget, TakesTheRankingsInTurnSoTheMostActiveAndMostBloatedStay) {
  SeriesBudget budget(budget_target(25));
  std::vector<Table> tables = twelve_tables();
  tables[0].inserts = 1e6;  // smallest, busiest
  tables[1].dead = 1e6;     // second smallest, most dead rows
  Snapshot s = apply(budget, "tables", tables_builder(tables));
  for (const char* kept : {"t0", "t1", "t11", "t10"}) {
    EXPECT_TRUE(test::find_value(s, "pg_stat_user_tables_last_vacuum", {{"relname", kept}}))
        << kept;
  }
  EXPECT_FALSE(test::find_value(s, "pg_stat_user_tables_last_vacuum", {{"relname", "t9"}}));
}

TEST(SeriesBudget, ConfiguredTablesAndInvalidIndexesAreNeverCut) {
  Target target = budget_target(10);
  target.table_thresholds.push_back({"audit", "t0", 1.0, std::nullopt});
  SeriesBudget budget(target);
  Snapshot tables = apply(budget, "tables", tables_builder(twelve_tables()));
  EXPECT_TRUE(test::find_value(tables, "pg_stat_user_tables_last_vacuum", {{"relname", "t0"}}));

  SnapshotBuilder b;
  for (int i = 0; i < 20; ++i) {
    const Labels l{
        {"schemaname", "app"}, {"relname", "t1"}, {"indexrelname", "i" + std::to_string(i)}};
    b.gauge("pg_stat_user_indexes_size_bytes", "size", l, 100.0 + i);
    b.gauge("pg_index_valid", "valid", l, i == 3 ? 0 : 1);
  }
  std::size_t dropped = 0;
  Snapshot indexes = apply(budget, "indexes", b, &dropped);
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(test::value(indexes, "pg_index_valid", {{"indexrelname", "i3"}}), 0);
}

TEST(SeriesBudget, CollectorsOutsideTheBudgetAreNeverCutButCountAgainstIt) {
  SeriesBudget budget(budget_target(30));
  std::size_t dropped = 1;
  Snapshot partitions = apply(budget, "partitions", tables_builder(twelve_tables()), &dropped);
  EXPECT_EQ(dropped, 0u);
  EXPECT_EQ(partitions.series(), 49u);
  Snapshot tables = apply(budget, "tables", tables_builder(twelve_tables()), &dropped);
  EXPECT_EQ(dropped, 48u);  // nothing left: every table rolled up
  EXPECT_EQ(test::value(tables, "pg_stat_user_tables_total_size_bytes",
                        {{"schemaname", "app"}, {"relname", ""}}),
            2000 + 4000 + 6000 + 8000 + 10000 + 12000);
}

TEST(SeriesBudget, BudgetedCollectorsShareWhatIsLeftInProportion) {
  SeriesBudget budget(budget_target(50));
  apply(budget, "tables", tables_builder(twelve_tables()));
  apply(budget, "growth", tables_builder(twelve_tables()));
  const Snapshot tables = apply(budget, "tables", tables_builder(twelve_tables()));
  const Snapshot growth = apply(budget, "growth", tables_builder(twelve_tables()));
  // 2 series never cut, 48 left, shared 24 / 24 once each has run twice.
  EXPECT_LE(tables.series() + growth.series(), 50u);
  EXPECT_EQ(tables.series(), growth.series());
}

TEST(SeriesBudget, WhileTheSharesSettleALaterCollectorGetsOnlyWhatTheEarlierOnesLeft) {
  SeriesBudget budget(budget_target(50));
  const Snapshot tables = apply(budget, "tables", tables_builder(twelve_tables()));
  EXPECT_EQ(tables.series(), 49u);  // alone, it fits
  const Snapshot growth = apply(budget, "growth", tables_builder(twelve_tables()));
  EXPECT_LE(tables.series() + growth.series(), 50u + 6);  // at most its 6 rollups beyond
  EXPECT_FALSE(test::find_value(growth, "pg_stat_user_tables_last_vacuum", {{"relname", "t11"}}));
}

TEST(SeriesBudget, ZeroMeansNoBudget) {
  SeriesBudget budget(budget_target(0));
  std::size_t dropped = 1;
  Snapshot s = apply(budget, "tables", tables_builder(twelve_tables()), &dropped);
  EXPECT_EQ(dropped, 0u);
  EXPECT_EQ(s.series(), 49u);
}

}  // namespace
}  // namespace pge
