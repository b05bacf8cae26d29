// Opt-in write probe (target.write_probe): INSERT one row into the exporter's own small table and
// COMMIT, timed together on the exporter's clock. That is the commit latency (WAL flush included)
// an application's write sees and pg_stat_statements does not. It uses its own connection and role
// (write_probe.dsn: a role that may only write the probe table, see docs/latency.md), never the
// monitoring role's read-only session, and deletes the rows older than the one just written so the
// table holds about one row. Its statements carry the exporter's marker like every other.
#include <chrono>
#include <memory>

#include "collectors/collector.h"
#include "core/dsn.h"
#include "core/log.h"
#include "latency/latency_estimator.h"

namespace pge {
namespace {

using Clock = std::chrono::steady_clock;

constexpr Seconds kMaxBackoff{60};

constexpr MetricSpec kDuration{"pg_write_probe_duration_seconds", kHistogram, kComputed,
                               "Wall time of the write probe's INSERT plus COMMIT (WAL flush "
                               "included) as the exporter saw it; "
                               "exact buckets."};
constexpr MetricSpec kErrors{"pg_write_probe_errors_total", kCounter, kComputed,
                             "Write probe runs that failed (connection, privilege, timeout)."};

class WriteProbeCollector final : public Collector {
 public:
  Snapshot collect(Session&, CollectContext& ctx) override {
    const WriteProbe& wp = ctx.target.write_probe;
    SnapshotBuilder out;
    if (!wp.enabled) return out.take();
    try {
      probe(wp, ctx.settings.timeout);
      last_error_.clear();
    } catch (const ConnectionLost& e) {
      failed(wp, e.what(), true);
    } catch (const std::exception& e) {
      failed(wp, e.what(), false);
    }
    emit(out, kDuration, {}, hist_);
    emit(out, kErrors, {}, errors_);
    return out.take();
  }

 private:
  // The INSERT and the COMMIT are timed together: run() commits right after the callback returns.
  void probe(const WriteProbe& wp, Seconds timeout) {
    if (!db_) db_ = std::make_unique<Connection>(wp.dsn, timeout, kMaxBackoff);
    std::string error;
    if (!db_->ensure_open(Clock::now(), &error)) throw std::runtime_error(error);
    const std::string table = quote_qualified(wp.table.schema, wp.table.name);
    const TransactionLimits limits{timeout, timeout, false};
    std::string id;
    Clock::time_point started;
    db_->run(limits, [&](Session& s) {
      started = Clock::now();
      id = s.query("INSERT INTO " + table + " DEFAULT VALUES RETURNING id").text(0, "id");
    });
    hist_.observe(std::chrono::duration<double>(Clock::now() - started).count());
    db_->run(limits,
             [&](Session& s) { s.query("DELETE FROM " + table + " WHERE id < $1::bigint", {id}); });
  }

  void failed(const WriteProbe& wp, const std::string& what, bool connection_lost) {
    errors_ += 1;
    if (connection_lost) db_->drop(Clock::now());
    std::string error = scrub(what, dsn_password(wp.dsn));
    error = error.substr(0, error.find('\n'));
    if (error != last_error_) log::warn("write probe failed", {{"err", error}});
    last_error_ = std::move(error);
  }

  std::unique_ptr<Connection> db_;
  latency::Histogram hist_;
  double errors_ = 0;
  std::string last_error_;
};

}  // namespace

CollectorCode write_probe_code() { return {.make = make_collector<WriteProbeCollector>}; }

}  // namespace pge
