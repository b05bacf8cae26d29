// Declarative partitioning, for every partitioned table (sub-partitioned levels included): how many
// leaf partitions, how much runway the last range partition leaves, gaps between consecutive
// ranges, what landed in the DEFAULT partition, partitioned indexes left invalid, and the leaves'
// table statistics rolled up to the partitioned table. Per-partition series are opt-in
// (`per_partition`): monthly partitions multiply every series by the number of months kept.
//
// Bounds are read as text (pg_get_expr of relpartbound) and converted in SQL for single-column
// range keys of a time type (runway and gaps, in epoch seconds) or a numeric type (gaps only).
// Catalog reads take no locks; sizes and the DEFAULT partition's count(*) skip relations under an
// ACCESS EXCLUSIVE lock. The DEFAULT partition is counted exactly: it should hold (almost) nothing,
// and rows there block the creation of the partition they belong to. A role without SELECT on it
// (pg_monitor alone) gets the statistics' estimate instead, labelled method="estimate", and the
// partition is counted as skipped for lack of privilege: one unreadable relation must not blind the
// whole collector.
#include <array>

#include "collectors/collector.h"
#include "collectors/migration_common.h"

namespace pge {
namespace {

// Every (partitioned table, leaf below it) pair, with the leaf's statistics.
const std::string kLeaves = std::string(R"SQL(
WITH RECURSIVE tree AS (
  SELECT p.partrelid AS top, i.inhrelid AS relid, i.inhparent AS parent
  FROM pg_partitioned_table p JOIN pg_inherits i ON i.inhparent = p.partrelid
  UNION ALL
  SELECT t.top, i.inhrelid, i.inhparent FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid
), leaf AS (
  SELECT t.top, t.parent, c.oid, c.relname, n.nspname, s.n_live_tup, s.n_dead_tup, s.seq_scan,
         COALESCE(s.idx_scan, 0) AS idx_scan, s.n_tup_ins, s.n_tup_upd, s.n_tup_del,
         )SQL") + exclusively_locked("c.oid") +
                            R"SQL( AS locked
  FROM tree t JOIN pg_class c ON c.oid = t.relid AND c.relkind = 'r'
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
)
)SQL";

const std::string kRollupQuery = kLeaves + R"SQL(
SELECT current_database() AS datname, n.nspname AS schemaname, pc.relname,
       count(l.oid) AS partitions, COALESCE(sum(l.n_live_tup), 0) AS live_rows,
       COALESCE(sum(l.n_dead_tup), 0) AS dead_rows, COALESCE(sum(l.seq_scan), 0) AS seq_scan,
       COALESCE(sum(l.idx_scan), 0) AS idx_scan, COALESCE(sum(l.n_tup_ins), 0) AS n_tup_ins,
       COALESCE(sum(l.n_tup_upd), 0) AS n_tup_upd, COALESCE(sum(l.n_tup_del), 0) AS n_tup_del,
       COALESCE(bool_or(l.locked), false) AS locked,
       CASE WHEN NOT COALESCE(bool_or(l.locked), false)
            THEN COALESCE(sum(CASE WHEN NOT l.locked THEN pg_total_relation_size(l.oid) END), 0) END AS size_bytes
FROM pg_partitioned_table p
JOIN pg_class pc ON pc.oid = p.partrelid
JOIN pg_namespace n ON n.oid = pc.relnamespace
LEFT JOIN leaf l ON l.top = p.partrelid
GROUP BY n.nspname, pc.relname
)SQL";

const std::string kPerPartitionQuery = kLeaves + R"SQL(
SELECT DISTINCT ON (l.oid) current_database() AS datname, l.nspname AS schemaname, l.relname,
       pn.nspname || '.' || pc.relname AS parent, l.n_live_tup AS live_rows, l.seq_scan, l.locked,
       CASE WHEN NOT l.locked THEN pg_total_relation_size(l.oid) END AS size_bytes
FROM leaf l JOIN pg_class pc ON pc.oid = l.parent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
ORDER BY l.oid
)SQL";

