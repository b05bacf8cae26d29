// What a collector run produces: an immutable set of metric families. Collectors build one with
// `SnapshotBuilder` (or the table-driven `emit_rows`), the scheduler stores it, and the HTTP thread
// only ever reads stored snapshots. A builder belongs to the thread that fills it.
#pragma once

#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

#include "exporter/session.h"

namespace pge {

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Snapshot {
  std::vector<prometheus::MetricFamily> families;
  std::size_t series() const;
};

class SnapshotBuilder {
 public:
  void gauge(const std::string& name, const std::string& help, const Labels& labels, double value);
  void counter(const std::string& name, const std::string& help, const Labels& labels, double value);
  // `bounds` ascending without +Inf; `cumulative` has one count per bound; `count` is the +Inf count.
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

// One row of a collector's metric table: the metric, its type and help, the result column it reads
// and the factor that converts the column to base units (e.g. 0.001 for milliseconds).
struct MetricSpec {
  const char* name;
  prometheus::MetricType type;
  const char* column;
  const char* help;
  double scale = 1.0;
};

constexpr auto kGauge = prometheus::MetricType::Gauge;
constexpr auto kCounter = prometheus::MetricType::Counter;

// For every row, adds one series per spec whose column is not NULL, labelled with the given
// columns (label name = column name) plus `extra` labels. NULL values are skipped: a series is
// absent rather than a made-up 0.
void emit_rows(SnapshotBuilder& out, const Rows& rows, std::span<const MetricSpec> specs,
               std::span<const char* const> label_columns, const Labels& extra = {});

// Adds labels to every series of a snapshot (the scheduler adds `target` and constant labels).
void add_labels(Snapshot& snapshot, const Labels& labels);

}  // namespace pge
