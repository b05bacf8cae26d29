#include "collectors/collector.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <variant>

#include "latency/latency_estimator.h"

namespace pge {

double number_option(const CollectContext& ctx, const OptionSpec& spec) {
  auto it = ctx.settings.numbers.find(spec.name);
  return it == ctx.settings.numbers.end() ? std::get<double>(spec.default_value) : it->second;
}

std::string string_option(const CollectContext& ctx, const OptionSpec& spec) {
  auto it = ctx.settings.strings.find(spec.name);
  return it == ctx.settings.strings.end() || it->second.empty()
             ? std::get<std::string>(spec.default_value)
             : it->second;
}

bool flag_option(const CollectContext& ctx, const OptionSpec& spec) {
  auto it = ctx.settings.flags.find(spec.name);
  return it == ctx.settings.flags.end() ? std::get<bool>(spec.default_value) : it->second;
}

void declare(SnapshotBuilder& out, std::initializer_list<MetricSpec> specs) {
  for (const auto& spec : specs) out.family(spec.name, spec.help, spec.type);
}

void emit(SnapshotBuilder& out, const MetricSpec& spec, const Labels& labels, double value) {
  if (spec.type == kCounter) {
    out.counter(spec.name, spec.help, labels, value);
  } else {
    out.gauge(spec.name, spec.help, labels, value);
  }
}

void emit(SnapshotBuilder& out, const MetricSpec& spec, const Labels& labels,
          const latency::Histogram& hist) {
  out.histogram(spec.name, spec.help, labels, latency::bucket_bounds(), hist.cumulative(),
                hist.sum(), hist.count());
}

Labels row_labels(const Rows& rows, std::size_t r, std::span<const char* const> columns) {
  Labels labels;
  for (const char* c : columns) labels.emplace_back(c, rows.text(r, c));
  return labels;
}

void emit_rows(SnapshotBuilder& out, const Rows& rows, std::span<const MetricSpec> specs,
               std::span<const char* const> label_columns, const Labels& extra) {
  std::vector<std::size_t> label_idx;
  for (const char* c : label_columns) label_idx.push_back(rows.column(c));
  std::vector<std::size_t> value_idx;
  for (const auto& spec : specs) {
    out.family(spec.name, spec.help, spec.type);
    value_idx.push_back(rows.column(spec.column));
  }
  for (std::size_t r = 0; r < rows.size(); ++r) {
    Labels labels;
    for (std::size_t i = 0; i < label_idx.size(); ++i) {
      const Value& v = rows.at(r, label_idx[i]);
      labels.emplace_back(label_columns[i], v ? *v : "");
    }
    labels.insert(labels.end(), extra.begin(), extra.end());
    for (std::size_t s = 0; s < specs.size(); ++s) {
      if (!rows.at(r, value_idx[s])) continue;
      emit(out, specs[s], labels, *rows.number(r, specs[s].column) * specs[s].scale);
    }
  }
}

Value sql_bool(bool value) { return value ? "true" : "false"; }

bool SizeCache::due(const CollectContext& ctx) {
  const Seconds interval{number_option(ctx, kSizeIntervalOption)};
  reading_ = last_read_ == std::chrono::system_clock::time_point{} ||
             ctx.now - last_read_ >=
                 std::chrono::duration_cast<std::chrono::system_clock::duration>(interval);
  if (reading_) last_read_ = ctx.now;
  return reading_;
}

namespace {

std::string row_key(const Rows& rows, std::size_t r, std::span<const char* const> key_columns) {
  std::string key;
  for (const char* c : key_columns) {
    key += rows.text(r, c);
    key += '\0';
  }
  return key;
}

}  // namespace

Rows SizeCache::apply(const Rows& rows, std::span<const char* const> key_columns,
                      std::span<const char* const> size_columns) const {
  std::vector<std::size_t> size_idx;
  for (const char* c : size_columns) size_idx.push_back(rows.column(c));
  const bool has_locked = rows.has_column("locked");
  if (reading_) sizes_.clear();
  std::vector<std::vector<Value>> out;
  out.reserve(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::vector<Value> row;
    row.reserve(rows.columns().size());
    for (std::size_t c = 0; c < rows.columns().size(); ++c) row.push_back(rows.at(r, c));
    if (reading_) {
      std::vector<Value> sizes;
      for (std::size_t i : size_idx) sizes.push_back(row[i]);
      sizes_.emplace(row_key(rows, r, key_columns), std::move(sizes));
    } else if (!(has_locked && rows.flag(r, "locked"))) {
      auto it = sizes_.find(row_key(rows, r, key_columns));
      if (it != sizes_.end()) {
        for (std::size_t i = 0; i < size_idx.size(); ++i) row[size_idx[i]] = it->second[i];
      }
    }
    out.push_back(std::move(row));
  }
  return Rows(rows.columns(), std::move(out));
}

Rows SizeCache::query_selected(Session& session, const std::string& sql, CollectContext& ctx,
                               std::span<const char* const> key_columns,
                               std::span<const char* const> size_columns) {
  const Value read_sizes = sql_bool(due(ctx));
  return apply(pge::query_selected(session, sql, ctx, {read_sizes}), key_columns, size_columns);
}

VersionedSql::VersionedSql(std::initializer_list<SqlVariant> variants) : variants_(variants) {
  const bool ascending =
      std::is_sorted(variants_.begin(), variants_.end(),
                     [](const SqlVariant& a, const SqlVariant& b) { return a.since < b.since; });
  if (variants_.empty() || !ascending) {
    throw std::logic_error("VersionedSql needs at least one variant, in ascending server versions");
  }
}

const std::string& VersionedSql::for_server(int server_version_num) const {
  auto newer = std::upper_bound(variants_.begin(), variants_.end(), server_version_num,
                                [](int version, const SqlVariant& v) { return version < v.since; });
  return newer == variants_.begin() ? newer->sql : std::prev(newer)->sql;
}

std::string exclusive_lock_list() {
  return "ARRAY(SELECT l.relation FROM pg_locks l WHERE l.locktype = 'relation'"
         " AND l.mode = 'AccessExclusiveLock'"
         " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
         " AND l.pid <> pg_backend_pid())";
}

std::string exclusively_locked(const std::string& relids) {
  return "(ARRAY[" + relids + "]::oid[] && " + exclusive_lock_list() + ")";
}

Rows selected_rows(const Rows& rows, const Target& target) {
  return rows.filter([&](std::size_t r) {
    return target.selects(rows.text(r, "schemaname"), rows.text(r, "relname"));
  });
}

namespace {

// Rows flagged `locked` (held or awaited under ACCESS EXCLUSIVE) count as lock skips.
void count_lock_skips(const Rows& rows, CollectContext& ctx) {
  for (std::size_t r = 0; r < rows.size(); ++r) ctx.lock_skips += rows.flag(r, "locked") ? 1 : 0;
}

}  // namespace

Rows query_selected(Session& session, const std::string& sql, CollectContext& ctx,
                    const std::vector<Value>& params) {
  Rows rows = selected_rows(session.query(sql, params), ctx.target);
  count_lock_skips(rows, ctx);
  return rows;
}

Rows selected_unlocked_rows(const Rows& rows, CollectContext& ctx) {
  const Rows selected = selected_rows(rows, ctx.target);
  count_lock_skips(selected, ctx);
  return selected.filter([&](std::size_t r) { return !selected.flag(r, "locked"); });
}

std::string current_database(Session& session) {
  return session.query("SELECT current_database() AS d").text(0, "d");
}

namespace {

// The rows of `query` (its text for this server: `sql`) that this run keeps, with the remembered
// sizes filled in between size reads.
Rows read_rows(Session& session, CollectContext& ctx, const RowQuery& query, const std::string& sql,
               SizeCache& sizes) {
  const bool sized = !query.size_columns.empty();
  Rows rows = session.query(
      sql, sized ? std::vector<Value>{sql_bool(sizes.due(ctx))} : std::vector<Value>{});
  switch (query.relations) {
    case Relations::all:
      break;
    case Relations::selected:
      rows = selected_rows(rows, ctx.target);
      count_lock_skips(rows, ctx);
      break;
    case Relations::unlocked:
      rows = selected_unlocked_rows(rows, ctx);
      break;
  }
  return sized ? sizes.apply(rows, query.labels, query.size_columns) : rows;
}

class RowsCollector final : public Collector {
 public:
  explicit RowsCollector(std::vector<RowQuery> queries)
      : queries_(std::move(queries)), sizes_(queries_.size()) {}

  Snapshot collect(Session& session, CollectContext& ctx) override {
    SnapshotBuilder out;
    for (std::size_t i = 0; i < queries_.size(); ++i) {
      const RowQuery& query = queries_[i];
      const std::string& sql = query.sql.for_server(session.server_version());
      if (sql.empty()) continue;
      emit_rows(out, read_rows(session, ctx, query, sql, sizes_[i]), query.metrics, query.labels);
    }
    return out.take(ctx.cut);
  }

 private:
  std::vector<RowQuery> queries_;
  std::vector<SizeCache> sizes_;  // one per query, used by those with size columns
};

}  // namespace

std::function<std::unique_ptr<Collector>()> rows_collector(std::vector<RowQuery> queries) {
  return [queries = std::move(queries)] { return std::make_unique<RowsCollector>(queries); };
}

}  // namespace pge