// Per partitioned table: strategy, key, parent, range bounds of its direct children, DEFAULT
// partition and invalid partitioned indexes. Bounds become epoch seconds (time keys) or float8
// (numeric keys); MINVALUE/MAXVALUE become -/+Infinity.
const std::string kStructureQuery = std::string(R"SQL(
WITH parted AS (
  SELECT p.partrelid, p.partstrat, p.partnatts, p.partdefid,
         CASE WHEN p.partnatts = 1 AND p.partattrs[0] <> 0 THEN
           (SELECT a.atttypid::regtype::text FROM pg_attribute a
            WHERE a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]) END AS keytype
  FROM pg_partitioned_table p
), bound AS (
  SELECT i.inhparent AS parent, c.oid, side, btrim(v) AS v, pt.keytype
  FROM parted pt
  JOIN pg_inherits i ON i.inhparent = pt.partrelid
  JOIN pg_class c ON c.oid = i.inhrelid AND NOT c.relpartbound IS NULL
  CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, 0), '^FOR VALUES FROM \((.*)\) TO \((.*)\)$') m
  CROSS JOIN LATERAL (VALUES ('lo', m[1]), ('hi', m[2])) s(side, v)
  WHERE pt.partstrat = 'r' AND pt.keytype IS NOT NULL
), bound_num AS (
  SELECT parent, oid, side,
         CASE WHEN keytype IN ('timestamp with time zone', 'timestamp without time zone', 'date') THEN
                extract(epoch FROM (CASE v WHEN 'MINVALUE' THEN '-infinity' WHEN 'MAXVALUE' THEN 'infinity'
                                           ELSE btrim(v, '''') END)::timestamptz)::float8
              WHEN keytype IN ('smallint', 'integer', 'bigint', 'numeric') THEN
                (CASE v WHEN 'MINVALUE' THEN '-Infinity' WHEN 'MAXVALUE' THEN 'Infinity'
                        ELSE btrim(v, '''') END)::float8
         END AS num,
         keytype IN ('timestamp with time zone', 'timestamp without time zone', 'date') AS is_time
  FROM bound
), ranges AS (
  SELECT parent, oid, bool_and(is_time) AS is_time,
         max(num) FILTER (WHERE side = 'lo') AS lo, max(num) FILTER (WHERE side = 'hi') AS hi
  FROM bound_num GROUP BY parent, oid
), ordered AS (
  SELECT parent, is_time, lo, hi, lag(hi) OVER (PARTITION BY parent ORDER BY lo) AS prev_hi
  FROM ranges WHERE lo IS NOT NULL
), per_parent AS (
  SELECT parent, bool_and(is_time) AS is_time, max(hi) AS last_upper,
         count(*) FILTER (WHERE prev_hi IS NOT NULL AND lo <> prev_hi) AS gaps
  FROM ordered GROUP BY parent
)
SELECT current_database() AS datname, n.nspname AS schemaname, c.relname,
       CASE pt.partstrat WHEN 'r' THEN 'range' WHEN 'l' THEN 'list' WHEN 'h' THEN 'hash' END AS strategy,
       pg_get_partkeydef(pt.partrelid) AS key,
       COALESCE((SELECT pn.nspname || '.' || pp.relname FROM pg_inherits i
                 JOIN pg_class pp ON pp.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pp.relnamespace
                 WHERE i.inhrelid = pt.partrelid), '') AS parent,
       CASE WHEN pp.is_time THEN pp.last_upper END AS last_upper,
       CASE WHEN pp.is_time THEN pp.last_upper - extract(epoch FROM now())::float8 END AS runway,
       pp.gaps,
       (pt.partdefid <> 0)::int AS has_default,
       dn.nspname AS default_schema, d.relname AS default_relname, pt.partdefid::text AS default_oid,
       pt.partdefid <> 0 AND )SQL") +
                                    exclusively_locked("pt.partdefid") + R"SQL( AS default_locked,
       pt.partdefid <> 0 AND has_schema_privilege(dn.oid, 'USAGE')
         AND has_table_privilege(pt.partdefid, 'SELECT') AS default_readable,
       COALESCE(ds.n_live_tup::float8, CASE WHEN d.reltuples >= 0 THEN d.reltuples::float8 END) AS default_rows_estimate,
       (SELECT count(*) FROM pg_index x JOIN pg_class xc ON xc.oid = x.indexrelid
        WHERE x.indrelid = pt.partrelid AND xc.relkind = 'I' AND NOT x.indisvalid) AS invalid_indexes
FROM parted pt
JOIN pg_class c ON c.oid = pt.partrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN per_parent pp ON pp.parent = pt.partrelid
LEFT JOIN pg_class d ON d.oid = pt.partdefid
LEFT JOIN pg_namespace dn ON dn.oid = d.relnamespace
LEFT JOIN pg_stat_all_tables ds ON ds.relid = pt.partdefid
)SQL";

constexpr const char* kPartmanQuery = R"SQL(
SELECT n.nspname AS schema,
       has_schema_privilege(n.oid, 'USAGE') AND COALESCE(has_table_privilege(c.oid, 'SELECT'), false) AS readable
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'part_config'
WHERE e.extname = 'pg_partman'
)SQL";

// {schema} is replaced by the (quoted) schema pg_partman is installed in.
constexpr const char* kPartmanConfigQuery = R"SQL(
SELECT current_database() AS datname, split_part(parent_table, '.', 1) AS schemaname,
       split_part(parent_table, '.', 2) AS relname, premake,
       CASE WHEN retention IS NULL THEN NULL
            WHEN retention ~ '^\s*[0-9]+\s*$' THEN NULL
            ELSE extract(epoch FROM retention::interval) END AS retention_seconds,
       CASE WHEN retention ~ '^\s*[0-9]+\s*$' THEN retention::numeric END AS retention_values
