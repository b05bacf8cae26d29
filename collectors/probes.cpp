// Canary queries (target.probes) run by the exporter on the collector's schedule and timed on its
// own clock: exact latency histograms of real round trips, where pg_stat_statements only estimates.
// They run in the scheduler's read-only transaction, so they obey its statement_timeout and never
// run on a scrape. Each probe runs in its own savepoint (Session::try_query), so a failing probe
// counts as an error of its own and does not abort the others; the timed span includes the
// SAVEPOINT and RELEASE round trips (about 0.1 ms on loopback).
#include <chrono>
#include <map>

#include "collectors/collector.h"
#include "core/log.h"
#include "latency/latency_estimator.h"

namespace pge {
namespace {

constexpr MetricSpec kDuration{
    "pg_probe_duration_seconds", kHistogram, kComputed,
    "Wall time of the configured probe query as the exporter saw it (client round trip, inside a "
    "read-only transaction); exact buckets."};
constexpr MetricSpec kErrors{
    "pg_probe_errors_total", kCounter, kComputed,
    "Probe runs that failed (statement timeout, lock timeout, any error)."};

struct ProbeStats {
  latency::Histogram hist;
  double errors = 0;
  std::string last_error;  // logged once per change, like the scheduler's collector errors
};

class ProbesCollector final : public Collector {
 public:
  Snapshot collect(Session& session, CollectContext& ctx) override {
    for (const auto& probe : ctx.target.probes) run(session, probe, stats_[probe.name]);
    SnapshotBuilder out;
    declare(out, {kDuration, kErrors});
    for (const auto& probe : ctx.target.probes) {
      const ProbeStats& s = stats_[probe.name];
      const Labels labels{{"probe", probe.name}};
      emit(out, kDuration, labels, s.hist);
      emit(out, kErrors, labels, s.errors);
    }
    return out.take();
  }

 private:
  static void run(Session& session, const Probe& probe, ProbeStats& stats) {
    std::string error;
    const auto started = std::chrono::steady_clock::now();
    const bool ok = session.try_query(probe.sql, &error).has_value();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (ok) {
      stats.hist.observe(seconds);
      stats.last_error.clear();
      return;
    }
    stats.errors += 1;
    if (error != stats.last_error)
      log::warn("probe failed", {{"probe", probe.name}, {"err", error}});
    stats.last_error = std::move(error);
  }

  std::map<std::string, ProbeStats> stats_;
};

}  // namespace

CollectorCode probes_code() { return {.make = make_collector<ProbesCollector>}; }

}  // namespace pge
