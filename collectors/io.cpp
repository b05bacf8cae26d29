// Checkpoints, the background writer and I/O by backend type (cluster-wide). A checkpoint flushes
// every dirty buffer and then fsyncs; while it runs, commits and reads compete with it for the
// disk, which is where write-latency spikes that no query explains come from.
//
// PostgreSQL 17 moved the checkpoint counters from pg_stat_bgwriter to pg_stat_checkpointer and
// the backends' own writes to pg_stat_io (16+). The metric names are postgres_exporter's
// stat_checkpointer ones, in base units, and mean the same on every version: on 15 they are read
// from pg_stat_bgwriter. Restartpoints (a standby's checkpoints) exist from 17 on; the backends'
// buffer writes in pg_stat_bgwriter up to 16.
#include <array>

#include "collectors/collector.h"

namespace pge {
namespace {

const VersionedSql kCheckpoints({
    {150000, R"SQL(
SELECT checkpoints_timed AS num_timed, checkpoints_req AS num_requested,
       NULL::bigint AS restartpoints_timed, NULL::bigint AS restartpoints_req, NULL::bigint AS restartpoints_done,
       checkpoint_write_time AS write_time, checkpoint_sync_time AS sync_time, buffers_checkpoint AS buffers_written,
       buffers_clean, maxwritten_clean, buffers_alloc, buffers_backend, buffers_backend_fsync
FROM pg_stat_bgwriter
)SQL"},
    {170000, R"SQL(
SELECT c.num_timed, c.num_requested, c.restartpoints_timed, c.restartpoints_req, c.restartpoints_done,
       c.write_time, c.sync_time, c.buffers_written,
       b.buffers_clean, b.maxwritten_clean, b.buffers_alloc,
       NULL::bigint AS buffers_backend, NULL::bigint AS buffers_backend_fsync
FROM pg_stat_checkpointer c, pg_stat_bgwriter b
)SQL"},
});

constexpr std::array<MetricSpec, 13> kCheckpointMetrics{{
    {"pg_stat_checkpointer_num_timed_total", kCounter, "num_timed",
     "Checkpoints started because checkpoint_timeout passed."},
    {"pg_stat_checkpointer_num_requested_total", kCounter, "num_requested",
     "Checkpoints requested (max_wal_size reached, CHECKPOINT, a backup, a restart)."},
    {"pg_stat_checkpointer_restartpoints_timed_total", kCounter, "restartpoints_timed",
     "Restartpoints (a standby's checkpoints) scheduled by timeout (PostgreSQL 17+)."},
    {"pg_stat_checkpointer_restartpoints_req_total", kCounter, "restartpoints_req",
     "Restartpoints requested (PostgreSQL 17+)."},
    {"pg_stat_checkpointer_restartpoints_done_total", kCounter, "restartpoints_done",
     "Restartpoints performed (PostgreSQL 17+)."},
    {"pg_stat_checkpointer_write_time_seconds_total", kCounter, "write_time",
     "Time checkpoints and restartpoints spent writing buffers to files.", 1e-3},
    {"pg_stat_checkpointer_sync_time_seconds_total", kCounter, "sync_time",
     "Time checkpoints and restartpoints spent syncing files to disk.", 1e-3},
    {"pg_stat_checkpointer_buffers_written_total", kCounter, "buffers_written",
     "Buffers written by checkpoints and restartpoints."},
    {"pg_stat_bgwriter_buffers_clean_total", kCounter, "buffers_clean",
     "Buffers written by the background writer."},
    {"pg_stat_bgwriter_maxwritten_clean_total", kCounter, "maxwritten_clean",
     "Times the background writer stopped a cleaning scan because it had written "
     "bgwriter_lru_maxpages buffers."},
    {"pg_stat_bgwriter_buffers_alloc_total", kCounter, "buffers_alloc", "Buffers allocated."},
    {"pg_stat_bgwriter_buffers_backend_total", kCounter, "buffers_backend",
     "Buffers written directly by backends, which had to evict a dirty buffer themselves (up to "
     "PostgreSQL 16; from 17 see pg_stat_io_writes_total)."},
    {"pg_stat_bgwriter_buffers_backend_fsync_total", kCounter, "buffers_backend_fsync",
     "Times a backend had to fsync a file itself (up to PostgreSQL 16; from 17 see "
     "pg_stat_io_fsyncs_total)."},
}};

// pg_stat_io exists from PostgreSQL 16 on. It leaves a column NULL where the operation cannot
// happen for that backend type, object and context; those series are left out rather than reported
// as 0.
const VersionedSql kIo({
    {0, ""},
    {160000, R"SQL(
SELECT backend_type, object, context, reads, read_time, writes, write_time, writebacks, writeback_time,
       extends, extend_time, hits, evictions, reuses, fsyncs, fsync_time
FROM pg_stat_io
)SQL"},
});

constexpr std::array<MetricSpec, 13> kIoMetrics{{
    {"pg_stat_io_reads_total", kCounter, "reads", "Read operations (of op_bytes, the block size)."},
    {"pg_stat_io_read_time_seconds_total", kCounter, "read_time",
     "Time in read operations (0 unless track_io_timing is on).", 1e-3},
    {"pg_stat_io_writes_total", kCounter, "writes", "Write operations."},
    {"pg_stat_io_write_time_seconds_total", kCounter, "write_time",
     "Time in write operations (0 unless track_io_timing is on).", 1e-3},
    {"pg_stat_io_writebacks_total", kCounter, "writebacks",
     "Requests to the kernel to write data out to storage."},
    {"pg_stat_io_writeback_time_seconds_total", kCounter, "writeback_time",
     "Time in writeback operations (0 unless track_io_timing is on).", 1e-3},
    {"pg_stat_io_extends_total", kCounter, "extends", "Relation extend operations."},
    {"pg_stat_io_extend_time_seconds_total", kCounter, "extend_time",
     "Time in extend operations (0 unless track_io_timing is on).", 1e-3},
    {"pg_stat_io_hits_total", kCounter, "hits",
     "Times a wanted block was found in shared buffers."},
    {"pg_stat_io_evictions_total", kCounter, "evictions",
     "Times a block was evicted from a buffer to make room for another."},
    {"pg_stat_io_reuses_total", kCounter, "reuses",
     "Times a buffer of a ring (bulk read, bulk write, vacuum) was reused."},
    {"pg_stat_io_fsyncs_total", kCounter, "fsyncs",
     "fsync calls (only those of the normal context)."},
    {"pg_stat_io_fsync_time_seconds_total", kCounter, "fsync_time",
     "Time in fsync calls (0 unless track_io_timing is on).", 1e-3},
}};

constexpr std::array<const char*, 3> kIoLabels{"backend_type", "object", "context"};

}  // namespace

CollectorCode io_code() {
  return {.make = rows_collector({
              {.sql = kCheckpoints, .metrics = kCheckpointMetrics},
              {.sql = kIo, .metrics = kIoMetrics, .labels = kIoLabels},
          })};
}

}  // namespace pge
