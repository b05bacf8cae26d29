#include "collectors/registry.h"

namespace pge {

// Each defined in collectors/NAME.cpp: the collector's options and factory.
CollectorCode server_code();
CollectorCode database_code();
CollectorCode tables_code();
CollectorCode indexes_code();
CollectorCode bloat_code();
CollectorCode maintenance_code();
CollectorCode write_amplification_code();
CollectorCode functions_code();
CollectorCode growth_code();
CollectorCode partitions_code();
CollectorCode matviews_code();
CollectorCode cron_jobs_code();
CollectorCode promoted_columns_code();
CollectorCode activity_code();
CollectorCode statements_code();
CollectorCode probes_code();
CollectorCode write_probe_code();
CollectorCode wal_code();
CollectorCode io_code();
CollectorCode stages_code();

// The collectors in --help order, with what config validation and --help need to know: their
// defaults (enabled, interval, statement timeout) and one line on what they export.
const std::vector<CollectorInfo>& collector_registry() {
  static const std::vector<CollectorInfo> registry{
      {.name = "server",
       .help = "Server version, start time, replication state and connection/vacuum settings.",
       .default_interval = Seconds{60},
       .code = server_code()},
      {.name = "database",
       .help = "pg_stat_database counters and the database size.",
       .default_interval = Seconds{15},
       .code = database_code()},
      {.name = "tables",
       .help = "pg_stat_user_tables, pg_statio_user_tables and table sizes.",
       .default_interval = Seconds{30},
       .default_timeout = Seconds{10},
       .code = tables_code()},
      {.name = "indexes",
       .help = "pg_stat_user_indexes, pg_statio_user_indexes, index sizes and validity.",
       .default_interval = Seconds{30},
       .default_timeout = Seconds{10},
       .code = indexes_code()},
      {.name = "bloat",
       .help =
           "Table, btree and GIN bloat: pg_stats estimate for all tables and btrees, pgstattuple "
           "exact figures for the largest in a time-budgeted rotation, a sampled rebuilt size "
           "for jsonb GIN indexes; GIN pending lists.",
       .default_interval = Seconds{300},
       .default_timeout = Seconds{30},
       .code = bloat_code()},
      {.name = "maintenance",
       .help = "Dead-tuple ratio, XID age, autovacuum thresholds per table; VACUUM and CREATE "
               "INDEX/REINDEX progress.",
       .default_interval = Seconds{30},
       .default_timeout = Seconds{10},
       .code = maintenance_code()},
      {.name = "write_amplification",
       .help = "Indexes per table by access method and their size against the table's; HOT-update "
               "ratio; estimated index entries written per row change.",
       .default_interval = Seconds{60},
       .default_timeout = Seconds{10},
       .code = write_amplification_code()},
      {.name = "functions",
       .help = "pg_stat_user_functions calls and times, track_functions, updated_at trigger "
               "consolidation (per table: missing and duplicate triggers; unused functions).",
       .default_interval = Seconds{60},
       .default_timeout = Seconds{10},
       .code = functions_code()},
      {.name = "growth",
       .help = "Rows and bytes per table (partitions rolled up) and the configured thresholds.",
       .default_interval = Seconds{300},
       .default_timeout = Seconds{10},
       .code = growth_code()},
      {.name = "partitions",
       .help = "Partitioned tables: partition count, runway, gaps, DEFAULT partition, invalid "
               "indexes, rolled-up statistics, pg_partman settings.",
       .default_interval = Seconds{60},
       .default_timeout = Seconds{10},
       .code = partitions_code()},
      {.name = "matviews",
       .help = "Materialized views: populated, size, last refresh time, duration, outcome and "
               "staleness (from the refresh log or pg_cron).",
       .default_interval = Seconds{60},
       .code = matviews_code()},
      {.name = "cron_jobs",
       .help =
           "pg_cron jobs (status, last success, failures, overdue against the schedule) and the "
           "retention job's run record.",
       .default_interval = Seconds{60},
       .code = cron_jobs_code()},
      {.name = "promoted_columns",
       .help = "JSONB keys promoted to columns: missing, mismatched and invalid rows, recent "
               "dual-write health, constraints and cutover readiness.",
       .default_interval = Seconds{60},
       .default_timeout = Seconds{300},
       .code = promoted_columns_code()},
      {.name = "activity",
       .help =
           "Connections by state, oldest transaction, longest query, lock waits, locks by mode.",
       .default_interval = Seconds{15},
       .code = activity_code()},
      {.name = "statements",
       .help = "Statement latency histograms, calls and rows by command and query class from "
               "pg_stat_statements (the interval is the sampling period).",
       .default_interval = Seconds{1},
       .code = statements_code()},
      {.name = "probes",
       .help = "Configured canary queries timed by the exporter (target.probe).",
       .default_interval = Seconds{15},
       .code = probes_code()},
      {.name = "write_probe",
       .help =
           "Opt-in INSERT+COMMIT latency probe on the exporter's own table (target.write_probe).",
       .default_interval = Seconds{15},
       .code = write_probe_code()},
      {.name = "wal",
       .help = "WAL activity and WAL write/sync time from pg_stat_wal.",
       .default_interval = Seconds{15},
       .code = wal_code()},
      {.name = "io",
       .help =
           "Checkpoints and the background writer (pg_stat_checkpointer, pg_stat_bgwriter), I/O "
           "by backend type (pg_stat_io, 16+).",
       .default_interval = Seconds{30},
       .code = io_code()},
      {.name = "stages",
       .help = "The configured Phase 3 stages ([[target.stage]]) with their start and end.",
       .default_interval = Seconds{300},
       .code = stages_code()},
  };
  return registry;
}

const CollectorInfo* find_collector(const std::string& name) {
  for (const auto& info : collector_registry()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

const std::vector<CollectorSchema>& known_collectors() {
  static const std::vector<CollectorSchema> known = [] {
    std::vector<CollectorSchema> out;
    for (const auto& info : collector_registry()) out.push_back(info.schema());
    return out;
  }();
  return known;
}

}  // namespace pge
