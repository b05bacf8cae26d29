// Maintenance state per table (dead-tuple ratio, transaction-ID age, the autovacuum thresholds that
// PostgreSQL itself applies, honoring per-table reloptions) and the progress of running VACUUM and
// CREATE INDEX / REINDEX commands. The database-wide XID age is pg_database_frozen_xid_age in the
// `database` collector. Everything here is read from catalogs and statistics views: no relation is
// opened, so nothing can queue behind a migration's lock. Per-table series of relations under
// ACCESS EXCLUSIVE are still left out (and counted) like in every collector; progress rows are not,
// since the lock is usually the reported command's own (REINDEX).
#include <array>
#include <string>

#include "collectors/collector.h"

namespace pge {
namespace {

// Mirrors relation_needs_vacanalyze() in src/backend/postmaster/autovacuum.c (PG 15): a reloption
// wins over the server setting, and a table never vacuumed counts reltuples as 0.
const std::string kTables = std::string(R"SQL(
SELECT current_database() AS datname, s.schemaname, s.relname,
       )SQL") + exclusively_locked("s.relid") +
                            R"SQL( AS locked,
       CASE WHEN s.n_live_tup + s.n_dead_tup > 0
            THEN s.n_dead_tup::float8 / (s.n_live_tup + s.n_dead_tup) END AS dead_ratio,
       age(c.relfrozenxid) AS frozen_xid_age,
       mxid_age(c.relminmxid) AS frozen_mxid_age,
       o.vac_base + o.vac_scale * greatest(c.reltuples, 0) AS vacuum_threshold,
       o.anl_base + o.anl_scale * greatest(c.reltuples, 0) AS analyze_threshold,
       CASE WHEN o.ins_base >= 0 THEN o.ins_base + o.ins_scale * greatest(c.reltuples, 0) END AS insert_threshold,
       (current_setting('autovacuum')::bool AND o.enabled)::int AS autovacuum_enabled,
       (s.n_dead_tup > o.vac_base + o.vac_scale * greatest(c.reltuples, 0))::int AS vacuum_due,
       (s.n_mod_since_analyze > o.anl_base + o.anl_scale * greatest(c.reltuples, 0))::int AS analyze_due
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
CROSS JOIN LATERAL (
  SELECT COALESCE(max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_threshold')::float8,
                  current_setting('autovacuum_vacuum_threshold')::float8) AS vac_base,
         COALESCE(max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_scale_factor')::float8,
                  current_setting('autovacuum_vacuum_scale_factor')::float8) AS vac_scale,
         COALESCE(max(option_value) FILTER (WHERE option_name = 'autovacuum_analyze_threshold')::float8,
                  current_setting('autovacuum_analyze_threshold')::float8) AS anl_base,
         COALESCE(max(option_value) FILTER (WHERE option_name = 'autovacuum_analyze_scale_factor')::float8,
                  current_setting('autovacuum_analyze_scale_factor')::float8) AS anl_scale,
         COALESCE(max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_insert_threshold')::float8,
                  current_setting('autovacuum_vacuum_insert_threshold')::float8) AS ins_base,
         COALESCE(max(option_value) FILTER (WHERE option_name = 'autovacuum_vacuum_insert_scale_factor')::float8,
                  current_setting('autovacuum_vacuum_insert_scale_factor')::float8) AS ins_scale,
         COALESCE(max(option_value) FILTER (WHERE option_name = 'autovacuum_enabled')::bool, true) AS enabled
  FROM pg_options_to_table(c.reloptions)
) o
WHERE c.relkind IN ('r', 'm')
)SQL";

constexpr std::array<MetricSpec, 9> kTableMetrics{{
    {"pg_stat_user_tables_dead_tuple_ratio", kGauge, "dead_ratio",
     "n_dead_tup / (n_live_tup + n_dead_tup): share of the table's row versions that are dead."},
    {"pg_table_frozen_xid_age", kGauge, "frozen_xid_age",
     "Age in transactions of the table's relfrozenxid; autovacuum forces a freeze at "
     "autovacuum_freeze_max_age, wraparound at 2^31."},
    {"pg_table_frozen_mxid_age", kGauge, "frozen_mxid_age",
     "Age in multixacts of the table's relminmxid (multixact wraparound)."},
    {"pg_table_autovacuum_vacuum_threshold_rows", kGauge, "vacuum_threshold",
     "Dead rows above which autovacuum vacuums the table: vacuum_threshold + vacuum_scale_factor * "
     "reltuples, per-table reloptions honored."},
    {"pg_table_autovacuum_analyze_threshold_rows", kGauge, "analyze_threshold",
     "Rows modified since the last analyze above which autovacuum analyzes the table: "
     "analyze_threshold + analyze_scale_factor * reltuples."},
    {"pg_table_autovacuum_vacuum_insert_threshold_rows", kGauge, "insert_threshold",
     "Rows inserted since the last vacuum above which autovacuum vacuums the table (absent when "
     "disabled with -1)."},
    {"pg_table_autovacuum_enabled", kGauge, "autovacuum_enabled",
     "1 when autovacuum may process the table (server setting autovacuum and reloption "
     "autovacuum_enabled)."},
    {"pg_table_autovacuum_vacuum_due", kGauge, "vacuum_due",
     "1 when n_dead_tup exceeds the vacuum threshold: autovacuum should run on this table."},
    {"pg_table_autovacuum_analyze_due", kGauge, "analyze_due",
     "1 when n_mod_since_analyze exceeds the analyze threshold: autovacuum should analyze this "
     "table."},
}};

// `_ratio` is the progress within the current phase, for the phases PostgreSQL gives a counter for.
// PostgreSQL 17 stores dead item identifiers in a TID store bounded in bytes: max_dead_tuples and
// num_dead_tuples became max_dead_tuple_bytes, dead_tuple_bytes and num_dead_item_ids (the same
// count as num_dead_tuples under a new name), and indexes_total/indexes_processed were added.
std::string vacuum_progress_query(const std::string& version_columns) {
  return R"SQL(
SELECT p.pid::text AS pid, p.datname, COALESCE(n.nspname, '') AS schemaname, COALESCE(c.relname, '') AS relname,
       p.phase, p.heap_blks_total, p.heap_blks_scanned, p.heap_blks_vacuumed, p.index_vacuum_count,
       )SQL" +
         version_columns + R"SQL(,
       CASE WHEN p.heap_blks_total > 0 AND p.phase = 'scanning heap' THEN p.heap_blks_scanned::float8 / p.heap_blks_total
            WHEN p.heap_blks_total > 0 AND p.phase = 'vacuuming heap' THEN p.heap_blks_vacuumed::float8 / p.heap_blks_total
       END AS ratio
FROM pg_stat_progress_vacuum p
LEFT JOIN pg_class c ON c.oid = p.relid
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE p.datname = current_database()
)SQL";
}

