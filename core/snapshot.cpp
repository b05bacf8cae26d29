#include "core/snapshot.h"

#include <algorithm>

namespace pge {

std::size_t Snapshot::series() const {
  std::size_t n = 0;
  for (const auto& f : families) n += f.metric.size();
  return n;
}

namespace {

std::vector<prometheus::ClientMetric::Label> to_client_labels(const Labels& labels) {
  std::vector<prometheus::ClientMetric::Label> out;
  out.reserve(labels.size());
  for (const auto& [k, v] : labels) out.push_back({k, v});
  return out;
}

}  // namespace

prometheus::MetricFamily& SnapshotBuilder::family(const std::string& name, const std::string& help,
                                                  prometheus::MetricType type) {
  auto it = index_.find(name);
  if (it != index_.end()) return families_[it->second];
  index_.emplace(name, families_.size());
  families_.push_back(prometheus::MetricFamily{name, help, type, {}});
  return families_.back();
}

void SnapshotBuilder::gauge(const std::string& name, const std::string& help, const Labels& labels,
                            double value) {
  prometheus::ClientMetric m;
  m.label = to_client_labels(labels);
  m.gauge.value = value;
  family(name, help, prometheus::MetricType::Gauge).metric.push_back(std::move(m));
}

void SnapshotBuilder::counter(const std::string& name, const std::string& help,
                              const Labels& labels, double value) {
  prometheus::ClientMetric m;
  m.label = to_client_labels(labels);
  m.counter.value = value;
  family(name, help, prometheus::MetricType::Counter).metric.push_back(std::move(m));
}

void SnapshotBuilder::histogram(const std::string& name, const std::string& help,
                                const Labels& labels, const std::vector<double>& bounds,
                                const std::vector<double>& cumulative, double sum, double count) {
  prometheus::ClientMetric m;
  m.label = to_client_labels(labels);
  m.histogram.sample_sum = sum;
  m.histogram.sample_count = static_cast<std::uint64_t>(count + 0.5);
  for (std::size_t i = 0; i < bounds.size() && i < cumulative.size(); ++i) {
    m.histogram.bucket.push_back({static_cast<std::uint64_t>(cumulative[i] + 0.5), bounds[i]});
  }
  family(name, help, prometheus::MetricType::Histogram).metric.push_back(std::move(m));
}

Snapshot SnapshotBuilder::take() {
  Snapshot s{std::move(families_)};
  families_.clear();
  index_.clear();
  return s;
}

void add_labels(Snapshot& snapshot, const Labels& labels) {
  if (labels.empty()) return;
  const auto extra = to_client_labels(labels);
  for (auto& family : snapshot.families) {
    for (auto& metric : family.metric) {
      metric.label.insert(metric.label.begin(), extra.begin(), extra.end());
    }
  }
}

}  // namespace pge
