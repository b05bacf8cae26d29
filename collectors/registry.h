// The one list of collectors. Config validation rejects collector names not listed here.
#pragma once

#include <vector>

#include "collectors/collector.h"

namespace pge {

const std::vector<CollectorInfo>& collector_registry();
const CollectorInfo* find_collector(const std::string& name);

}  // namespace pge
