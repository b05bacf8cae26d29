// Per-index usage, I/O, size and health: pg_stat_user_indexes + pg_statio_user_indexes + pg_index.
// postgres_exporter has neither per-index scans nor an invalid-index check; an index left INVALID
// by a failed CREATE INDEX CONCURRENTLY is reported here with pg_index_valid 0.
#include <array>

#include "collectors/collector.h"

namespace pge {
namespace {

const std::string kQuery = std::string(R"SQL(
SELECT current_database() AS datname, s.schemaname, s.relname, s.indexrelname,
       s.idx_scan, s.idx_tup_read, s.idx_tup_fetch,
       io.idx_blks_read, io.idx_blks_hit,
       i.indisvalid AS valid, i.indisready AS ready, i.indisunique AS is_unique,
       i.indisprimary AS is_primary, (i.indpred IS NOT NULL) AS is_partial, am.amname,
       l.locked,
       CASE WHEN NOT l.locked AND $1::bool THEN pg_relation_size(s.indexrelid) END AS size_bytes
FROM pg_stat_user_indexes s
JOIN pg_index i ON i.indexrelid = s.indexrelid
JOIN pg_class c ON c.oid = s.indexrelid
JOIN pg_am am ON am.oid = c.relam
LEFT JOIN pg_statio_user_indexes io ON io.indexrelid = s.indexrelid
CROSS JOIN LATERAL (SELECT )SQL") +
                           exclusively_locked("s.indexrelid, s.relid") + R"SQL( AS locked) l
)SQL";

constexpr std::array<MetricSpec, 9> kMetrics{{
    {"pg_stat_user_indexes_idx_scan_total", kCounter, "idx_scan",
     "Index scans initiated on this index."},
    {"pg_stat_user_indexes_idx_tup_read_total", kCounter, "idx_tup_read",
     "Index entries returned by scans on this index."},
    {"pg_stat_user_indexes_idx_tup_fetch_total", kCounter, "idx_tup_fetch",
     "Live table rows fetched by simple index scans using this index."},
    {"pg_statio_user_indexes_idx_blocks_read_total", kCounter, "idx_blks_read",
     "Disk blocks read from this index."},
    {"pg_statio_user_indexes_idx_blocks_hit_total", kCounter, "idx_blks_hit",
     "Buffer hits in this index."},
    {"pg_stat_user_indexes_size_bytes", kGauge, "size_bytes",
     "Disk space used by this index: pg_relation_size."},
    {"pg_index_valid", kGauge, "valid",
     "Whether the index is valid for queries (0 after a failed CREATE INDEX CONCURRENTLY or "
     "REINDEX CONCURRENTLY)."},
    {"pg_index_ready", kGauge, "ready",
     "Whether the index is ready for inserts (0 while being built concurrently)."},
    {"pg_index_unique", kGauge, "is_unique", "Whether the index is unique."},
}};

constexpr MetricSpec kInfo{
    "pg_index_info", kGauge, kComputed,
    "Index properties as labels (access method, partial, primary, unique), constant 1."};

constexpr std::array<const char*, 4> kLabels{"datname", "schemaname", "relname", "indexrelname"};
constexpr std::array<const char*, 1> kSizeColumns{"size_bytes"};

class IndexesCollector final : public Collector {
 public:
  Snapshot collect(Session& session, CollectContext& ctx) override {
    const Rows rows = sizes_.query_selected(session, kQuery, ctx, kLabels, kSizeColumns);
    SnapshotBuilder out;
    emit_rows(out, rows, kMetrics, kLabels);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      Labels labels = row_labels(rows, r, kLabels);
      labels.emplace_back("access_method", rows.text(r, "amname"));
      labels.emplace_back("partial", rows.flag(r, "is_partial") ? "true" : "false");
      labels.emplace_back("primary", rows.flag(r, "is_primary") ? "true" : "false");
      labels.emplace_back("unique", rows.flag(r, "is_unique") ? "true" : "false");
      emit(out, kInfo, labels, 1);
    }
    return out.take(ctx.cut);
  }

 private:
  SizeCache sizes_;
};

}  // namespace

CollectorCode indexes_code() {
  return {.options = {kSizeIntervalOption}, .make = make_collector<IndexesCollector>};
}

}  // namespace pge
