// Table and index bloat, three ways, told apart by the `method` label.
//   estimate: every table and btree index, from catalog sizes (relpages, reltuples) and pg_stats
//             column widths; no relation is read, so it costs a catalog query. It is as fresh as
//             the last ANALYZE and counts dead index entries not yet vacuumed as bloat.
//   exact:    pgstattuple_approx (tables) and pgstatindex (btree) on the largest relations, a few
//             per cycle: the pass stops when its time budget is spent and the next cycle resumes
//             the rotation where this one stopped. Figures of relations not visited this cycle are
//             the ones from their last visit.
//   sample:   GIN indexes on jsonb (jsonb_ops, jsonb_path_ops). PostgreSQL has no function that
//             measures GIN free space (pgstattuple and pgstatindex reject GIN, pgstatginindex
//             reports the pending list only), so the size a rebuild would give is computed from a
//             sample of the indexed values: the keys the opclass extracts, one entry per distinct
//             key with its compressed posting list, on entry pages that a build leaves half full.
// Bloat = space a rebuild would give back: for a table, dead tuples plus free space beyond its
// fillfactor reserve; for a btree, leaf space beyond the fillfactor target plus empty and deleted
// pages; for a GIN, its size beyond the rebuilt size (pending list included). docs/storage.md.
// Tables the role may not read have no visible pg_stats: no estimate, counted as skipped
// (insufficient_privilege); the exact pass still measures them (pg_stat_scan_tables).

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "collectors/collector.h"
#include "core/log.h"

namespace pge {
namespace {

constexpr MetricSpec kTableRatio{"pg_table_bloat_ratio", kGauge, kComputed,
                                 "Share of the table's main fork that is bloat (dead tuples and "
                                 "free space beyond the fillfactor reserve), 0..1."};
constexpr MetricSpec kTableBytes{"pg_table_bloat_bytes", kGauge, kComputed,
                                 "Bytes of the table's main fork that are bloat (dead tuples and "
                                 "free space beyond the fillfactor reserve)."};
constexpr MetricSpec kIndexRatio{"pg_index_bloat_ratio", kGauge, kComputed,
                                 "Share of the index that a rebuild would give back (btree: leaf "
                                 "space beyond the fillfactor target, empty and deleted pages; "
                                 "GIN: size beyond the rebuilt size), 0..1."};
constexpr MetricSpec kIndexBytes{"pg_index_bloat_bytes", kGauge, kComputed,
                                 "Bytes of the index that a rebuild would give back (btree: leaf "
                                 "space beyond the fillfactor target, empty and deleted pages; "
                                 "GIN: size beyond the rebuilt size)."};
constexpr MetricSpec kIndexTableRatio{
    "pg_index_bloat_table_ratio", kGauge, kComputed,
    "Index bloat bytes divided by the size of its table's main fork (the seed alerts above 0.3)."};
constexpr MetricSpec kGinPendingPages{"pg_gin_index_pending_pages", kGauge, kComputed,
                                      "Pages in the GIN index's pending list (pgstatginindex)."};
constexpr MetricSpec kGinPendingTuples{"pg_gin_index_pending_tuples", kGauge, kComputed,
                                       "Tuples in the GIN index's pending list (pgstatginindex)."};
constexpr MetricSpec kPassDuration{
    "pg_bloat_exact_pass_duration_seconds", kGauge, kComputed,
    "Wall time of this cycle's exact bloat pass (kept within the collector's budget)."};
constexpr MetricSpec kPassMeasured{
    "pg_bloat_exact_pass_relations", kGauge, kComputed,
    "Relations measured with pgstattuple_approx/pgstatindex in this cycle's exact pass."};
constexpr MetricSpec kCandidateCount{
    "pg_bloat_exact_candidates", kGauge, kComputed,
    "Relations in the exact rotation (the largest tables and btree indexes, up to max_relations)."};
constexpr MetricSpec kAvailable{"pg_bloat_exact_available", kGauge, kComputed,
                                "1 when the pgstattuple extension is installed and callable, so "
                                "exact figures exist; 0 otherwise."};

const OptionSpec kBudget{
    .name = "budget",
    .help = "Seconds of exact measurement (pgstattuple_approx, pgstatindex) per cycle.",
    .default_value = 2.0};
const OptionSpec kMaxRelations{
    .name = "max_relations",
    .help = "How many of the largest tables and btree indexes the exact rotation covers.",
    .default_value = 100.0};
const OptionSpec kGinSampleRows{
    .name = "gin_sample_rows",
    .help =
        "Rows of the table read (TABLESAMPLE) to estimate the rebuilt size of a jsonb GIN index.",
    .default_value = 10000.0};

// Locked relations are flagged rather than filtered in SQL so that each one is counted as a skip.

const std::string kTableEstimate = R"SQL(
WITH cols AS (
  SELECT s.schemaname, s.tablename, sum((1 - s.null_frac) * s.avg_width) AS datawidth,
         bool_or(s.null_frac > 0) AS has_nulls
  FROM pg_stats s WHERE NOT s.inherited GROUP BY s.schemaname, s.tablename
),
t AS (
  SELECT n.nspname AS schemaname, c.relname, c.oid AS relid, c.relpages, c.reltuples,
         -- heap tuple header (23 bytes + null bitmap) and data each padded to MAXALIGN, a line pointer
         ceil((23 + CASE WHEN cols.has_nulls THEN ceil(c.relnatts / 8.0) ELSE 0 END) / 8.0) * 8
           + ceil(cols.datawidth / 8.0) * 8 + 4 AS tuple_bytes,
         COALESCE((SELECT o.option_value::numeric FROM pg_options_to_table(c.reloptions) o
                   WHERE o.option_name = 'fillfactor'), 100) AS fillfactor,
         current_setting('block_size')::numeric AS bs
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN cols ON cols.schemaname = n.nspname AND cols.tablename = c.relname
  WHERE c.relkind IN ('r', 'm') AND c.reltuples >= 0 AND c.relpages > 0
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
)
SELECT current_database() AS datname, schemaname, relname, relid::text AS relid,
       )SQL" + exclusively_locked("relid") +
                                   R"SQL( AS locked,
       relpages * bs AS size_bytes,
       greatest(relpages - ceil(reltuples * tuple_bytes / ((bs - 24) * fillfactor / 100)), 0) * bs AS bloat_bytes
FROM t
)SQL";

