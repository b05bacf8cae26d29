#include "exporter/store.h"

namespace pge {

void SnapshotStore::declare(const std::string& target,
                            const std::vector<std::pair<std::string, double>>& collectors) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& t = targets_[target];
  for (const auto& [name, limit] : collectors) t.collectors[name].staleness_limit_seconds = limit;
}

void SnapshotStore::deadline_exceeded(const std::string& target, bool disconnect) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& t = targets_[target];
  t.stalled = true;
  (disconnect ? t.deadline_disconnects_total : t.deadline_cancels_total) += 1;
}

void SnapshotStore::answered(const std::string& target) {
  std::lock_guard<std::mutex> lock(mu_);
  targets_[target].stalled = false;
}

void SnapshotStore::touch(const std::string& target, const std::string& collector,
                          const CollectorStatus& status) {
  std::lock_guard<std::mutex> lock(mu_);
  CollectorStatus& st = targets_[target].collectors[collector];
  const double limit = st.staleness_limit_seconds;
  st = status;
  st.staleness_limit_seconds = limit;
}

void SnapshotStore::set_up(const std::string& target, bool up, const std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& t = targets_[target];
  t.up = up;
  t.last_error = error;
}

void SnapshotStore::set_series_budget(const std::string& target, std::size_t budget) {
  std::lock_guard<std::mutex> lock(mu_);
  targets_[target].series_budget = budget;
}

void SnapshotStore::put(const std::string& target, const std::string& collector,
                        std::shared_ptr<const Snapshot> snapshot, const CollectorStatus& status) {
  std::shared_ptr<const SerializedSnapshot> serialized;
  if (snapshot)
    serialized = std::make_shared<const SerializedSnapshot>(serialize_snapshot(*snapshot));
  snapshot.reset();
  std::lock_guard<std::mutex> lock(mu_);
  auto& t = targets_[target];
  const double limit = t.collectors[collector].staleness_limit_seconds;
  t.collectors[collector] = status;
  t.collectors[collector].staleness_limit_seconds = limit;
  if (serialized) {
    t.snapshots[collector] = std::move(serialized);
  } else {
    t.snapshots.erase(collector);
  }
}

void SnapshotStore::clear_snapshots(const std::string& target) {
  std::lock_guard<std::mutex> lock(mu_);
  targets_[target].snapshots.clear();
}

void SnapshotStore::forget_collector(const std::string& target, const std::string& collector) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& t = targets_[target];
  t.collectors.erase(collector);
  t.snapshots.erase(collector);
}

void SnapshotStore::remove(const std::string& target) {
  std::lock_guard<std::mutex> lock(mu_);
  targets_.erase(target);
}

CollectorStatus SnapshotStore::status(const std::string& target,
                                      const std::string& collector) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto t = targets_.find(target);
  if (t == targets_.end()) return {};
  auto c = t->second.collectors.find(collector);
  return c == t->second.collectors.end() ? CollectorStatus{} : c->second;
}

SnapshotStore::View SnapshotStore::view(double now_unix) const {
  View out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out = targets_;
  }
  for (auto& [target, state] : out) {
    for (auto& [name, st] : state.collectors) {
      st.stale =
          st.last_success_unix <= 0 || now_unix - st.last_success_unix > st.staleness_limit_seconds;
      if (st.stale) state.snapshots.erase(name);
    }
  }
  return out;
}

SnapshotStore::View SnapshotStore::view() const {
  return view(
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
}

}  // namespace pge
