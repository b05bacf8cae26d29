// What a collector run produces: an immutable set of metric families. Collectors build one with
// `SnapshotBuilder` (directly or through `emit_rows` in collectors/collector.h), the scheduler
// stores it, and the HTTP thread only ever reads stored snapshots. A builder belongs to the thread
// that fills it.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <functional>
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

// The gauge and counter series of a snapshot being built, before they become prometheus objects:
// a label set is stored once for all the series that carry it (the metrics of one row share
// theirs) and a series is 16 bytes, where a ClientMetric with its own copy of the labels takes
// several hundred. At 10,000 tables a run builds some 300k series; the series budget cuts and
// rolls them up here, so only the kept ones ever become objects.
struct SeriesTable {
  struct Series {
    std::uint32_t family;  // index into the builder's families
    std::uint32_t labels;  // index into label_sets
    double value;
  };
  std::vector<Labels> label_sets;
  std::vector<Series> series;
};

// Cuts a snapshot's series before they become objects (the series budget,
// exporter/series_budget.h): drops and adds series in `table` and returns how many it left out.
// `families` holds the families' names and types (and histogram series, which are never cut).
using SeriesCut = std::function<std::size_t(const std::vector<prometheus::MetricFamily>& families,
                                            SeriesTable& table)>;

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
  // The snapshot, with `cut` (when set) applied to its gauge and counter series first.
  Snapshot take(const SeriesCut& cut = {});

 private:
  std::uint32_t family_index(const std::string& name, const std::string& help,
                             prometheus::MetricType type);
  void add(std::uint32_t family, const Labels& labels, double value);

  std::map<std::string, std::size_t> index_;
  std::vector<prometheus::MetricFamily> families_;
  SeriesTable table_;
};

// Adds labels to every series of a snapshot (the scheduler adds `target` and constant labels).
void add_labels(Snapshot& snapshot, const Labels& labels);

}  // namespace pge