FROM {schema}.part_config
)SQL";

constexpr std::array<MetricSpec, 9> kRollupMetrics{{
    {"pg_partitioned_table_partitions", kGauge, "partitions",
     "Leaf partitions below this partitioned table, all levels (the DEFAULT partition included)."},
    {"pg_partitioned_table_live_rows", kGauge, "live_rows",
     "Estimated live rows (n_live_tup) summed over the leaf partitions."},
    {"pg_partitioned_table_dead_rows", kGauge, "dead_rows",
     "Estimated dead rows (n_dead_tup) summed over the leaf partitions."},
    {"pg_partitioned_table_seq_scan_total", kCounter, "seq_scan",
     "Sequential scans summed over the leaf partitions (drops when a partition is detached or "
     "dropped)."},
    {"pg_partitioned_table_idx_scan_total", kCounter, "idx_scan",
     "Index scans summed over the leaf partitions (drops when a partition is detached or "
     "dropped)."},
    {"pg_partitioned_table_n_tup_ins_total", kCounter, "n_tup_ins",
     "Rows inserted, summed over the leaf partitions (drops when a partition is detached or "
     "dropped)."},
    {"pg_partitioned_table_n_tup_upd_total", kCounter, "n_tup_upd",
     "Rows updated, summed over the leaf partitions (drops when a partition is detached or "
     "dropped)."},
    {"pg_partitioned_table_n_tup_del_total", kCounter, "n_tup_del",
     "Rows deleted, summed over the leaf partitions (drops when a partition is detached or "
     "dropped)."},
    {"pg_partitioned_table_size_bytes", kGauge, "size_bytes",
     "pg_total_relation_size summed over the leaf partitions (tables, indexes, TOAST)."},
}};

constexpr std::array<MetricSpec, 6> kStructureMetrics{{
    {"pg_partitioned_table_last_upper_bound_timestamp_seconds", kGauge, "last_upper",
     "Upper bound of the last range partition, Unix time (time-typed single-column keys; +Inf for "
     "MAXVALUE)."},
    {"pg_partitioned_table_runway_seconds", kGauge, "runway",
     "Seconds from now until the upper bound of the last range partition: rows past it go to "
     "DEFAULT or fail. Negative when already passed."},
    {"pg_partitioned_table_gaps", kGauge, "gaps",
     "Gaps between consecutive range partitions (a lower bound that is not the previous upper "
     "bound); time and numeric single-column keys."},
    {"pg_partitioned_table_has_default", kGauge, "has_default",
     "1 when the partitioned table has a DEFAULT partition."},
    {"pg_partitioned_table_invalid_indexes", kGauge, "invalid_indexes",
     "Partitioned indexes on this table with indisvalid = false (some partition lacks its index)."},
    {"pg_partitioned_table_default_bytes", kGauge, "default_bytes",
     "pg_total_relation_size of the DEFAULT partition."},
}};

constexpr std::array<MetricSpec, 3> kPartitionMetrics{{
    {"pg_partition_live_rows", kGauge, "live_rows",
     "Estimated live rows (n_live_tup) of one leaf partition (collector option per_partition)."},
    {"pg_partition_seq_scan_total", kCounter, "seq_scan",
     "Sequential scans of one leaf partition (collector option per_partition)."},
    {"pg_partition_size_bytes", kGauge, "size_bytes",
     "pg_total_relation_size of one leaf partition (collector option per_partition)."},
}};

constexpr std::array<MetricSpec, 3> kPartmanMetrics{{
    {"pg_partman_premake", kGauge, "premake",
     "pg_partman part_config.premake: partitions kept ready ahead of the current one."},
    {"pg_partman_retention_seconds", kGauge, "retention_seconds",
     "pg_partman part_config.retention for time-based sets, in seconds (absent when unset)."},
    {"pg_partman_retention_values", kGauge, "retention_values",
     "pg_partman part_config.retention for id-based sets, in key values (absent when unset)."},
}};

constexpr std::array<const char*, 4> kPartitionLabels{"datname", "schemaname", "relname", "parent"};

constexpr std::array<const char*, 6> kInfoLabels{"datname",  "schemaname", "relname",
                                                 "strategy", "key",        "parent"};

constexpr MetricSpec kInfo{"pg_partitioned_table_info", kGauge, kComputed,
                           "Partitioned table: strategy, partition key and parent partitioned "
                           "table ('' at the top). Value 1."};
constexpr MetricSpec kDefaultRows{
    "pg_partitioned_table_default_rows", kGauge, kComputed,
    "Rows in the DEFAULT partition (they block creating the partition they belong to): "
    "method=\"count\" is count(*), method=\"estimate\" is pg_stat_all_tables.n_live_tup (else "
    "pg_class.reltuples) when the role may not read the partition."};
