#include "collectors/collector.h"

namespace pge {

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
      double value = *rows.number(r, specs[s].column) * specs[s].scale;
      if (specs[s].type == prometheus::MetricType::Counter) {
        out.counter(specs[s].name, specs[s].help, labels, value);
      } else {
        out.gauge(specs[s].name, specs[s].help, labels, value);
      }
    }
  }
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

Rows query_selected(Session& session, const std::string& sql, CollectContext& ctx) {
  Rows rows = selected_rows(session.query(sql), ctx.target);
  count_lock_skips(rows, ctx);
  return rows;
}

Rows selected_unlocked_rows(const Rows& rows, CollectContext& ctx) {
  const Rows selected = selected_rows(rows, ctx.target);
  count_lock_skips(selected, ctx);
  return selected.filter([&](std::size_t r) { return !selected.flag(r, "locked"); });
}

}  // namespace pge