const VersionedSql kVacuumProgress({
    {150000, vacuum_progress_query(
                 "p.max_dead_tuples, p.num_dead_tuples, NULL::bigint AS max_dead_tuple_bytes, "
                 "NULL::bigint AS dead_tuple_bytes, NULL::bigint AS indexes_total, "
                 "NULL::bigint AS indexes_processed")},
    {170000,
     vacuum_progress_query(
         "NULL::bigint AS max_dead_tuples, p.num_dead_item_ids AS num_dead_tuples, "
         "p.max_dead_tuple_bytes, p.dead_tuple_bytes, p.indexes_total, p.indexes_processed")},
});

constexpr std::array<MetricSpec, 11> kVacuumMetrics{{
    {"pg_progress_vacuum_ratio", kGauge, "ratio",
     "Progress of the running VACUUM within its phase: heap blocks scanned (scanning heap) or "
     "vacuumed (vacuuming heap) / heap_blks_total."},
    {"pg_progress_vacuum_heap_blocks", kGauge, "heap_blks_total",
     "Heap blocks of the table being vacuumed."},
    {"pg_progress_vacuum_heap_blocks_scanned", kGauge, "heap_blks_scanned",
     "Heap blocks scanned so far."},
    {"pg_progress_vacuum_heap_blocks_vacuumed", kGauge, "heap_blks_vacuumed",
     "Heap blocks vacuumed so far."},
    {"pg_progress_vacuum_index_vacuum_cycles", kGauge, "index_vacuum_count",
     "Completed index vacuum cycles."},
    {"pg_progress_vacuum_max_dead_tuples", kGauge, "max_dead_tuples",
     "Dead tuples that fit in maintenance_work_mem before an index vacuum cycle is needed "
     "(PostgreSQL 15 and 16)."},
    {"pg_progress_vacuum_dead_tuples", kGauge, "num_dead_tuples",
     "Dead tuples (dead item identifiers) collected since the last index vacuum cycle."},
    {"pg_progress_vacuum_max_dead_tuple_bytes", kGauge, "max_dead_tuple_bytes",
     "Bytes of dead tuple data that fit before an index vacuum cycle is needed, from "
     "maintenance_work_mem (PostgreSQL 17+)."},
    {"pg_progress_vacuum_dead_tuple_bytes", kGauge, "dead_tuple_bytes",
     "Bytes of dead tuple data collected since the last index vacuum cycle (PostgreSQL 17+)."},
    {"pg_progress_vacuum_indexes", kGauge, "indexes_total",
     "Indexes to process in the vacuuming indexes and cleaning up indexes phases (PostgreSQL "
     "17+)."},
    {"pg_progress_vacuum_indexes_processed", kGauge, "indexes_processed",
     "Indexes already processed in the current index phase (PostgreSQL 17+)."},
}};

