// Opt-in write probe (target.write_probe): INSERT one row into the exporter's own small table and
// COMMIT, timed together on the exporter's clock. That is the commit latency (WAL flush included)
// an application's write sees and pg_stat_statements does not. It uses its own connection and role
// (write_probe.dsn: a role that may only write the probe table, see docs/latency.md), never the
// monitoring role's read-only session, and deletes the rows older than the one just written so the
// table holds about one row.
#include <chrono>
#include <memory>

#include <pqxx/pqxx>

#include "collectors/collector.h"
#include "core/log.h"
#include "latency/latency_estimator.h"

namespace pge {
namespace {

constexpr const char* kDuration = "pg_write_probe_duration_seconds";
constexpr const char* kErrors = "pg_write_probe_errors_total";
const char* const kDurationHelp =
    "Wall time of the write probe's INSERT plus COMMIT (WAL flush included) as the exporter saw it; "
    "exact buckets.";
const char* const kErrorsHelp = "Write probe runs that failed (connection, privilege, timeout).";

class WriteProbeCollector final : public Collector {
 public:
  Snapshot collect(Session&, CollectContext& ctx) override {
    const WriteProbe& wp = ctx.target.write_probe;
    SnapshotBuilder out;
    if (!wp.enabled) return out.take();
    try {
      probe(wp, ctx.settings.timeout);
      last_error_.clear();
    } catch (const std::exception& e) {
      failed(wp, e.what());
    }
    const Labels none;
    out.histogram(kDuration, kDurationHelp, none, latency::bucket_bounds(), hist_.cumulative(),
                  hist_.sum(), hist_.count());
    out.counter(kErrors, kErrorsHelp, none, errors_);
    return out.take();
  }

 private:
  void probe(const WriteProbe& wp, Seconds timeout) {
    if (!conn_) conn_ = std::make_unique<pqxx::connection>(augment_dsn(wp.dsn, timeout));
    const auto dot = wp.table.find('.');
    const std::string table = dot == std::string::npos ? quote_ident(wp.table)
                                     : quote_qualified(wp.table.substr(0, dot), wp.table.substr(dot + 1));
    const std::string limits = "SET LOCAL statement_timeout = " +
                               std::to_string(static_cast<long>(timeout.count() * 1000)) +
                               "; SET LOCAL lock_timeout = " +
                               std::to_string(static_cast<long>(timeout.count() * 1000));
    std::string id;
    {
      pqxx::work tx(*conn_);
      tx.exec(limits);
      const auto started = std::chrono::steady_clock::now();
      id = tx.exec1("INSERT INTO " + table + " DEFAULT VALUES RETURNING id")[0].c_str();
      tx.commit();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      hist_.observe(seconds);
    }
    pqxx::work cleanup(*conn_);
    cleanup.exec(limits);
    cleanup.exec_params("DELETE FROM " + table + " WHERE id < $1::bigint", id);
    cleanup.commit();
  }

  void failed(const WriteProbe& wp, const std::string& what) {
    errors_ += 1;
    if (conn_ && !conn_->is_open()) conn_.reset();
    std::string error = scrub(what, dsn_password(wp.dsn));
    error = error.substr(0, error.find('\n'));
    if (error != last_error_) log::warn("write probe failed", {{"err", error}});
    last_error_ = std::move(error);
  }

  std::unique_ptr<pqxx::connection> conn_;
  latency::Histogram hist_;
  double errors_ = 0;
  std::string last_error_;
};

}  // namespace

CollectorInfo write_probe_info() {
  return {"write_probe",
          "Opt-in INSERT+COMMIT latency probe on the exporter's own table (target.write_probe).",
          Seconds{15}, Seconds{5}, true, {}, [] { return std::make_unique<WriteProbeCollector>(); }};
}

}  // namespace pge