const std::string kIndexEstimate = R"SQL(
WITH idx AS (
  SELECT n.nspname AS schemaname, t.relname, ic.relname AS indexrelname, i.indexrelid, i.indrelid,
         ic.relpages, ic.reltuples, t.relpages AS table_pages, i.indkey::int2[] AS keys,
         COALESCE((SELECT o.option_value::numeric FROM pg_options_to_table(ic.reloptions) o
                   WHERE o.option_name = 'fillfactor'), 90) AS fillfactor
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
  WHERE t.relkind IN ('r', 'm') AND ic.relpages > 1 AND ic.reltuples >= 0
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
),
widths AS (
  -- Expression columns have their statistics under the index's own name.
  SELECT idx.indexrelid, sum((1 - s.null_frac) * s.avg_width) AS datawidth,
         bool_or(s.null_frac > 0) AS has_nulls, count(s.attname) = count(*) AS complete
  FROM idx
  CROSS JOIN LATERAL unnest(idx.keys) WITH ORDINALITY AS k(attnum, pos)
  JOIN pg_attribute a ON a.attrelid = CASE WHEN k.attnum = 0 THEN idx.indexrelid ELSE idx.indrelid END
                     AND a.attnum = CASE WHEN k.attnum = 0 THEN k.pos ELSE k.attnum END
  LEFT JOIN pg_stats s ON s.schemaname = idx.schemaname AND NOT s.inherited AND s.attname = a.attname
                      AND s.tablename = CASE WHEN k.attnum = 0 THEN idx.indexrelname ELSE idx.relname END
  GROUP BY idx.indexrelid
),
est AS (
  SELECT idx.*, current_setting('block_size')::numeric AS bs,
         -- leaf tuple: 8-byte header (+ null bitmap) and data padded to MAXALIGN, plus a line pointer
         ceil((CASE WHEN w.has_nulls THEN 12 ELSE 8 END + w.datawidth) / 8.0) * 8 + 4 AS tuple_bytes
  FROM idx JOIN widths w ON w.indexrelid = idx.indexrelid AND w.complete
)
SELECT current_database() AS datname, schemaname, relname, indexrelname, indexrelid::text AS relid,
       )SQL" + exclusively_locked("indexrelid, indrelid") +
                                   R"SQL( AS locked,
       relpages * bs AS size_bytes, table_pages * bs AS table_bytes,
       -- the metapage besides the leaf pages; 24-byte page header and 16-byte btree special space
       greatest(relpages - 1 - ceil(reltuples * tuple_bytes / ((bs - 40) * fillfactor / 100)), 0) * bs AS bloat_bytes
