#include "collectors/collector.h"

namespace pge {

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
