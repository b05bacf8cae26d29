#include "collectors/registry.h"

// Each collector file defines `CollectorInfo NAME_info();`. To add a collector, add its name to
// this list once.
#define PGE_COLLECTORS(X) \
  X(server)               \
  X(database)             \
  X(tables)               \
  X(indexes)              \
  X(bloat)                \
  X(maintenance)          \
  X(write_amplification)  \
  X(functions)            \
  X(growth)               \
  X(partitions)           \
  X(matviews)             \
  X(cron_jobs)            \
  X(promoted_columns)     \
  X(activity)             \
  X(statements)           \
  X(probes)               \
  X(write_probe)          \
  X(wal)                  \
  X(io)                   \
  X(stages)

namespace pge {

#define PGE_DECLARE(name) CollectorInfo name##_info();
PGE_COLLECTORS(PGE_DECLARE)
#undef PGE_DECLARE

const std::vector<CollectorInfo>& collector_registry() {
#define PGE_ENTRY(name) name##_info(),
  static const std::vector<CollectorInfo> registry{PGE_COLLECTORS(PGE_ENTRY)};
#undef PGE_ENTRY
  return registry;
}

const CollectorInfo* find_collector(const std::string& name) {
  for (const auto& info : collector_registry()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

const std::vector<CollectorSchema>& known_collectors() {
  static const std::vector<CollectorSchema> known = [] {
    std::vector<CollectorSchema> out;
    for (const auto& info : collector_registry()) out.push_back(info.schema());
    return out;
  }();
  return known;
}

}  // namespace pge
