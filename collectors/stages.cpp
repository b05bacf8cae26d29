// The Phase 3 stages of the target's configuration (`[[target.stage]]`) as series, so that the
// latency dashboard marks them and set latency during a stage against the days before it. Reads
// nothing from the database; the values change only with the configuration.
#include "collectors/collector.h"

namespace pge {
namespace {

constexpr MetricSpec kStarted{
    "pg_evolution_stage_started_timestamp_seconds", kGauge, kComputed,
    "Start of the Phase 3 stage (Unix time), from [[target.stage]] started_at."};
constexpr MetricSpec kEnded{
    "pg_evolution_stage_ended_timestamp_seconds", kGauge, kComputed,
    "End of the Phase 3 stage (Unix time), from [[target.stage]] ended_at; absent while it runs."};

class StagesCollector final : public Collector {
 public:
  Snapshot collect(Session&, CollectContext& ctx) override {
    SnapshotBuilder out;
    declare(out, {kStarted, kEnded});
    for (const auto& stage : ctx.target.stages) {
      emit(out, kStarted, {{"stage", stage.name}}, stage.started_at);
      if (stage.ended_at) emit(out, kEnded, {{"stage", stage.name}}, *stage.ended_at);
    }
    return out.take();
  }
};

}  // namespace

CollectorCode stages_code() { return {.make = make_collector<StagesCollector>}; }

}  // namespace pge
