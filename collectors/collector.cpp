#include "collectors/collector.h"

namespace pge {

Rows selected_rows(const Rows& rows, const Target& target) {
  return rows.filter([&](std::size_t r) {
    return target.selects(rows.text(r, "schemaname"), rows.text(r, "relname"));
  });
}

void count_lock_skips(const Rows& rows, CollectContext& ctx) {
  for (std::size_t r = 0; r < rows.size(); ++r) ctx.lock_skips += rows.flag(r, "locked") ? 1 : 0;
}

Rows selected_unlocked_rows(const Rows& rows, CollectContext& ctx) {
  const Rows selected = selected_rows(rows, ctx.target);
  count_lock_skips(selected, ctx);
  return selected.filter([&](std::size_t r) { return !selected.flag(r, "locked"); });
}

}  // namespace pge
