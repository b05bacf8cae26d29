// The one list of collectors. Config validation rejects collector names not listed here.
#pragma once

#include <vector>

#include "collectors/collector.h"

namespace pge {

const std::vector<CollectorInfo>& collector_registry();
const CollectorInfo* find_collector(const std::string& name);
// Every registered collector as config validation sees it (for load_config / config_from_dsn).
const std::vector<CollectorSchema>& known_collectors();

}  // namespace pge
