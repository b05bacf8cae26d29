// Per-table activity, I/O and sizes: pg_stat_user_tables joined with pg_statio_user_tables. Size
// functions take an AccessShareLock, so relations under (or queued for) an ACCESS EXCLUSIVE lock
// get no size series this cycle instead of making the exporter queue behind a migration. Sizes are
// read every `size_interval` (SizeCache); pg_total_relation_size is the sum of the other two, not a
// second pass over the files.
#include <array>

#include "collectors/collector.h"

namespace pge {
namespace {

const std::string kQuery = std::string(R"SQL(
SELECT current_database() AS datname, s.schemaname, s.relname,
       s.seq_scan, s.seq_tup_read, s.idx_scan, s.idx_tup_fetch, s.n_tup_ins, s.n_tup_upd,
       s.n_tup_del, s.n_tup_hot_upd, s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze,
       s.n_ins_since_vacuum,
       COALESCE(extract(epoch FROM s.last_vacuum), 0) AS last_vacuum,
       COALESCE(extract(epoch FROM s.last_autovacuum), 0) AS last_autovacuum,
       COALESCE(extract(epoch FROM s.last_analyze), 0) AS last_analyze,
       COALESCE(extract(epoch FROM s.last_autoanalyze), 0) AS last_autoanalyze,
       s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
       io.heap_blks_read, io.heap_blks_hit, io.idx_blks_read, io.idx_blks_hit,
       io.toast_blks_read, io.toast_blks_hit, io.tidx_blks_read, io.tidx_blks_hit,
       l.locked, sz.table_size, sz.index_size, sz.toast_size,
       sz.table_size + sz.index_size AS total_size
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
LEFT JOIN pg_statio_user_tables io ON io.relid = s.relid
CROSS JOIN LATERAL (SELECT )SQL") +
                           exclusively_locked("s.relid") + R"SQL( AS locked) l
LEFT JOIN LATERAL (
  SELECT pg_table_size(s.relid) AS table_size, pg_indexes_size(s.relid) AS index_size,
         COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0) AS toast_size
  WHERE NOT l.locked AND $1::bool) sz ON true
)SQL";

constexpr std::array<MetricSpec, 32> kMetrics{{
    {"pg_stat_user_tables_seq_scan_total", kCounter, "seq_scan",
     "Sequential scans initiated on this table."},
    {"pg_stat_user_tables_seq_tup_read_total", kCounter, "seq_tup_read",
     "Live rows fetched by sequential scans."},
    {"pg_stat_user_tables_idx_scan_total", kCounter, "idx_scan",
     "Index scans initiated on this table."},
    {"pg_stat_user_tables_idx_tup_fetch_total", kCounter, "idx_tup_fetch",
     "Live rows fetched by index scans."},
    {"pg_stat_user_tables_n_tup_ins_total", kCounter, "n_tup_ins", "Rows inserted."},
    {"pg_stat_user_tables_n_tup_upd_total", kCounter, "n_tup_upd",
     "Rows updated (HOT updates included)."},
    {"pg_stat_user_tables_n_tup_del_total", kCounter, "n_tup_del", "Rows deleted."},
    {"pg_stat_user_tables_n_tup_hot_upd_total", kCounter, "n_tup_hot_upd",
     "Rows HOT updated (no separate index update required)."},
    {"pg_stat_user_tables_n_live_tup", kGauge, "n_live_tup", "Estimated number of live rows."},
    {"pg_stat_user_tables_n_dead_tup", kGauge, "n_dead_tup", "Estimated number of dead rows."},
    {"pg_stat_user_tables_n_mod_since_analyze", kGauge, "n_mod_since_analyze",
     "Estimated number of rows modified since this table was last analyzed."},
    {"pg_stat_user_tables_n_ins_since_vacuum", kGauge, "n_ins_since_vacuum",
     "Estimated number of rows inserted since this table was last vacuumed."},
    {"pg_stat_user_tables_last_vacuum", kGauge, "last_vacuum",
     "Last time this table was manually vacuumed, Unix time (0 = never)."},
    {"pg_stat_user_tables_last_autovacuum", kGauge, "last_autovacuum",
     "Last time this table was vacuumed by autovacuum, Unix time (0 = never)."},
    {"pg_stat_user_tables_last_analyze", kGauge, "last_analyze",
     "Last time this table was manually analyzed, Unix time (0 = never)."},
    {"pg_stat_user_tables_last_autoanalyze", kGauge, "last_autoanalyze",
     "Last time this table was analyzed by autovacuum, Unix time (0 = never)."},
    {"pg_stat_user_tables_vacuum_count_total", kCounter, "vacuum_count",
     "Times this table has been manually vacuumed (not counting VACUUM FULL)."},
    {"pg_stat_user_tables_autovacuum_count_total", kCounter, "autovacuum_count",
     "Times this table has been vacuumed by autovacuum."},
    {"pg_stat_user_tables_analyze_count_total", kCounter, "analyze_count",
     "Times this table has been manually analyzed."},
    {"pg_stat_user_tables_autoanalyze_count_total", kCounter, "autoanalyze_count",
     "Times this table has been analyzed by autovacuum."},
    {"pg_statio_user_tables_heap_blocks_read_total", kCounter, "heap_blks_read",
     "Disk blocks read from this table."},
    {"pg_statio_user_tables_heap_blocks_hit_total", kCounter, "heap_blks_hit",
     "Buffer hits in this table."},
    {"pg_statio_user_tables_idx_blocks_read_total", kCounter, "idx_blks_read",
     "Disk blocks read from all indexes on this table."},
    {"pg_statio_user_tables_idx_blocks_hit_total", kCounter, "idx_blks_hit",
     "Buffer hits in all indexes on this table."},
    {"pg_statio_user_tables_toast_blocks_read_total", kCounter, "toast_blks_read",
     "Disk blocks read from this table's TOAST table."},
    {"pg_statio_user_tables_toast_blocks_hit_total", kCounter, "toast_blks_hit",
     "Buffer hits in this table's TOAST table."},
    {"pg_statio_user_tables_tidx_blocks_read_total", kCounter, "tidx_blks_read",
     "Disk blocks read from this table's TOAST table indexes."},
    {"pg_statio_user_tables_tidx_blocks_hit_total", kCounter, "tidx_blks_hit",
     "Buffer hits in this table's TOAST table indexes."},
    {"pg_stat_user_tables_table_size_bytes", kGauge, "table_size",
     "Disk space used by the table without indexes (heap, TOAST, free space and visibility maps): "
     "pg_table_size."},
    {"pg_stat_user_tables_index_size_bytes", kGauge, "index_size",
     "Disk space used by all indexes of the table: pg_indexes_size."},
    {"pg_stat_user_tables_toast_size_bytes", kGauge, "toast_size",
     "Disk space used by the table's TOAST table and its index."},
    {"pg_stat_user_tables_total_size_bytes", kGauge, "total_size",
     "Disk space used by the table, its indexes and TOAST: pg_total_relation_size."},
}};

constexpr std::array<const char*, 4> kSizeColumns{"table_size", "index_size", "toast_size",
                                                  "total_size"};

}  // namespace

CollectorCode tables_code() {
  return {.options = {kSizeIntervalOption},
          .make = rows_collector({{.sql = kQuery,
                                   .metrics = kMetrics,
                                   .labels = kTableLabels,
                                   .relations = Relations::selected,
                                   .size_columns = kSizeColumns}})};
}

}  // namespace pge