constexpr MetricSpec kPartmanReadable{"pg_partman_config_readable", kGauge, kComputed,
                                      "1 when pg_partman is installed and part_config is readable "
                                      "by the exporter, 0 when installed but not readable."};

const OptionSpec kPerPartition{
    .name = "per_partition",
    .help = "Also export live rows, scans and size per leaf partition (off: cardinality).",
    .default_value = false};

class PartitionsCollector final : public Collector {
 public:
  Snapshot collect(Session& session, CollectContext& ctx) override {
    SnapshotBuilder out;
    emit_rollups(session, ctx, out);
    emit_structure(session, ctx, out);
    if (flag_option(ctx, kPerPartition)) emit_per_partition(session, ctx, out);
    emit_partman(session, out);
    return out.take();
  }

 private:
  static void emit_rollups(Session& session, CollectContext& ctx, SnapshotBuilder& out) {
    Rows rows = query_selected(session, kRollupQuery, ctx);
    emit_rows(out, rows, kRollupMetrics, kTableLabels);
  }

  static void emit_structure(Session& session, CollectContext& ctx, SnapshotBuilder& out) {
    Rows rows = selected_rows(session.query(kStructureQuery), ctx.target);
    std::vector<Value> default_bytes;
    declare(out, {kInfo, kDefaultRows});
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const Labels labels = row_labels(rows, r, kTableLabels);
      emit(out, kInfo, row_labels(rows, r, kInfoLabels), 1);
      default_bytes.push_back(Value{});
      if (!rows.at(r, "default_relname")) continue;
      if (rows.flag(r, "default_locked")) {
        ctx.lock_skips += 1;
        continue;
      }
      const std::string rel =
          quote_qualified(rows.text(r, "default_schema"), rows.text(r, "default_relname"));
      // By oid: a name lookup would need USAGE on the partition's schema.
      const std::string size =
          "pg_total_relation_size(" + quote_literal(rows.text(r, "default_oid")) + "::oid)";
      if (!rows.flag(r, "default_readable")) {
        // pg_monitor may not read the partition: its size and statistics stand in for count(*).
        ctx.skip(kSkipPrivilege);
        default_bytes.back() = session.query("SELECT " + size + " AS bytes").at(0, "bytes");
        if (auto estimate = rows.number(r, "default_rows_estimate")) {
          emit(out, kDefaultRows, with_method(labels, "estimate"), *estimate);
        }
        continue;
      }
      Rows count = session.query("SELECT count(*) AS n, " + size + " AS bytes FROM " + rel);
      emit(out, kDefaultRows, with_method(labels, "count"), *count.number(0, "n"));
      default_bytes.back() = count.at(0, "bytes");
    }
    emit_rows(out, with_column(rows, "default_bytes", default_bytes), kStructureMetrics,
              kTableLabels);
  }

  static Labels with_method(Labels labels, const char* method) {
    labels.emplace_back("method", method);
    return labels;
  }

  // `rows` plus one column (the DEFAULT partitions' sizes, known only after the per-row queries).
  static Rows with_column(const Rows& rows, const std::string& name,
                          const std::vector<Value>& values) {
    std::vector<std::string> columns = rows.columns();
    columns.push_back(name);
    std::vector<std::vector<Value>> data;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      std::vector<Value> row;
      for (std::size_t c = 0; c < rows.columns().size(); ++c) row.push_back(rows.at(r, c));
      row.push_back(values[r]);
      data.push_back(std::move(row));
    }
    return Rows(std::move(columns), std::move(data));
  }

  static void emit_per_partition(Session& session, CollectContext& ctx, SnapshotBuilder& out) {
    Rows rows = selected_rows(session.query(kPerPartitionQuery), ctx.target);
    emit_rows(out, rows, kPartitionMetrics, kPartitionLabels);
  }

  // pg_partman keeps its settings in part_config, readable only when granted: the exporter says
  // whether it could read them rather than failing the whole collector.
  static void emit_partman(Session& session, SnapshotBuilder& out) {
    Rows ext = session.query(kPartmanQuery);
    if (ext.empty()) return;
    const std::string datname = current_database(session);
    const bool readable = ext.flag(0, "readable");
    emit(out, kPartmanReadable, {{"datname", datname}}, readable ? 1 : 0);
    if (!readable) return;
    const std::string sql =
        migration::replace_all(kPartmanConfigQuery, "{schema}", quote_ident(ext.text(0, "schema")));
    emit_rows(out, session.query(sql), kPartmanMetrics, kTableLabels);
  }
};

}  // namespace

CollectorCode partitions_code() {
  return {.options = {kPerPartition}, .make = make_collector<PartitionsCollector>};
}

}  // namespace pge