FROM est
)SQL";

// Tables whose pg_stats rows the role may not see (pg_stats shows only columns it may SELECT): the
// estimate cannot size their tuples, so they are counted as skipped rather than silently missing.
constexpr const char* kUnreadable = R"SQL(
SELECT n.nspname AS schemaname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND c.relpages > 0
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
  AND NOT has_any_column_privilege(c.oid, 'SELECT')
)SQL";

constexpr const char* kExtensionSchema =
    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
    " WHERE e.extname = 'pgstattuple'";

// The largest tables and btree indexes: the exact pass visits them in this order.
const std::string kCandidates = R"SQL(
SELECT current_database() AS datname, n.nspname AS schemaname, t.relname,
       CASE WHEN c.oid = t.oid THEN '' ELSE c.relname END AS indexrelname,
       c.oid::text AS relid, c.relkind = 'i' AS is_index,
       )SQL" + exclusively_locked("c.oid, t.oid") +
                                R"SQL( AS locked,
       COALESCE((SELECT o.option_value::numeric FROM pg_options_to_table(c.reloptions) o
                 WHERE o.option_name = 'fillfactor'), CASE WHEN c.relkind = 'i' THEN 90 ELSE 100 END) AS fillfactor,
       t.relpages::numeric * current_setting('block_size')::numeric AS table_bytes,
       current_setting('block_size')::numeric AS bs
FROM pg_class c
LEFT JOIN pg_index i ON i.indexrelid = c.oid
JOIN pg_class t ON t.oid = COALESCE(i.indrelid, c.oid)
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
  AND t.relkind IN ('r', 'm') AND c.relpages > 0
  AND (c.relkind IN ('r', 'm') OR c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree'))
ORDER BY c.relpages DESC, c.oid
LIMIT $1
)SQL";

// GIN indexes, with what the sample estimate needs: the key column or expression and the
// predicate as the catalog deparses them (identifiers quoted), and the opclass. The estimate covers
// one-column jsonb indexes (`covered`) on tables the role may read (`readable`). The deparsers take
// a lock on the table, so they run only for the relations no one holds exclusively.
const std::string kGinIndexes = R"SQL(
SELECT g.*,
       CASE WHEN NOT g.locked THEN pg_get_indexdef(g.indexrelid, 1, true) END AS key_expr,
       CASE WHEN NOT g.locked THEN pg_get_expr(g.indpred, g.indrelid) END AS predicate
FROM (
  SELECT current_database() AS datname, n.nspname AS schemaname, t.relname, c.relname AS indexrelname,
         c.oid::text AS relid, c.oid AS indexrelid, i.indrelid, i.indpred, )SQL" +
                                exclusively_locked("c.oid, t.oid") +
                                R"SQL( AS locked,
         format('%I.%I', n.nspname, t.relname) AS qualified_table,
         opc.opcname = 'jsonb_path_ops' AS path_ops,
         opc.opcname IN ('jsonb_ops', 'jsonb_path_ops') AND i.indnkeyatts = 1 AS covered,
         has_table_privilege(t.oid, 'SELECT') AS readable,
         c.relpages::numeric * current_setting('block_size')::numeric AS size_bytes,
         t.relpages::numeric * current_setting('block_size')::numeric AS table_bytes,
         t.relpages AS table_pages, t.reltuples, current_setting('block_size')::numeric AS bs
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_opclass opc ON opc.oid = i.indclass[0]
  WHERE c.relam = (SELECT oid FROM pg_am WHERE amname = 'gin') AND t.relkind IN ('r', 'm')
  OFFSET 0
) g
)SQL";

