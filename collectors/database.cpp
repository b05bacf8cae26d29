// pg_stat_database for the connected database, plus its size. Names follow postgres_exporter, with
// `_total` on counters (promtool requires it) and times converted to seconds.
#include <array>

#include "collectors/collector.h"

namespace pge {
namespace {

constexpr const char* kQuery = R"SQL(
SELECT s.datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit, tup_returned,
       tup_fetched, tup_inserted, tup_updated, tup_deleted, conflicts, temp_files, temp_bytes,
       deadlocks, blk_read_time, blk_write_time,
       extract(epoch FROM stats_reset) AS stats_reset,
       CASE WHEN $1::bool THEN pg_database_size(datid) END AS size_bytes,
       age(d.datfrozenxid) AS frozen_xid_age
FROM pg_stat_database s JOIN pg_database d ON d.oid = s.datid
WHERE s.datname = current_database()
)SQL";

constexpr std::array<MetricSpec, 19> kMetrics{{
    {"pg_stat_database_numbackends", kGauge, "numbackends",
     "Number of backends currently connected to this database."},
    {"pg_stat_database_xact_commit_total", kCounter, "xact_commit",
     "Transactions in this database that have been committed."},
    {"pg_stat_database_xact_rollback_total", kCounter, "xact_rollback",
     "Transactions in this database that have been rolled back."},
    {"pg_stat_database_blks_read_total", kCounter, "blks_read",
     "Disk blocks read in this database."},
    {"pg_stat_database_blks_hit_total", kCounter, "blks_hit",
     "Disk blocks found already in the buffer cache."},
    {"pg_stat_database_tup_returned_total", kCounter, "tup_returned",
     "Live rows fetched by sequential scans and index entries returned by index scans."},
    {"pg_stat_database_tup_fetched_total", kCounter, "tup_fetched",
     "Live rows fetched by index scans."},
    {"pg_stat_database_tup_inserted_total", kCounter, "tup_inserted",
     "Rows inserted by queries in this database."},
    {"pg_stat_database_tup_updated_total", kCounter, "tup_updated",
     "Rows updated by queries in this database."},
    {"pg_stat_database_tup_deleted_total", kCounter, "tup_deleted",
     "Rows deleted by queries in this database."},
    {"pg_stat_database_conflicts_total", kCounter, "conflicts",
     "Queries canceled due to conflicts with recovery (standbys only)."},
    {"pg_stat_database_temp_files_total", kCounter, "temp_files",
     "Temporary files created by queries."},
    {"pg_stat_database_temp_bytes_total", kCounter, "temp_bytes",
     "Data written to temporary files by queries, in bytes."},
    {"pg_stat_database_deadlocks_total", kCounter, "deadlocks",
     "Deadlocks detected in this database."},
    {"pg_stat_database_blk_read_time_seconds_total", kCounter, "blk_read_time",
     "Time spent reading data file blocks (needs track_io_timing).", 0.001},
    {"pg_stat_database_blk_write_time_seconds_total", kCounter, "blk_write_time",
     "Time spent writing data file blocks (needs track_io_timing).", 0.001},
    {"pg_stat_database_stats_reset_timestamp_seconds", kGauge, "stats_reset",
     "Time at which these statistics were last reset (Unix time)."},
    {"pg_database_size_bytes", kGauge, "size_bytes", "Disk space used by the database."},
    {"pg_database_frozen_xid_age", kGauge, "frozen_xid_age",
     "Age in transactions of the database's datfrozenxid (wraparound at 2^31)."},
}};

constexpr std::array<const char*, 1> kLabels{"datname"};
constexpr std::array<const char*, 1> kSizeColumns{"size_bytes"};

}  // namespace

// pg_database_size stats every file of the database (40,000 relations at 10,000 tables): it is read
// every size_interval.
CollectorCode database_code() {
  return {
      .options = {kSizeIntervalOption},
      .make = rows_collector(
          {{.sql = kQuery, .metrics = kMetrics, .labels = kLabels, .size_columns = kSizeColumns}})};
}

}  // namespace pge
