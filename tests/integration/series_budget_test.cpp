// The series budget end to end (target.series_budget, exporter/series_budget.h): with more tables
// than the budget allows, the exporter stays within it, keeps the configured table and the largest
// one, and its per-schema rollups plus the kept tables add up to what pg_stat_user_tables says; the
// series it reports as dropped are exactly the series of the tables it left out, counted by SQL.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "collectors/registry.h"
#include "tests/support/test_support.h"

namespace pge::test {
namespace {

constexpr int kBudget = 1500;
constexpr int kTablesPerSchema = 40;

// Only the per-relation collectors under test, every second, plus `database` (never cut); a duty
// cycle of 1 keeps them at that interval, so that the shares settle within seconds.
std::string budget_config(const std::string& dsn) {
  std::string toml =
      "[exporter]\nconnect_timeout = \"2s\"\nduty_cycle = 1\n[[target]]\nname = \"db\"\ndsn = \"" +
      dsn + "\"\nseries_budget = " + std::to_string(kBudget) +
      "\n[[target.table_threshold]]\ntable = \"bulk_a.t1\"\nrows = 1000000\n";
  for (const auto& info : collector_registry()) {
    const bool on = info.name == "tables" || info.name == "indexes" || info.name == "database";
    toml += "[collectors." + info.name + "]\nenabled = " + (on ? "true" : "false") + "\n";
    if (on) toml += "interval = \"1s\"\n";
  }
  return toml;
}

void create_bulk_tables(const test::TestDatabase& db) {
  db.exec(
      "CREATE SCHEMA bulk_a; CREATE SCHEMA bulk_b; GRANT USAGE ON SCHEMA bulk_a, bulk_b TO "
      "pge_exporter");
  for (const char* schema : {"bulk_a", "bulk_b"}) {
    std::string sql;
    for (int i = 0; i < kTablesPerSchema; ++i) {
      const std::string t = std::string(schema) + ".t" + std::to_string(i);
      sql += "CREATE TABLE " + t + " (id int PRIMARY KEY, v text);" + "INSERT INTO " + t +
             " SELECT g, repeat('x', 20) FROM generate_series(1, " + std::to_string(10 * i + 1) +
             ") g;" + "DELETE FROM " + t + " WHERE id % 3 = 0;";
    }
    db.exec(sql);
  }
  db.exec("INSERT INTO bulk_b.t7 SELECT g, repeat('y', 200) FROM generate_series(1000, 20000) g");
}

double sum_of(const std::vector<Sample>& samples, const std::string& name,
              const std::string& schema) {
  double sum = 0;
  for (const auto& s : samples) {
    if (s.name == name && s.labels.at("schemaname") == schema) sum += s.value;
  }
  return sum;
}

std::set<std::string> kept_tables(const std::vector<Sample>& samples) {
  std::set<std::string> out;
  for (const auto& s : samples) {
    if (s.name == "pg_stat_user_tables_last_vacuum")
      out.insert(s.labels.at("schemaname") + "." + s.labels.at("relname"));
  }
  return out;
}

TEST(SeriesBudget, StaysWithinTheBudgetKeepsWhatMattersAndRollsUpTheRestExactly) {
  test::TestDatabase db;
  create_bulk_tables(db);
  ASSERT_EQ(db.scalar("SELECT count(*) FROM pg_stat_user_tables WHERE schemaname LIKE 'bulk_%'"),
            2 * kTablesPerSchema);
  // Statistics reach the shared view within a second or so of the writing transactions.
  const double inserted =
      2 * (5 * kTablesPerSchema * (kTablesPerSchema - 1) + kTablesPerSchema) + 19001;
  ASSERT_TRUE(test::eventually(
      [&] {
        return db.scalar(
                   "SELECT sum(n_tup_ins) FROM pg_stat_user_tables WHERE schemaname LIKE "
                   "'bulk_%'") == inserted;
      },
      15));

  test::ExporterProcess exporter(budget_config(db.dsn("pge_exporter")));
  const std::map<std::string, std::string> tables{{"collector", "tables"}, {"target", "db"}};
  const std::map<std::string, std::string> indexes{{"collector", "indexes"}, {"target", "db"}};
  exporter.wait_for(
      [&](const auto& s) {
        auto t = test::find_sample(s, "pg_evolution_exporter_series_dropped", tables);
        auto i = test::find_sample(s, "pg_evolution_exporter_series_dropped", indexes);
        return t && i && *t > 0 && *i > 0;
      },
      30);
  // Shares are settled once every collector has run and the tables collector has run again.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));

  const std::vector<Sample> samples = test::parse_exposition(exporter.metrics());
  EXPECT_EQ(test::find_sample(samples, "pg_evolution_exporter_series_budget", {{"target", "db"}}),
            kBudget);
  std::size_t exported = 0;
  for (const auto& s : samples) {
    if (s.name.rfind("pg_evolution_exporter_", 0) != 0 && s.name != "pg_up") ++exported;
  }
  EXPECT_LE(exported, static_cast<std::size_t>(kBudget));

  const std::set<std::string> kept = kept_tables(samples);
  EXPECT_TRUE(kept.count("bulk_a.t1")) << "the configured table was cut";
  const std::string largest =
      db.query(
            "SELECT schemaname || '.' || relname AS name FROM pg_stat_user_tables "
            "ORDER BY pg_total_relation_size(relid) DESC, name LIMIT 1")
          .text(0, "name");
  EXPECT_TRUE(kept.count(largest)) << largest << " is the largest table and was cut";
  EXPECT_LT(kept.size(), db.scalar("SELECT count(*) FROM pg_stat_user_tables"))
      << "nothing was cut";

  for (const std::string schema : {"bulk_a", "bulk_b"}) {
    EXPECT_EQ(sum_of(samples, "pg_stat_user_tables_n_tup_ins_total", schema),
              db.scalar("SELECT sum(n_tup_ins) FROM pg_stat_user_tables WHERE schemaname = '" +
                        schema + "'"))
        << schema;
    EXPECT_EQ(sum_of(samples, "pg_stat_user_tables_n_tup_del_total", schema),
              db.scalar("SELECT sum(n_tup_del) FROM pg_stat_user_tables WHERE schemaname = '" +
                        schema + "'"))
        << schema;
  }

  // Series of each table the tables collector exports: 4 sizes, 4 vacuum/analyze times (0 when
  // never) and every statistic that is not NULL.
  const Rows per_table = db.query(R"SQL(
    SELECT s.schemaname || '.' || s.relname AS name,
           8 + num_nonnulls(s.seq_scan, s.seq_tup_read, s.idx_scan, s.idx_tup_fetch, s.n_tup_ins,
               s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd, s.n_live_tup, s.n_dead_tup,
               s.n_mod_since_analyze, s.n_ins_since_vacuum, s.vacuum_count, s.autovacuum_count,
               s.analyze_count, s.autoanalyze_count, io.heap_blks_read, io.heap_blks_hit,
               io.idx_blks_read, io.idx_blks_hit, io.toast_blks_read, io.toast_blks_hit,
               io.tidx_blks_read, io.tidx_blks_hit) AS series
    FROM pg_stat_user_tables s LEFT JOIN pg_statio_user_tables io ON io.relid = s.relid)SQL");
  double left_out = 0;
  for (std::size_t r = 0; r < per_table.size(); ++r) {
    if (!kept.count(per_table.text(r, "name")))
      left_out += per_table.number(r, "series").value_or(0);
  }
  EXPECT_EQ(test::find_sample(samples, "pg_evolution_exporter_series_dropped", tables), left_out);
}

}  // namespace
}  // namespace pge::test