// Pages of the GIN index a rebuild would write, from a TABLESAMPLE of its table ($1 percent; $2
// jsonb_path_ops; $3 the table's pages, which spread the heap TIDs that posting lists
// delta-encode). The keys are those the opclass extracts: jsonb_ops every object key and every
// scalar (strings over 125 bytes hashed), jsonb_path_ops a 4-byte hash per path-and-scalar. A key
// seen once in the sample stands for 100 / $1 keys of the table, each in one row (unique values
// such as ids); a key seen f times is one entry with f * 100 / $1 TIDs. An entry tuple is an 8-byte
// header, the key and its posting list (a 6-byte first TID, 2 bytes of length, a varbyte delta per
// further TID); a list over GinMaxItemSize (2712 bytes) moves to a posting tree of full pages.
// Entry pages: a build splits them in half, so they end half full (measured: rebuilt sizes within
// 6% of this figure, tests/integration/storage_test.cpp).
std::string gin_rebuilt_pages_sql(const std::string& table, const std::string& key_expr,
                                  const std::string& predicate) {
  return R"SQL(
WITH s AS (
  SELECT ()SQL" +
         key_expr + R"SQL() AS v FROM )SQL" + table + R"SQL( TABLESAMPLE SYSTEM ($1::float4)
  )SQL" + (predicate.empty() ? "" : "WHERE " + predicate) +
         R"SQL(
),
items AS (  -- the distinct keys of each sampled row, hashed to keep the aggregate small
  SELECT k.key, k.keylen FROM s CROSS JOIN LATERAL (
    WITH RECURSIVE w(path, j) AS (
      SELECT ''::text, s.v
      UNION ALL
      SELECT CASE WHEN e.key IS NULL THEN w.path ELSE w.path || chr(1) || e.key END, e.value
      FROM w CROSS JOIN LATERAL (
        SELECT key, value FROM jsonb_each(CASE WHEN jsonb_typeof(w.j) = 'object' THEN w.j END)
        UNION ALL
        SELECT NULL, value FROM jsonb_array_elements(CASE WHEN jsonb_typeof(w.j) = 'array' THEN w.j END)) e
    )
    SELECT DISTINCT hashtextextended(key, 0) AS key, keylen FROM (
      SELECT CASE WHEN $2 THEN path || chr(2) ELSE 'V' END || jsonb_typeof(j) || (j #>> '{}') AS key,
             CASE WHEN $2 THEN 4 ELSE 2 + least(octet_length(j #>> '{}'), 125) END AS keylen
      FROM w WHERE jsonb_typeof(j) NOT IN ('object', 'array')
      UNION ALL
      SELECT 'K' || k, 2 + least(octet_length(k), 125)
      FROM w, substr(w.path, length(w.path) - strpos(reverse(w.path), chr(1)) + 2) AS k
      WHERE NOT $2 AND strpos(w.path, chr(1)) > 0
    ) x
  ) k
  WHERE s.v IS NOT NULL
),
keys AS (
  SELECT keylen, CASE WHEN f = 1 THEN 100.0::float8 / $1 ELSE 1 END AS entries,
         CASE WHEN f = 1 THEN 1 ELSE f * 100.0::float8 / $1 END AS tids
  FROM (SELECT max(keylen) AS keylen, count(*) AS f FROM items GROUP BY key) k
),
sized AS (
  SELECT entries, keylen,
         (tids - 1) * greatest(1, ceil(ln(greatest($3, 1) * 2048.0 / tids + 1) / ln(2.0::float8) / 7))
           AS varbytes
  FROM keys
)
SELECT 1 + ceil(COALESCE(sum(entries * (ceil((16 + keylen + CASE WHEN 16 + keylen + varbytes > 2712
                                                             THEN 0 ELSE varbytes END) / 8.0) * 8 + 4)), 0)
                / (8160 * 0.5))
         + COALESCE(sum(CASE WHEN 16 + keylen + varbytes > 2712 THEN entries * ceil(varbytes / 8150.0) ELSE 0 END), 0)
         AS rebuilt_pages
FROM sized
)SQL";
}

Labels labels_of(const Rows& rows, std::size_t r, bool index) {
  Labels labels{{"datname", rows.text(r, "datname")},
                {"schemaname", rows.text(r, "schemaname")},
                {"relname", rows.text(r, "relname")}};
  if (index) labels.emplace_back("indexrelname", rows.text(r, "indexrelname"));
  return labels;
}

Labels with(Labels labels, const char* key, const std::string& value) {
  labels.emplace_back(key, value);
  return labels;
}

// One relation's bloat by one method.
struct Bloat {
  Labels labels;  // without `method`
  bool index = false;
  double size_bytes = 0;
  double bloat_bytes = 0;
  double table_bytes = 0;  // indexes: the table's main fork
};

void emit_bloat(SnapshotBuilder& out, const Bloat& b, const std::string& method) {
  const Labels labels = with(b.labels, "method", method);
  if (b.size_bytes > 0)
    emit(out, b.index ? kIndexRatio : kTableRatio, labels, b.bloat_bytes / b.size_bytes);
  emit(out, b.index ? kIndexBytes : kTableBytes, labels, b.bloat_bytes);
  if (b.index && b.table_bytes > 0)
    emit(out, kIndexTableRatio, labels, b.bloat_bytes / b.table_bytes);
}

// Table: dead tuples and free space, less what the fillfactor keeps free on purpose.
Bloat exact_table(const Rows& m, const Rows& cand, std::size_t r, double fillfactor) {
  const double len = m.number(0, "table_len").value_or(0);
  const double waste =
      m.number(0, "dead_tuple_len").value_or(0) + m.number(0, "approx_free_space").value_or(0);
  return {labels_of(cand, r, false), false, len,
          std::max(0.0, waste - len * (1 - fillfactor / 100)), 0};
}

// Btree: leaf space short of the fillfactor target, plus pages that hold nothing.
Bloat exact_index(const Rows& m, const Rows& cand, std::size_t r, double fillfactor, double bs) {
  const double leaf = m.number(0, "leaf_pages").value_or(0);
  const double density = m.number(0, "avg_leaf_density").value_or(fillfactor);
  const double leaf_waste = leaf > 0 && std::isfinite(density)
                                ? std::max(0.0, leaf * bs * (1 - density / fillfactor))
                                : 0;
  const double empty =
      m.number(0, "empty_pages").value_or(0) + m.number(0, "deleted_pages").value_or(0);
  return {labels_of(cand, r, true), true, m.number(0, "index_size").value_or(0),
          leaf_waste + empty * bs, cand.number(r, "table_bytes").value_or(0)};
}

// Floor of the statement_timeout a measurement gets: the savepoint around it (SAVEPOINT, RELEASE or
// ROLLBACK TO) runs under the same timeout, and a cancelled savepoint command aborts the whole
// collector transaction. 50 ms was seen to be too little for a backend that waits for a CPU on a
// loaded 2-core host. So a pass may overrun its budget by at most this much.
constexpr long kMinStatementMs = 250;

class BloatCollector final : public Collector {
 public:
  Snapshot collect(Session& session, CollectContext& ctx) override {
    SnapshotBuilder out;
    declare(out, {kTableRatio, kTableBytes, kIndexRatio, kIndexBytes, kIndexTableRatio});
    locked_.clear();
    emit_estimates(out, session.query(kTableEstimate), ctx, false);
    emit_estimates(out, session.query(kIndexEstimate), ctx, true);
    for (std::size_t r = 0, n = selected_rows(session.query(kUnreadable), ctx.target).size(); r < n;
         ++r) {
      ctx.skip(kSkipPrivilege);
    }
    const Rows gin = gin_indexes(session, ctx);
    gin_sample(out, session, ctx, gin);
    const Rows ext = session.query(kExtensionSchema);
    emit(out, kAvailable, {}, ext.empty() ? 0 : 1);
    if (ext.empty()) {
      warn_once(
          "pgstattuple is not installed in this database: exact bloat and GIN pending lists are "
          "not collected (the estimate still is)");
    } else {
      const std::string schema = quote_ident(ext.text(0, "nspname"));
      exact_pass(out, session, ctx, schema);
      gin_pending(out, session, gin, schema);
    }
    ctx.lock_skips += static_cast<int>(locked_.size());
    return out.take();
  }

 private:
  bool skip_locked(const Rows& rows, std::size_t r) {
    if (!rows.flag(r, "locked")) return false;
    locked_.insert(rows.text(r, "relid"));
    return true;
  }

  void emit_estimates(SnapshotBuilder& out, const Rows& rows, CollectContext& ctx, bool index) {
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if (!ctx.target.selects(rows.text(r, "schemaname"), rows.text(r, "relname"))) continue;
      if (skip_locked(rows, r)) continue;
      emit_bloat(out,
                 {labels_of(rows, r, index), index, rows.number(r, "size_bytes").value_or(0),
                  rows.number(r, "bloat_bytes").value_or(0),
                  index ? rows.number(r, "table_bytes").value_or(0) : 0},
                 "estimate");
    }
  }

  // Measures unvisited candidates, largest first, until the budget is spent. Each statement runs
  // under a statement_timeout equal to the budget left, so one large relation cannot overrun it.
  void exact_pass(SnapshotBuilder& out, Session& session, CollectContext& ctx,
                  const std::string& schema) {
    const double budget = number_option(ctx, kBudget);
    const Rows all = session.query(
        kCandidates, {std::to_string(static_cast<long>(number_option(ctx, kMaxRelations)))});
    const Rows cand = selected_rows(all, ctx.target);
    forget_vanished(cand);
    const std::string saved_timeout =
        session.query("SELECT current_setting('statement_timeout') AS t").text(0, "t");
    const auto started = std::chrono::steady_clock::now();
    auto elapsed = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    };
    int measured = 0, attempted = 0;
    for (std::size_t r = 0; r < cand.size() && elapsed() < budget; ++r) {
      const std::string relid = cand.text(r, "relid");
      if (visited_.count(relid)) continue;
      visited_.insert(relid);
      if (skip_locked(cand, r)) continue;
      const long left_ms = std::max(kMinStatementMs, std::lround((budget - elapsed()) * 1000));
      session.query("SELECT set_config('statement_timeout', $1, true)", {std::to_string(left_ms)});
      const Outcome outcome = measure(session, cand, r, schema);
      measured += outcome == Outcome::kMeasured ? 1 : 0;
      // Cut short by what earlier relations used: it starts the next pass with the whole budget.
      // A relation that does not fit in a whole budget is left for the next round.
      if (outcome == Outcome::kOutOfTime && attempted > 0) visited_.erase(relid);
      ++attempted;
    }
    session.query("SELECT set_config('statement_timeout', $1, true)", {saved_timeout});
    if (visited_.size() == cand.size()) {
      visited_.clear();  // the rotation is complete: the next cycle starts again from the largest
    }
    emit(out, kPassDuration, {}, elapsed());
    emit(out, kPassMeasured, {}, measured);
    emit(out, kCandidateCount, {}, static_cast<double>(cand.size()));
    for (const auto& [relid, b] : exact_) emit_bloat(out, b, "exact");
  }

  enum class Outcome { kMeasured, kOutOfTime, kFailed };

  Outcome measure(Session& session, const Rows& cand, std::size_t r, const std::string& schema) {
    const bool index = cand.flag(r, "is_index");
    const double fillfactor = cand.number(r, "fillfactor").value_or(index ? 90 : 100);
    const std::string relid = cand.text(r, "relid");
    const std::string sql =
        index ? "SELECT * FROM " + schema + ".pgstatindex($1::oid::regclass)"
              : "SELECT * FROM " + schema + ".pgstattuple_approx($1::oid::regclass)";
    std::string error;
    const auto m = session.try_query(sql, &error, {relid});
    if (!m || m->empty()) {
      // A lock taken since the candidate query (lock_timeout), the budget running out
      // (statement_timeout), or the relation dropped meanwhile.
      log::debug("exact bloat skipped", {{"relid", relid}, {"err", error}});
      if (error.find("lock timeout") != std::string::npos) locked_.insert(relid);
      return error.find("statement timeout") != std::string::npos ? Outcome::kOutOfTime
                                                                  : Outcome::kFailed;
    }
    exact_[relid] = index
                        ? exact_index(*m, cand, r, fillfactor, cand.number(r, "bs").value_or(8192))
                        : exact_table(*m, cand, r, fillfactor);
    return Outcome::kMeasured;
  }

  // The selected GIN indexes not behind another session's exclusive lock.
  Rows gin_indexes(Session& session, CollectContext& ctx) {
    const Rows rows = selected_rows(session.query(kGinIndexes), ctx.target);
    return rows.filter([&](std::size_t r) { return !skip_locked(rows, r); });
  }

  // The sample estimate of each covered GIN index, under the collector's own statement_timeout.
  void gin_sample(SnapshotBuilder& out, Session& session, CollectContext& ctx, const Rows& gin) {
    const double sample_rows = number_option(ctx, kGinSampleRows);
    for (std::size_t r = 0; r < gin.size(); ++r) {
      if (!gin.flag(r, "covered")) continue;
      if (!gin.flag(r, "readable")) {
        ctx.skip(kSkipPrivilege);
        continue;
      }
      // Never analyzed (reltuples -1): the sample could not be sized, and 100% of a large table is
      // too much to read every cycle; the next ANALYZE (autovacuum's) brings the series.
      const double rows = gin.number(r, "reltuples").value_or(-1);
      if (rows < 0) continue;
      const double percent = rows > sample_rows ? 100.0 * sample_rows / rows : 100.0;
      std::string error;
      const auto m = session.try_query(
          gin_rebuilt_pages_sql(gin.text(r, "qualified_table"), gin.text(r, "key_expr"),
                                gin.text(r, "predicate")),
          &error,
          {std::to_string(percent), sql_bool(gin.flag(r, "path_ops")), gin.text(r, "table_pages")});
      if (!m || m->empty()) {
        log::debug("GIN bloat sample skipped", {{"relid", gin.text(r, "relid")}, {"err", error}});
        continue;
      }
      const double size = gin.number(r, "size_bytes").value_or(0);
      const double rebuilt =
          m->number(0, "rebuilt_pages").value_or(0) * gin.number(r, "bs").value_or(8192);
      emit_bloat(out,
                 {labels_of(gin, r, true), true, size, std::max(0.0, size - rebuilt),
                  gin.number(r, "table_bytes").value_or(0)},
                 "sample");
    }
  }

  void gin_pending(SnapshotBuilder& out, Session& session, const Rows& gin,
                   const std::string& schema) {
    for (std::size_t r = 0; r < gin.size(); ++r) {
      std::string error;
      const auto m = session.try_query("SELECT pending_pages, pending_tuples FROM " + schema +
                                           ".pgstatginindex($1::oid::regclass)",
                                       &error, {gin.text(r, "relid")});
      if (!m || m->empty()) continue;
      const Labels labels = labels_of(gin, r, true);
      emit(out, kGinPendingPages, labels, m->number(0, "pending_pages").value_or(0));
      emit(out, kGinPendingTuples, labels, m->number(0, "pending_tuples").value_or(0));
    }
  }

  static std::set<std::string> cand_ids(const Rows& cand) {
    std::set<std::string> ids;
    for (std::size_t r = 0; r < cand.size(); ++r) ids.insert(cand.text(r, "relid"));
    return ids;
  }

  // Relations dropped or no longer among the largest lose their exact series.
  void forget_vanished(const Rows& cand) {
    const std::set<std::string> ids = cand_ids(cand);
    std::erase_if(exact_, [&](const auto& e) { return !ids.count(e.first); });
    std::erase_if(visited_, [&](const std::string& id) { return !ids.count(id); });
  }

  void warn_once(const std::string& message) {
    if (warned_) return;
    log::warn(message, {{"collector", "bloat"}});
    warned_ = true;
  }

  std::set<std::string> visited_;       // rotation cursor: relations measured in this round
  std::map<std::string, Bloat> exact_;  // last exact figures by relation oid
  std::set<std::string> locked_;        // relations skipped in the current run
  bool warned_ = false;
};

}  // namespace

CollectorCode bloat_code() {
  return {.options = {kBudget, kMaxRelations, kGinSampleRows},
          .make = make_collector<BloatCollector>};
}

}  // namespace pge