constexpr std::array<const char*, 5> kVacuumLabels{"datname", "schemaname", "relname", "pid",
                                                   "phase"};

constexpr const char* kCreateIndexProgress = R"SQL(
SELECT p.pid::text AS pid, p.datname, COALESCE(n.nspname, '') AS schemaname, COALESCE(c.relname, '') AS relname,
       COALESCE(ic.relname, '') AS indexrelname, p.command, p.phase,
       p.lockers_total, p.lockers_done, p.blocks_total, p.blocks_done, p.tuples_total, p.tuples_done,
       p.partitions_total, p.partitions_done,
       CASE WHEN p.phase LIKE 'waiting for%' AND p.lockers_total > 0 THEN p.lockers_done::float8 / p.lockers_total
            WHEN p.tuples_total > 0 THEN p.tuples_done::float8 / p.tuples_total
            WHEN p.blocks_total > 0 THEN p.blocks_done::float8 / p.blocks_total
            WHEN p.phase LIKE 'waiting for%' THEN 0
       END AS ratio
FROM pg_stat_progress_create_index p
LEFT JOIN pg_class c ON c.oid = p.relid
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class ic ON ic.oid = p.index_relid
WHERE p.datname = current_database()
)SQL";

constexpr std::array<MetricSpec, 9> kCreateIndexMetrics{{
    {"pg_progress_create_index_ratio", kGauge, "ratio",
     "Progress of the running CREATE INDEX / REINDEX within its phase (lockers waited for, tuples "
     "or blocks done / total)."},
    {"pg_progress_create_index_lockers", kGauge, "lockers_total",
     "Transactions to wait for in the current waiting phase."},
    {"pg_progress_create_index_lockers_done", kGauge, "lockers_done",
     "Transactions already waited for."},
    {"pg_progress_create_index_blocks", kGauge, "blocks_total",
     "Blocks to process in the current phase."},
    {"pg_progress_create_index_blocks_done", kGauge, "blocks_done",
     "Blocks processed in the current phase."},
    {"pg_progress_create_index_tuples", kGauge, "tuples_total",
     "Tuples to process in the current phase."},
    {"pg_progress_create_index_tuples_done", kGauge, "tuples_done",
     "Tuples processed in the current phase."},
    {"pg_progress_create_index_partitions", kGauge, "partitions_total",
     "Partitions to process (partitioned tables)."},
    {"pg_progress_create_index_partitions_done", kGauge, "partitions_done",
     "Partitions processed."},
}};

constexpr std::array<const char*, 7> kCreateIndexLabels{
    "datname", "schemaname", "relname", "indexrelname", "pid", "command", "phase"};

}  // namespace

CollectorCode maintenance_code() {
  return {.make = rows_collector({
              {.sql = kTables,
               .metrics = kTableMetrics,
               .labels = kTableLabels,
               .relations = Relations::unlocked},
              {.sql = kVacuumProgress, .metrics = kVacuumMetrics, .labels = kVacuumLabels},
              {.sql = kCreateIndexProgress,
               .metrics = kCreateIndexMetrics,
               .labels = kCreateIndexLabels},
          })};
}

}  // namespace pge
