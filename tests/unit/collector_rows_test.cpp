// Collectors fed canned rows through a fake Session: filtering, lock skips and NULL handling without
// a database.
#include <array>

#include <gtest/gtest.h>

#include "collectors/registry.h"
#include "tests/support/test_support.h"

namespace pge {
namespace {

class FakeSession final : public Session {
 public:
  explicit FakeSession(Rows rows) : rows_(std::move(rows)) {}
  Rows query(const std::string&, const std::vector<Value>&) override { return rows_; }
  std::optional<Rows> try_query(const std::string&, std::string*, const std::vector<Value>&) override {
    return rows_;
  }
  int server_version() const override { return 150020; }

 private:
  Rows rows_;
};

Rows table_rows() {
  std::vector<std::string> cols{"datname", "schemaname", "relname", "locked"};
  const char* numeric[] = {"seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch", "n_tup_ins",
                           "n_tup_upd", "n_tup_del", "n_tup_hot_upd", "n_live_tup", "n_dead_tup",
                           "n_mod_since_analyze", "n_ins_since_vacuum", "last_vacuum",
                           "last_autovacuum", "last_analyze", "last_autoanalyze", "vacuum_count",
                           "autovacuum_count", "analyze_count", "autoanalyze_count", "heap_blks_read",
                           "heap_blks_hit", "idx_blks_read", "idx_blks_hit", "toast_blks_read",
                           "toast_blks_hit", "tidx_blks_read", "tidx_blks_hit", "table_size",
                           "index_size", "toast_size", "total_size"};
  for (const char* c : numeric) cols.emplace_back(c);
  auto row = [&](const char* schema, const char* rel, bool locked) {
    std::vector<Value> r{Value{"db"}, Value{schema}, Value{rel}, Value{locked ? "t" : "f"}};
    for (std::size_t i = 4; i < cols.size(); ++i) {
      const bool size = cols[i].find("size") != std::string::npos;
      r.push_back(locked && size ? Value{} : Value{"7"});
    }
    return r;
  };
  return Rows(cols, {row("public", "kept", false), row("public", "kept_archive", false),
                     row("public", "migrating", true), row("audit", "other", false)});
}

TEST(TablesCollectorRows, FiltersTablesCountsLockSkipsAndOmitsSizesOfLockedTables) {
  Target target = test::make_target("host=unused");
  target.include_schemas.push_back({"^public$", std::regex("^public$", std::regex::extended)});
  target.exclude_tables.push_back({"_archive$", std::regex("_archive$", std::regex::extended)});
  CollectorSettings settings;
  CollectContext ctx{target, settings, std::chrono::system_clock::now()};
  FakeSession session(table_rows());
  Snapshot s = find_collector("tables")->make()->collect(session, ctx);
  EXPECT_EQ(test::count_series(s, "pg_stat_user_tables_n_live_tup"), 2u);  // kept, migrating
  EXPECT_EQ(test::value(s, "pg_stat_user_tables_total_size_bytes", {{"relname", "kept"}}), 7);
  EXPECT_FALSE(test::find_value(s, "pg_stat_user_tables_total_size_bytes", {{"relname", "migrating"}}));
  EXPECT_EQ(test::value(s, "pg_stat_user_tables_seq_scan_total", {{"relname", "migrating"}}), 7);
  EXPECT_EQ(ctx.lock_skips, 1);
}

TEST(EmitRows, OneSeriesPerNonNullValueWithColumnLabelsAndScale) {
  Rows rows({"relname", "seq", "ms"},
            {{Value{"a"}, Value{"5"}, Value{"1500"}}, {Value{"b"}, std::nullopt, Value{"2"}}});
  constexpr std::array<MetricSpec, 2> specs{{
      {"pg_seq_total", kCounter, "seq", "help"},
      {"pg_time_seconds_total", kCounter, "ms", "help", 0.001},
  }};
  constexpr std::array<const char*, 1> labels{"relname"};
  SnapshotBuilder b;
  emit_rows(b, rows, specs, labels);
  Snapshot s = b.take();
  ASSERT_EQ(s.families.size(), 2u);
  EXPECT_EQ(s.families[0].metric.size(), 1u);  // NULL for b skipped
  EXPECT_DOUBLE_EQ(s.families[1].metric[0].counter.value, 1.5);
  EXPECT_EQ(s.series(), 3u);
}

}  // namespace
}  // namespace pge
