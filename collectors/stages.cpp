// The Phase 3 stages of the target's configuration (`[[target.stage]]`) as series, so that the
// latency dashboard marks them and set latency during a stage against the days before it. Reads
// nothing from the database; the values change only with the configuration.
#include "collectors/collector.h"

namespace pge {
namespace {

class StagesCollector final : public Collector {
 public:
  Snapshot collect(Session&, CollectContext& ctx) override {
    SnapshotBuilder out;
    out.family("pg_evolution_stage_started_timestamp_seconds",
               "Start of the Phase 3 stage (Unix time), from [[target.stage]] started_at.",
               prometheus::MetricType::Gauge);
    out.family("pg_evolution_stage_ended_timestamp_seconds",
               "End of the Phase 3 stage (Unix time), from [[target.stage]] ended_at; absent while it runs.",
               prometheus::MetricType::Gauge);
    for (const auto& stage : ctx.target.stages) {
      out.gauge("pg_evolution_stage_started_timestamp_seconds", "", {{"stage", stage.name}}, stage.started_at);
      if (stage.ended_at) {
        out.gauge("pg_evolution_stage_ended_timestamp_seconds", "", {{"stage", stage.name}}, *stage.ended_at);
      }
    }
    return out.take();
  }
};

}  // namespace

CollectorInfo stages_info() {
  return {"stages", "The configured Phase 3 stages ([[target.stage]]) with their start and end.", Seconds{300},
          Seconds{5}, true, {}, [] { return std::make_unique<StagesCollector>(); }};
}

}  // namespace pge
