#include "exporter/exposition.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "core/snapshot.h"
#include "exporter/render.h"
#include "exporter/store.h"

namespace pge {
namespace {

constexpr double kNow = 1700000000;

// A successful run at kNow.
CollectorStatus fresh() {
  CollectorStatus st;
  st.ran = st.success = true;
  st.last_success_unix = kNow;
  return st;
}

std::shared_ptr<const Snapshot> tables_snapshot(const std::string& target,
                                                std::vector<std::string> tables) {
  SnapshotBuilder b;
  for (const auto& t : tables) {
    b.counter("pg_stat_user_tables_seq_scan_total", "Sequential scans.\nSecond line \\ here.",
              {{"target", target}, {"relname", t}}, 3);
  }
  return std::make_shared<const Snapshot>(b.take());
}

CollectorStatus succeeded(std::size_t series) {
  CollectorStatus ok;
  ok.ran = ok.success = true;
  ok.duration_seconds = 0.25;
  ok.effective_interval_seconds = 30;
  ok.last_success_unix = kNow;
  ok.series = series;
  return ok;
}

SnapshotStore::View view_with(std::shared_ptr<const Snapshot> a,
                              std::shared_ptr<const Snapshot> b) {
  SnapshotStore store;
  store.declare("b_target", {{"tables", 90}});
  store.declare("a_target", {{"tables", 90}});
  store.set_up("a_target", true);
  store.set_up("b_target", false, "connection refused");
  const CollectorStatus ok = succeeded(2);
  store.put("a_target", "tables", std::move(a), ok);
  store.put("b_target", "tables", std::move(b), ok);
  return store.view(kNow);
}

// Golden output: families merged by name across targets, series sorted, HELP escaped, self-metrics.
TEST(Exposition, MergesFamiliesAcrossTargetsInDeterministicOrder) {
  auto text = render_text(view_with(tables_snapshot("a_target", {"zeta", "alpha"}),
                                    tables_snapshot("b_target", {"mid"})));
  const std::string expected_tables =
      R"(# HELP pg_stat_user_tables_seq_scan_total Sequential scans.\nSecond line \\ here.
# TYPE pg_stat_user_tables_seq_scan_total counter
pg_stat_user_tables_seq_scan_total{target="a_target",relname="alpha"} 3
pg_stat_user_tables_seq_scan_total{target="a_target",relname="zeta"} 3
pg_stat_user_tables_seq_scan_total{target="b_target",relname="mid"} 3
)";
  EXPECT_NE(text.find(expected_tables), std::string::npos) << text;
  const std::string expected_up =
      R"(# HELP pg_up Whether the target database answers (1) or not (0): connected, and no statement past its client deadline.
# TYPE pg_up gauge
pg_up{target="a_target"} 1
pg_up{target="b_target"} 0
)";
  EXPECT_NE(text.find(expected_up), std::string::npos) << text;
  EXPECT_NE(
      text.find(
          "pg_evolution_exporter_collector_success{collector=\"tables\",target=\"a_target\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("pg_evolution_exporter_build_info{revision="), std::string::npos);
  EXPECT_EQ(text, render_text(view_with(tables_snapshot("a_target", {"alpha", "zeta"}),
                                        tables_snapshot("b_target", {"mid"}))));
}

TEST(Exposition, LabelValuesAreEscaped) {
  SnapshotBuilder b;
  b.gauge("pg_x", "x", {{"relname", "we\"ird\\name\nline"}}, 1);
  SnapshotStore store;
  store.put("t", "c", std::make_shared<const Snapshot>(b.take()), fresh());
  auto text = render_text(store.view(kNow));
  EXPECT_NE(text.find(R"(pg_x{relname="we\"ird\\name\nline"} 1)"), std::string::npos) << text;
}

TEST(Exposition, VanishedSeriesVanishWithTheNextSnapshot) {
  SnapshotStore store;
  store.put("t", "tables", tables_snapshot("t", {"old_table", "kept"}), fresh());
  store.put("t", "tables", tables_snapshot("t", {"kept"}), fresh());
  auto text = render_text(store.view(kNow));
  EXPECT_EQ(text.find("old_table"), std::string::npos);
  EXPECT_NE(text.find("kept"), std::string::npos);
}

TEST(Exposition, FailedRunDropsTheCollectorsSeriesButKeepsItsStatus) {
  SnapshotStore store;
  store.put("t", "tables", tables_snapshot("t", {"a"}), fresh());
  CollectorStatus failed;
  failed.ran = true;
  failed.errors_total = 1;
  failed.last_error = "timeout";
  store.put("t", "tables", nullptr, failed);
  auto text = render_text(store.view(kNow));
  EXPECT_EQ(text.find("pg_stat_user_tables_seq_scan_total"), std::string::npos);
  EXPECT_NE(
      text.find(
          "pg_evolution_exporter_collector_errors_total{collector=\"tables\",target=\"t\"} 1"),
      std::string::npos);
}

TEST(Exposition, DuplicateSeriesAreEmittedOnce) {
  SnapshotBuilder b;
  b.gauge("pg_dup", "d", {{"a", "1"}}, 1);
  b.gauge("pg_dup", "d", {{"a", "1"}}, 2);
  SnapshotStore store;
  store.put("t", "c", std::make_shared<const Snapshot>(b.take()), fresh());
  auto text = render_text(store.view(kNow));
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
  auto view = view_with(tables_snapshot("a_target", {"zeta", "alpha"}),
                        tables_snapshot("b_target", {"mid"}));
  EXPECT_EQ(gunzip(render_gzip(view)), render_text(view));
}

// Two collectors of one target write the same family: HELP and TYPE appear once, both series
// follow.
TEST(Exposition, FamilyFromTwoCollectorsHasOneHeader) {
  SnapshotStore store;
  for (const char* collector : {"growth", "tables"}) {
    SnapshotBuilder b;
    b.gauge("pg_shared", "shared", {{"from", collector}}, 1);
    b.gauge(std::string("pg_only_") + collector, "own", {}, 2);
    store.put("t", collector, std::make_shared<const Snapshot>(b.take()), fresh());
  }
  const std::string text = render_text(store.view(kNow));
  EXPECT_NE(
      text.find("# HELP pg_shared shared\n# TYPE pg_shared gauge\npg_shared{from=\"growth\"} 1\n"
                "pg_shared{from=\"tables\"} 1\n# HELP pg_up "),
      std::string::npos)
      << text;
  EXPECT_EQ(gunzip(render_gzip(store.view(kNow))), text);
}

TEST(Exposition, FamilyOfAnotherTypeUnderTheSameNameIsLeftOut) {
  SnapshotStore store;
  SnapshotBuilder a;
  a.gauge("pg_clash", "g", {{"c", "a"}}, 1);
  store.put("t", "a", std::make_shared<const Snapshot>(a.take()), fresh());
  SnapshotBuilder b;
  b.counter("pg_clash", "c", {{"c", "b"}}, 1);
  store.put("t", "b", std::make_shared<const Snapshot>(b.take()), fresh());
  const std::string text = render_text(store.view(kNow));
  EXPECT_NE(text.find("pg_clash{c=\"a\"} 1"), std::string::npos);
  EXPECT_EQ(text.find("pg_clash{c=\"b\"}"), std::string::npos);
  EXPECT_EQ(text.find("# TYPE pg_clash counter"), std::string::npos);
}

// The whole /metrics body for a small view, byte for byte: build_info first, families sorted by
// name, self-metrics of every (target, collector), series sorted by labels, HELP and label values
// escaped, a target that is down present only through pg_up and its collectors' status.
TEST(Exposition, WholeOutputGolden) {
  SnapshotStore store;
  store.declare("main", {{"activity", 90}, {"tables", 90}});
  store.declare("replica", {{"tables", 90}});
  store.set_up("main", true);
  store.set_up("replica", false, "connection refused");
  store.set_series_budget("main", 100000);
  CollectorStatus ok = succeeded(2);
  ok.series_dropped = 4;
  ok.lock_skips_total = 3;
  ok.lock_timeouts_total = 1;
  SnapshotBuilder tables;
  tables.counter("pg_stat_user_tables_seq_scan_total", "Sequential scans.\nSecond \\ line.",
                 {{"target", "main"}, {"relname", "we\"ird\\name"}}, 3);
  tables.counter("pg_stat_user_tables_seq_scan_total", "Sequential scans.\nSecond \\ line.",
                 {{"target", "main"}, {"relname", "alpha"}}, 5);
  store.put("main", "tables", std::make_shared<const Snapshot>(tables.take()), ok);
  SnapshotBuilder activity;
  activity.gauge("pg_stat_activity_connections", "Client connections in this state.",
                 {{"target", "main"}, {"state", "active"}}, 2);
  ok.series = 1;
  ok.series_dropped = 0;
  store.put("main", "activity", std::make_shared<const Snapshot>(activity.take()), ok);
  CollectorStatus failed;
  failed.ran = true;
  failed.effective_interval_seconds = 30;
  failed.errors_total = 2;
  failed.last_error = "connection lost";
  store.put("replica", "tables", nullptr, failed);

  const std::string expected =
      std::string(
          R"(# HELP pg_evolution_exporter_build_info Version and revision of pg_evolution_exporter, constant 1.
# TYPE pg_evolution_exporter_build_info gauge
pg_evolution_exporter_build_info{revision=")") +
      PGE_REVISION + R"(",version=")" + PGE_VERSION + R"("} 1
# HELP pg_evolution_exporter_client_deadline_exceeded_total Statements that passed their client deadline (statement timeout + margin): cancel = cancel request sent, disconnect = still no answer a margin later, connection dropped.
# TYPE pg_evolution_exporter_client_deadline_exceeded_total counter
pg_evolution_exporter_client_deadline_exceeded_total{action="cancel",target="main"} 0
pg_evolution_exporter_client_deadline_exceeded_total{action="cancel",target="replica"} 0
pg_evolution_exporter_client_deadline_exceeded_total{action="disconnect",target="main"} 0
pg_evolution_exporter_client_deadline_exceeded_total{action="disconnect",target="replica"} 0
# HELP pg_evolution_exporter_collector_duration_seconds Wall-clock duration of the collector's last run, database time included.
# TYPE pg_evolution_exporter_collector_duration_seconds gauge
pg_evolution_exporter_collector_duration_seconds{collector="activity",target="main"} 0.25
pg_evolution_exporter_collector_duration_seconds{collector="tables",target="main"} 0.25
pg_evolution_exporter_collector_duration_seconds{collector="tables",target="replica"} 0
# HELP pg_evolution_exporter_collector_effective_interval_seconds Interval the collector runs at: the configured one, or longer when the target's collectors would keep its connection busy beyond exporter.duty_cycle.
# TYPE pg_evolution_exporter_collector_effective_interval_seconds gauge
pg_evolution_exporter_collector_effective_interval_seconds{collector="activity",target="main"} 30
pg_evolution_exporter_collector_effective_interval_seconds{collector="tables",target="main"} 30
pg_evolution_exporter_collector_effective_interval_seconds{collector="tables",target="replica"} 30
# HELP pg_evolution_exporter_collector_errors_total Failed runs of the collector since the exporter started.
# TYPE pg_evolution_exporter_collector_errors_total counter
pg_evolution_exporter_collector_errors_total{collector="activity",target="main"} 0
pg_evolution_exporter_collector_errors_total{collector="tables",target="main"} 0
pg_evolution_exporter_collector_errors_total{collector="tables",target="replica"} 2
# HELP pg_evolution_exporter_collector_last_success_timestamp_seconds Unix time of the collector's last successful run (0 = never).
# TYPE pg_evolution_exporter_collector_last_success_timestamp_seconds gauge
pg_evolution_exporter_collector_last_success_timestamp_seconds{collector="activity",target="main"} 1700000000
pg_evolution_exporter_collector_last_success_timestamp_seconds{collector="tables",target="main"} 1700000000
pg_evolution_exporter_collector_last_success_timestamp_seconds{collector="tables",target="replica"} 0
# HELP pg_evolution_exporter_collector_lock_skips_total Relations the collector left out because another session held or awaited an ACCESS EXCLUSIVE lock on them.
# TYPE pg_evolution_exporter_collector_lock_skips_total counter
pg_evolution_exporter_collector_lock_skips_total{collector="activity",target="main"} 3
pg_evolution_exporter_collector_lock_skips_total{collector="tables",target="main"} 3
pg_evolution_exporter_collector_lock_skips_total{collector="tables",target="replica"} 0
# HELP pg_evolution_exporter_collector_lock_timeouts_total Collector runs that ended at lock_timeout.
# TYPE pg_evolution_exporter_collector_lock_timeouts_total counter
pg_evolution_exporter_collector_lock_timeouts_total{collector="activity",target="main"} 1
pg_evolution_exporter_collector_lock_timeouts_total{collector="tables",target="main"} 1
pg_evolution_exporter_collector_lock_timeouts_total{collector="tables",target="replica"} 0
# HELP pg_evolution_exporter_collector_relations_skipped_total Relations the collector left out or only estimated, by reason (locked: ACCESS EXCLUSIVE lock; insufficient_privilege: the role may not read it).
# TYPE pg_evolution_exporter_collector_relations_skipped_total counter
pg_evolution_exporter_collector_relations_skipped_total{collector="activity",target="main",reason="locked"} 3
pg_evolution_exporter_collector_relations_skipped_total{collector="tables",target="main",reason="locked"} 3
pg_evolution_exporter_collector_relations_skipped_total{collector="tables",target="replica",reason="locked"} 0
# HELP pg_evolution_exporter_collector_series Series produced by the collector's last successful run.
# TYPE pg_evolution_exporter_collector_series gauge
pg_evolution_exporter_collector_series{collector="activity",target="main"} 1
pg_evolution_exporter_collector_series{collector="tables",target="main"} 2
pg_evolution_exporter_collector_series{collector="tables",target="replica"} 0
# HELP pg_evolution_exporter_collector_stale 1 when the collector's last success is older than its staleness limit (its series are not served).
# TYPE pg_evolution_exporter_collector_stale gauge
pg_evolution_exporter_collector_stale{collector="activity",target="main"} 0
pg_evolution_exporter_collector_stale{collector="tables",target="main"} 0
pg_evolution_exporter_collector_stale{collector="tables",target="replica"} 1
# HELP pg_evolution_exporter_collector_staleness_limit_seconds Age of the collector's last success after which its snapshot is no longer served (3 x effective interval + timeout).
# TYPE pg_evolution_exporter_collector_staleness_limit_seconds gauge
pg_evolution_exporter_collector_staleness_limit_seconds{collector="activity",target="main"} 90
pg_evolution_exporter_collector_staleness_limit_seconds{collector="tables",target="main"} 90
pg_evolution_exporter_collector_staleness_limit_seconds{collector="tables",target="replica"} 90
# HELP pg_evolution_exporter_collector_success Whether the collector's last run succeeded (1) or failed (0).
# TYPE pg_evolution_exporter_collector_success gauge
pg_evolution_exporter_collector_success{collector="activity",target="main"} 1
pg_evolution_exporter_collector_success{collector="tables",target="main"} 1
pg_evolution_exporter_collector_success{collector="tables",target="replica"} 0
# HELP pg_evolution_exporter_series_budget Most series the target may export (target.series_budget; 0 = no budget).
# TYPE pg_evolution_exporter_series_budget gauge
pg_evolution_exporter_series_budget{target="main"} 100000
pg_evolution_exporter_series_budget{target="replica"} 0
# HELP pg_evolution_exporter_series_dropped Per-relation series the collector's last successful run left out to keep the target within its series budget (folded into per-schema rollups).
# TYPE pg_evolution_exporter_series_dropped gauge
pg_evolution_exporter_series_dropped{collector="activity",target="main"} 0
pg_evolution_exporter_series_dropped{collector="tables",target="main"} 4
pg_evolution_exporter_series_dropped{collector="tables",target="replica"} 0
# HELP pg_stat_activity_connections Client connections in this state.
# TYPE pg_stat_activity_connections gauge
pg_stat_activity_connections{target="main",state="active"} 2
# HELP pg_stat_user_tables_seq_scan_total Sequential scans.\nSecond \\ line.
# TYPE pg_stat_user_tables_seq_scan_total counter
pg_stat_user_tables_seq_scan_total{target="main",relname="alpha"} 5
pg_stat_user_tables_seq_scan_total{target="main",relname="we\"ird\\name"} 3
# HELP pg_up Whether the target database answers (1) or not (0): connected, and no statement past its client deadline.
# TYPE pg_up gauge
pg_up{target="main"} 1
pg_up{target="replica"} 0
)";
  EXPECT_EQ(render_text(store.view(kNow)), expected);
}

// Issue 17: a snapshot past its collector's staleness limit is not served as fresh, and a target
// whose statement passed its client deadline is down whatever its connection says.
TEST(Exposition, SnapshotOlderThanItsStalenessLimitIsNotServedAndMarkedStale) {
  SnapshotStore store;
  store.declare("t", {{"tables", 10}});
  store.set_up("t", true);
  store.put("t", "tables", tables_snapshot("t", {"a"}), fresh());
  const auto at = [&](double now) { return render_text(store.view(now)); };
  EXPECT_NE(at(kNow + 10).find("pg_stat_user_tables_seq_scan_total"), std::string::npos);
  EXPECT_NE(at(kNow + 10).find(
                "pg_evolution_exporter_collector_stale{collector=\"tables\",target=\"t\"} 0"),
            std::string::npos);
  const std::string late = at(kNow + 10.5);
  EXPECT_EQ(late.find("pg_stat_user_tables_seq_scan_total"), std::string::npos) << late;
  EXPECT_NE(late.find("pg_evolution_exporter_collector_stale{collector=\"tables\",target=\"t\"} 1"),
            std::string::npos);
  EXPECT_NE(
      late.find("pg_evolution_exporter_collector_success{collector=\"tables\",target=\"t\"} 1"),
      std::string::npos)
      << "the status says success: only the staleness tells";
  EXPECT_NE(late.find("pg_evolution_exporter_collector_staleness_limit_seconds{collector="
                      "\"tables\",target=\"t\"} 10"),
            std::string::npos);
}

TEST(Exposition, StalledTargetIsDownAndCountsItsDeadlines) {
  SnapshotStore store;
  store.declare("t", {{"tables", 10}});
  store.set_up("t", true);
  store.deadline_exceeded("t", false);
  std::string text = render_text(store.view(kNow));
  EXPECT_NE(text.find("pg_up{target=\"t\"} 0"), std::string::npos) << text;
  EXPECT_NE(
      text.find(
          "pg_evolution_exporter_client_deadline_exceeded_total{action=\"cancel\",target=\"t\"} 1"),
      std::string::npos);
  store.deadline_exceeded("t", true);
  store.answered("t");
  text = render_text(store.view(kNow));
  EXPECT_NE(text.find("pg_up{target=\"t\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("pg_evolution_exporter_client_deadline_exceeded_total{action=\"disconnect\","
                      "target=\"t\"} 1"),
            std::string::npos);
}

TEST(Exposition, RelationsSkippedAreCountedByReason) {
  SnapshotStore store;
  store.declare("t", {{"partitions", 10}});
  CollectorStatus st = fresh();
  st.lock_skips_total = 2;
  st.relations_skipped_total["insufficient_privilege"] = 3;
  store.put("t", "partitions", nullptr, st);
  const std::string text = render_text(store.view(kNow));
  EXPECT_NE(text.find("pg_evolution_exporter_collector_relations_skipped_total{collector="
                      "\"partitions\",target=\"t\",reason=\"locked\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("pg_evolution_exporter_collector_relations_skipped_total{collector="
                      "\"partitions\",target=\"t\",reason=\"insufficient_privilege\"} 3"),
            std::string::npos);
}

}  // namespace
}  // namespace pge
