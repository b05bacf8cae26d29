#include "exporter/store.h"

namespace pge {

void SnapshotStore::declare(const std::string& target, const std::vector<std::string>& collectors) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& t = targets_[target];
  for (const auto& c : collectors) t.collectors.try_emplace(c);
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
  if (snapshot) serialized = std::make_shared<const SerializedSnapshot>(serialize_snapshot(*snapshot));
  snapshot.reset();
  std::lock_guard<std::mutex> lock(mu_);
  auto& t = targets_[target];
  t.collectors[collector] = status;
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

CollectorStatus SnapshotStore::status(const std::string& target,
                                      const std::string& collector) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto t = targets_.find(target);
  if (t == targets_.end()) return {};
  auto c = t->second.collectors.find(collector);
  return c == t->second.collectors.end() ? CollectorStatus{} : c->second;
}

SnapshotStore::View SnapshotStore::view() const {
  std::lock_guard<std::mutex> lock(mu_);
  return targets_;
}

}  // namespace pge
