// Rows and bytes per table, partitioned tables rolled up to their root, beside the thresholds the
// config sets for them (the seed partitions analytics_events at 10M rows, calendar_events at 5M),
// so that a rule such as predict_linear(pg_table_estimated_rows[7d], 30*86400) >
// pg_table_rows_threshold warns a month ahead. Row counts are planner estimates (reltuples), never
// count(*): the collector costs a catalog read whatever the table size.
//
// The partition tree is walked through pg_inherits, not pg_partition_tree(): the latter locks every
// partition and would queue behind a migration's ACCESS EXCLUSIVE lock. Sizes of trees with a
// locked member are left out for that cycle (counted in lock skips).
#include <array>

#include "collectors/collector.h"

namespace pge {
namespace {

const std::string kQuery = std::string(R"SQL(
WITH RECURSIVE tree AS (
  SELECT c.oid AS root, c.oid AS relid
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
  UNION ALL
  SELECT t.root, i.inhrelid
  FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid
  JOIN pg_class c ON c.oid = i.inhrelid AND c.relispartition
), member AS (
  SELECT t.root, c.oid, c.relkind, c.reltuples, s.n_live_tup,
         )SQL") + exclusively_locked("c.oid") +
                           R"SQL( AS locked
  FROM tree t JOIN pg_class c ON c.oid = t.relid
  LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
)
SELECT current_database() AS datname, n.nspname AS schemaname, r.relname,
       COALESCE(sum(CASE WHEN m.reltuples >= 0 THEN m.reltuples ELSE m.n_live_tup END)
                  FILTER (WHERE m.relkind = 'r'), 0) AS estimated_rows,
       bool_or(m.locked) AS locked,
       CASE WHEN NOT bool_or(m.locked)
            THEN sum(CASE WHEN NOT m.locked THEN pg_total_relation_size(m.oid) END) END AS total_bytes,
       count(*) FILTER (WHERE m.relkind = 'r' AND m.reltuples < 0) AS never_analyzed
FROM member m
JOIN pg_class r ON r.oid = m.root
JOIN pg_namespace n ON n.oid = r.relnamespace
GROUP BY n.nspname, r.relname
)SQL";

constexpr std::array<MetricSpec, 3> kMetrics{{
    {"pg_table_estimated_rows", kGauge, "estimated_rows",
     "Planner estimate of the table's rows (pg_class.reltuples, n_live_tup where never analyzed), "
     "summed over all leaf partitions for a partitioned table."},
    {"pg_table_total_bytes", kGauge, "total_bytes",
     "Disk space of the table with indexes and TOAST (pg_total_relation_size), summed over all "
     "partitions for a partitioned table."},
    {"pg_table_never_analyzed_partitions", kGauge, "never_analyzed",
     "Leaf relations of this table never analyzed (reltuples = -1), whose rows come from "
     "n_live_tup instead."},
}};

constexpr MetricSpec kRowsThreshold{
    "pg_table_rows_threshold", kGauge, kComputed,
    "Configured row count at which this table needs action (target.table_threshold.rows)."};
constexpr MetricSpec kBytesThreshold{
    "pg_table_bytes_threshold", kGauge, kComputed,
    "Configured size in bytes at which this table needs action (target.table_threshold.bytes)."};

void emit_thresholds(SnapshotBuilder& out, const Target& target, const std::string& datname) {
  declare(out, {kRowsThreshold, kBytesThreshold});
  for (const auto& t : target.table_thresholds) {
    const Labels labels{{"datname", datname}, {"schemaname", t.schema}, {"relname", t.table}};
    if (t.rows) emit(out, kRowsThreshold, labels, *t.rows);
    if (t.bytes) emit(out, kBytesThreshold, labels, *t.bytes);
  }
}

class GrowthCollector final : public Collector {
 public:
  Snapshot collect(Session& session, CollectContext& ctx) override {
    Rows rows = query_selected(session, kQuery, ctx);
    SnapshotBuilder out;
    emit_rows(out, rows, kMetrics, kTableLabels);
    const std::string datname = current_database(session);
    emit_thresholds(out, ctx.target, datname);
    return out.take(ctx.cut);
  }
};

}  // namespace

CollectorCode growth_code() { return {.make = make_collector<GrowthCollector>}; }

}  // namespace pge
