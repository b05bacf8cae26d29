// Turns the stored snapshots into what /metrics serves: the collectors' families merged by name
// (series in a deterministic order, HELP escaped, duplicate series dropped) plus the exporter's
// self-metrics. A pure function of its input: the golden tests call it directly.
#pragma once

#include <string>
#include <vector>

#include <prometheus/metric_family.h>

#include "exporter/store.h"

namespace pge {

std::vector<prometheus::MetricFamily> build_exposition(const SnapshotStore::View& view);

// Text exposition format of `families` (what the Exposer sends, without gzip).
std::string serialize(const std::vector<prometheus::MetricFamily>& families);

// HELP text escaped as the exposition format requires (backslash and newline).
std::string escape_help(const std::string& help);

}  // namespace pge
