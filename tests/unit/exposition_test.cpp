#include <zlib.h>

#include <gtest/gtest.h>

#include "core/snapshot.h"
#include "exporter/exposition.h"
#include "exporter/render.h"
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
  auto text = render_text(
      view_with(tables_snapshot("a_target", {"zeta", "alpha"}), tables_snapshot("b_target", {"mid"})));
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
  EXPECT_EQ(text, render_text(view_with(tables_snapshot("a_target", {"alpha", "zeta"}),
                                        tables_snapshot("b_target", {"mid"}))));
}

TEST(Exposition, LabelValuesAreEscaped) {
  SnapshotBuilder b;
  b.gauge("pg_x", "x", {{"relname", "we\"ird\\name\nline"}}, 1);
  SnapshotStore store;
  store.put("t", "c", std::make_shared<const Snapshot>(b.take()), {});
  auto text = render_text(store.view());
  EXPECT_NE(text.find(R"(pg_x{relname="we\"ird\\name\nline"} 1)"), std::string::npos) << text;
}

TEST(Exposition, VanishedSeriesVanishWithTheNextSnapshot) {
  SnapshotStore store;
  store.put("t", "tables", tables_snapshot("t", {"old_table", "kept"}), {});
  store.put("t", "tables", tables_snapshot("t", {"kept"}), {});
  auto text = render_text(store.view());
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
  auto text = render_text(store.view());
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
  auto text = render_text(store.view());
  EXPECT_EQ(text.find("pg_dup{a=\"1\"} 2"), std::string::npos);
  EXPECT_NE(text.find("pg_dup{a=\"1\"} 1"), std::string::npos);
}

std::string gunzip(const std::string& gz) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 16 + 15), Z_OK);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END) << (z.msg ? z.msg : "");
  EXPECT_EQ(z.avail_in, 0u);  // one gzip member, nothing after its trailer
  out.resize(out.size() - z.avail_out);
  inflateEnd(&z);
  return out;
}

// The gzip body is assembled from pieces deflated when the snapshots were stored; zlib checks its
// CRC-32 and length trailer while inflating.
TEST(Exposition, GzipBodyInflatesToTheTextBody) {
  auto view = view_with(tables_snapshot("a_target", {"zeta", "alpha"}), tables_snapshot("b_target", {"mid"}));
  EXPECT_EQ(gunzip(render_gzip(view)), render_text(view));
}

// Two collectors of one target write the same family: HELP and TYPE appear once, both series follow.
TEST(Exposition, FamilyFromTwoCollectorsHasOneHeader) {
  SnapshotStore store;
  for (const char* collector : {"growth", "tables"}) {
    SnapshotBuilder b;
    b.gauge("pg_shared", "shared", {{"from", collector}}, 1);
    b.gauge(std::string("pg_only_") + collector, "own", {}, 2);
    store.put("t", collector, std::make_shared<const Snapshot>(b.take()), {});
  }
  const std::string text = render_text(store.view());
  EXPECT_NE(text.find("# HELP pg_shared shared\n# TYPE pg_shared gauge\npg_shared{from=\"growth\"} 1\n"
                      "pg_shared{from=\"tables\"} 1\n# HELP pg_up "),
            std::string::npos)
      << text;
  EXPECT_EQ(gunzip(render_gzip(store.view())), text);
}

TEST(Exposition, FamilyOfAnotherTypeUnderTheSameNameIsLeftOut) {
  SnapshotStore store;
  SnapshotBuilder a;
  a.gauge("pg_clash", "g", {{"c", "a"}}, 1);
  store.put("t", "a", std::make_shared<const Snapshot>(a.take()), {});
  SnapshotBuilder b;
  b.counter("pg_clash", "c", {{"c", "b"}}, 1);
  store.put("t", "b", std::make_shared<const Snapshot>(b.take()), {});
  const std::string text = render_text(store.view());
  EXPECT_NE(text.find("pg_clash{c=\"a\"} 1"), std::string::npos);
  EXPECT_EQ(text.find("pg_clash{c=\"b\"}"), std::string::npos);
  EXPECT_EQ(text.find("# TYPE pg_clash counter"), std::string::npos);
}

}  // namespace
}  // namespace pge
