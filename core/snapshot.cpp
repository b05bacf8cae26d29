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

std::uint32_t SnapshotBuilder::family_index(const std::string& name, const std::string& help,
                                            prometheus::MetricType type) {
  auto it = index_.find(name);
  if (it != index_.end()) return static_cast<std::uint32_t>(it->second);
  index_.emplace(name, families_.size());
  families_.push_back(prometheus::MetricFamily{name, help, type, {}});
  return static_cast<std::uint32_t>(families_.size() - 1);
}

prometheus::MetricFamily& SnapshotBuilder::family(const std::string& name, const std::string& help,
                                                  prometheus::MetricType type) {
  return families_[family_index(name, help, type)];
}

// Series are added row by row, so a label set equal to the previous one is the same row's.
void SnapshotBuilder::add(std::uint32_t family, const Labels& labels, double value) {
  if (table_.label_sets.empty() || table_.label_sets.back() != labels)
    table_.label_sets.push_back(labels);
  table_.series.push_back(
      {family, static_cast<std::uint32_t>(table_.label_sets.size() - 1), value});
}

void SnapshotBuilder::gauge(const std::string& name, const std::string& help, const Labels& labels,
                            double value) {
  add(family_index(name, help, prometheus::MetricType::Gauge), labels, value);
}

void SnapshotBuilder::counter(const std::string& name, const std::string& help,
                              const Labels& labels, double value) {
  add(family_index(name, help, prometheus::MetricType::Counter), labels, value);
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

Snapshot SnapshotBuilder::take(const SeriesCut& cut) {
  if (cut) cut(families_, table_);
  for (const auto& series : table_.series) {
    prometheus::MetricFamily& family = families_[series.family];
    prometheus::ClientMetric m;
    m.label = to_client_labels(table_.label_sets[series.labels]);
    (family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value) =
        series.value;
    family.metric.push_back(std::move(m));
  }
  Snapshot s{std::move(families_)};
  families_.clear();
  index_.clear();
  table_ = {};
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
