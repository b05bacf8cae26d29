#include <gtest/gtest.h>

#include "core/snapshot.h"
#include "exporter/exposition.h"
#include "exporter/store.h"

namespace pge {
namespace {

std::shared_ptr<const Snapshot> tables_snapshot(const std::string& target,
                                                std::vector<std::string> tables) {
  SnapshotBuilder b;
  for (const auto& t : tables) {
    b.counter("pg_stat_user_tables_seq_scan_total", "Sequential scans.\nSecond line \\ here.",
              {{"target", target}, {"relname", t}}, 3);
  }
  return std::make_shared<const Snapshot>(b.take());
}

SnapshotStore::View view_with(std::shared_ptr<const Snapshot> a, std::shared_ptr<const Snapshot> b) {
  SnapshotStore store;
  store.declare("b_target", {"tables"});
  store.declare("a_target", {"tables"});
  store.set_up("a_target", true);
  store.set_up("b_target", false, "connection refused");
  CollectorStatus ok;
  ok.ran = ok.success = true;
  ok.duration_seconds = 0.25;
  ok.last_success_unix = 1700000000;
  ok.series = 2;
  store.put("a_target", "tables", std::move(a), ok);
  store.put("b_target", "tables", std::move(b), ok);
  return store.view();
}

// Golden output: families merged by name across targets, series sorted, HELP escaped, self-metrics.
TEST(Exposition, MergesFamiliesAcrossTargetsInDeterministicOrder) {
  auto text = serialize(build_exposition(
      view_with(tables_snapshot("a_target", {"zeta", "alpha"}), tables_snapshot("b_target", {"mid"}))));
  const std::string expected_tables = R"(# HELP pg_stat_user_tables_seq_scan_total Sequential scans.\nSecond line \\ here.
# TYPE pg_stat_user_tables_seq_scan_total counter
pg_stat_user_tables_seq_scan_total{target="a_target",relname="alpha"} 3
pg_stat_user_tables_seq_scan_total{target="a_target",relname="zeta"} 3
pg_stat_user_tables_seq_scan_total{target="b_target",relname="mid"} 3
)";
  EXPECT_NE(text.find(expected_tables), std::string::npos) << text;
  const std::string expected_up = R"(# HELP pg_up Whether the last connection to the target database succeeded (1) or not (0).
# TYPE pg_up gauge
pg_up{target="a_target"} 1
pg_up{target="b_target"} 0
)";
  EXPECT_NE(text.find(expected_up), std::string::npos) << text;
  EXPECT_NE(text.find("pg_evolution_exporter_collector_success{collector=\"tables\",target=\"a_target\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("pg_evolution_exporter_build_info{revision="), std::string::npos);
  EXPECT_EQ(text, serialize(build_exposition(view_with(tables_snapshot("a_target", {"alpha", "zeta"}),
                                                       tables_snapshot("b_target", {"mid"})))));
}

TEST(Exposition, LabelValuesAreEscaped) {
  SnapshotBuilder b;
  b.gauge("pg_x", "x", {{"relname", "we\"ird\\name\nline"}}, 1);
  SnapshotStore store;
  store.put("t", "c", std::make_shared<const Snapshot>(b.take()), {});
  auto text = serialize(build_exposition(store.view()));
  EXPECT_NE(text.find(R"(pg_x{relname="we\"ird\\name\nline"} 1)"), std::string::npos) << text;
}

TEST(Exposition, VanishedSeriesVanishWithTheNextSnapshot) {
  SnapshotStore store;
  store.put("t", "tables", tables_snapshot("t", {"old_table", "kept"}), {});
  store.put("t", "tables", tables_snapshot("t", {"kept"}), {});
  auto text = serialize(build_exposition(store.view()));
  EXPECT_EQ(text.find("old_table"), std::string::npos);
  EXPECT_NE(text.find("kept"), std::string::npos);
}

TEST(Exposition, FailedRunDropsTheCollectorsSeriesButKeepsItsStatus) {
  SnapshotStore store;
  store.put("t", "tables", tables_snapshot("t", {"a"}), {});
  CollectorStatus failed;
  failed.ran = true;
  failed.errors_total = 1;
  failed.last_error = "timeout";
  store.put("t", "tables", nullptr, failed);
  auto text = serialize(build_exposition(store.view()));
  EXPECT_EQ(text.find("pg_stat_user_tables_seq_scan_total"), std::string::npos);
  EXPECT_NE(text.find("pg_evolution_exporter_collector_errors_total{collector=\"tables\",target=\"t\"} 1"),
            std::string::npos);
}

TEST(Exposition, DuplicateSeriesAreEmittedOnce) {
  SnapshotBuilder b;
  b.gauge("pg_dup", "d", {{"a", "1"}}, 1);
  b.gauge("pg_dup", "d", {{"a", "1"}}, 2);
  SnapshotStore store;
  store.put("t", "c", std::make_shared<const Snapshot>(b.take()), {});
  auto text = serialize(build_exposition(store.view()));
  EXPECT_EQ(text.find("pg_dup{a=\"1\"} 2"), std::string::npos);
  EXPECT_NE(text.find("pg_dup{a=\"1\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace pge
