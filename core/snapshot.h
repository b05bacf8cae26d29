// What a collector run produces: an immutable set of metric families. Collectors build one with
// `SnapshotBuilder` (directly or through `emit_rows` in collectors/collector.h), the scheduler
// stores it, and the HTTP thread only ever reads stored snapshots. A builder belongs to the thread
// that fills it.
#pragma once

#include <prometheus/metric_family.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace pge {

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Snapshot {
  std::vector<prometheus::MetricFamily> families;
  std::size_t series() const;
};

class SnapshotBuilder {
 public:
  void gauge(const std::string& name, const std::string& help, const Labels& labels, double value);
  void counter(const std::string& name, const std::string& help, const Labels& labels,
               double value);
  // `bounds` ascending without +Inf; `cumulative` has one count per bound; `count` is the +Inf
  // count.
  void histogram(const std::string& name, const std::string& help, const Labels& labels,
                 const std::vector<double>& bounds, const std::vector<double>& cumulative,
                 double sum, double count);
  // Declares a family with no series yet (so HELP/TYPE stay stable when a label set vanishes).
  prometheus::MetricFamily& family(const std::string& name, const std::string& help,
                                   prometheus::MetricType type);
  Snapshot take();

 private:
  std::map<std::string, std::size_t> index_;
  std::vector<prometheus::MetricFamily> families_;
};

// Adds labels to every series of a snapshot (the scheduler adds `target` and constant labels).
void add_labels(Snapshot& snapshot, const Labels& labels);

}  // namespace pge
