// Write amplification per table: how many indexes each row change has to maintain (by access
// method), their size against the table's, the HOT-update ratio, and the index entries written per
// row change. PostgreSQL 15 counts no writes per index, so the last one is derived:
//   (n_tup_ins + n_tup_upd - n_tup_hot_upd) * indexes / (n_tup_ins + n_tup_upd + n_tup_del)
// since the statistics reset, with today's index count (partial indexes counted as always written).
// Sizes open the relations (pg_relation_size), so relations under ACCESS EXCLUSIVE are left out.
#include <array>
#include <set>

#include "collectors/collector.h"

namespace pge {
namespace {

// One pass over pg_index (grouped per table) instead of three correlated sub-selects per table;
// each relation's size is read once, every `size_interval` (SizeCache).
const std::string kTables = std::string(R"SQL(
WITH idx AS (
  SELECT indrelid, count(*) AS indexes, array_agg(indexrelid) AS indexrelids
  FROM pg_index GROUP BY indrelid
), t AS (
  SELECT s.schemaname, s.relname, s.relid, s.n_tup_ins, s.n_tup_upd, s.n_tup_hot_upd, s.n_tup_del,
         COALESCE(idx.indexes, 0) AS indexes, COALESCE(idx.indexrelids, '{}') AS indexrelids,
         (s.relid || COALESCE(idx.indexrelids, '{}')) && )SQL") +
                            exclusive_lock_list() + R"SQL( AS locked
  FROM pg_stat_user_tables s
  JOIN pg_class c ON c.oid = s.relid
  LEFT JOIN idx ON idx.indrelid = s.relid
  WHERE c.relkind IN ('r', 'm')
), sized AS (
  SELECT t.*,
         CASE WHEN NOT locked AND $1::bool
              THEN (SELECT COALESCE(sum(pg_relation_size(x)), 0) FROM unnest(indexrelids) x) END AS index_bytes,
         CASE WHEN NOT locked AND $1::bool THEN pg_relation_size(relid) END AS table_bytes
  FROM t
)
SELECT current_database() AS datname, schemaname, relname, locked,
       CASE WHEN n_tup_upd > 0 THEN n_tup_hot_upd::float8 / n_tup_upd END AS hot_ratio,
       CASE WHEN n_tup_ins + n_tup_upd + n_tup_del > 0
            THEN (n_tup_ins + n_tup_upd - n_tup_hot_upd)::float8 * indexes / (n_tup_ins + n_tup_upd + n_tup_del)
       END AS writes_per_row_change,
       index_bytes,
       CASE WHEN table_bytes > 0 THEN index_bytes::float8 / table_bytes END AS index_table_ratio
FROM sized
)SQL";

constexpr std::array<MetricSpec, 4> kTableMetrics{{
    {"pg_table_hot_update_ratio", kGauge, "hot_ratio",
     "n_tup_hot_upd / n_tup_upd since the statistics reset: updates that wrote no index entry."},
    {"pg_table_index_writes_per_row_change", kGauge, "writes_per_row_change",
     "Estimated index entries written per row change since the statistics reset: (inserts + "
     "non-HOT updates) * indexes / (inserts + updates + deletes). PG 15 has no per-index write "
     "counters."},
    {"pg_table_indexes_size_bytes", kGauge, "index_bytes",
     "Total size of the table's indexes (pg_relation_size of each)."},
    {"pg_table_indexes_size_ratio", kGauge, "index_table_ratio",
     "Total size of the table's indexes divided by the size of its main fork."},
}};

constexpr std::array<const char*, 2> kSizeColumns{"index_bytes", "index_table_ratio"};

constexpr const char* kByAccessMethod = R"SQL(
SELECT current_database() AS datname, n.nspname AS schemaname, t.relname, am.amname AS access_method,
       count(*) AS indexes
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
WHERE t.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_toast'
GROUP BY 1, 2, 3, 4
)SQL";

constexpr std::array<MetricSpec, 1> kAccessMethodMetrics{{
    {"pg_table_indexes", kGauge, "indexes",
     "Indexes on the table by access method (each is written on insert and non-HOT update)."},
}};

constexpr std::array<const char*, 4> kAccessMethodLabels{"datname", "schemaname", "relname",
                                                         "access_method"};

class WriteAmplificationCollector final : public Collector {
 public:
  Snapshot collect(Session& session, CollectContext& ctx) override {
    SnapshotBuilder out;
    const Value read_sizes = sql_bool(sizes_.due(ctx));
    const Rows all = sizes_.apply(session.query(kTables, {read_sizes}), kTableLabels, kSizeColumns);
    std::set<std::string> locked;
    const Rows tables = all.filter([&](std::size_t r) {
      if (!ctx.target.selects(all.text(r, "schemaname"), all.text(r, "relname"))) return false;
      if (all.flag(r, "locked"))
        locked.insert(all.text(r, "relname") + "." + all.text(r, "schemaname"));
      return !all.flag(r, "locked");
    });
    ctx.lock_skips += static_cast<int>(locked.size());
    emit_rows(out, tables, kTableMetrics, kTableLabels);
    const Rows by_am = session.query(kByAccessMethod);
    emit_rows(out, by_am.filter([&](std::size_t r) {
      return ctx.target.selects(by_am.text(r, "schemaname"), by_am.text(r, "relname")) &&
             !locked.count(by_am.text(r, "relname") + "." + by_am.text(r, "schemaname"));
    }),
              kAccessMethodMetrics, kAccessMethodLabels);
    return out.take(ctx.cut);
  }

 private:
  SizeCache sizes_;
};

}  // namespace

CollectorCode write_amplification_code() {
  return {.options = {kSizeIntervalOption}, .make = make_collector<WriteAmplificationCollector>};
}

}  // namespace pge
