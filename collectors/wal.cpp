// WAL activity from pg_stat_wal (cluster-wide). Its write and sync times are where commit latency
// shows up, which pg_stat_statements cannot see; they stay 0 unless track_wal_io_timing is on,
// which is why that setting is exported next to them.
#include <array>

#include "collectors/collector.h"

namespace pge {
namespace {

const std::string kQuery = R"SQL(
SELECT wal_records, wal_fpi, wal_bytes, wal_buffers_full, wal_write, wal_sync, wal_write_time,
       wal_sync_time, (current_setting('track_wal_io_timing') = 'on')::int AS track_wal_io_timing
FROM pg_stat_wal
)SQL";

constexpr std::array<MetricSpec, 9> kMetrics{{
    {"pg_stat_wal_records_total", kCounter, "wal_records", "WAL records generated."},
    {"pg_stat_wal_fpi_total", kCounter, "wal_fpi", "WAL full page images generated."},
    {"pg_stat_wal_bytes_total", kCounter, "wal_bytes", "WAL generated in bytes."},
    {"pg_stat_wal_buffers_full_total", kCounter, "wal_buffers_full",
     "Times WAL data was written to disk because WAL buffers became full."},
    {"pg_stat_wal_write_total", kCounter, "wal_write",
     "Times WAL buffers were written out to disk via XLogWrite."},
    {"pg_stat_wal_sync_total", kCounter, "wal_sync",
     "Times WAL files were synced to disk via issue_xlog_fsync."},
    {"pg_stat_wal_write_time_seconds_total", kCounter, "wal_write_time",
     "Time spent writing WAL buffers to disk via XLogWrite (0 unless track_wal_io_timing is on).",
     1e-3},
    {"pg_stat_wal_sync_time_seconds_total", kCounter, "wal_sync_time",
     "Time spent syncing WAL files to disk via issue_xlog_fsync (0 unless track_wal_io_timing is "
     "on).",
     1e-3},
    {"pg_settings_track_wal_io_timing", kGauge, "track_wal_io_timing",
     "Whether track_wal_io_timing is on (1): without it the WAL time counters stay 0."},
}};

}  // namespace

CollectorCode wal_code() {
  return {.make = rows_collector({{.sql = kQuery, .metrics = kMetrics}})};
}

}  // namespace pge
