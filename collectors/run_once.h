// One collector run, the same path for the scheduler and for the tests: the idle check, one
// transaction with the collector's statement timeout and the exporter's lock timeout (read-only
// unless the collector writes), the target's labels on every series, and every failure turned into
// a value. Nothing thrown by a collector (not even a non-standard exception) leaves `run_once`.
// Called on the target's worker thread (or a test's thread), with that thread's Database.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <variant>

#include "collectors/collector.h"

namespace pge {

// Why a run failed. `message` is password-free (the session scrubs database errors) and, for
// database errors, only the first line.
struct RunError {
  std::string message;
  std::string sqlstate;          // "" when the failure is not a database error
  bool connection_lost = false;  // the caller must drop the connection and reconnect

  bool is_lock_timeout() const { return sqlstate == "55P03"; }
};

struct RunResult {
  // False when the collector had nothing to read (`Collector::idle`): no transaction was opened and
  // the caller keeps the last snapshot. `outcome` is then an empty snapshot.
  bool ran = true;
  std::variant<Snapshot, RunError> outcome;
  int lock_skips = 0;
  std::map<std::string, int> relations_skipped;  // other reasons than a lock (CollectContext::skip)
  Seconds duration{0};

  bool ok() const { return std::holds_alternative<Snapshot>(outcome); }
  Snapshot& snapshot() { return std::get<Snapshot>(outcome); }
  const RunError& error() const { return std::get<RunError>(outcome); }
};

// What a run needs besides the collector and the database.
struct RunRequest {
  const Target& target;
  const CollectorSettings& settings;
  Seconds lock_timeout;
  SeriesCut cut{};  // for CollectContext::cut
};

RunResult run_once(Collector& collector, Database& db, const RunRequest& request);

// The labels the exporter puts on every series of a target: `target` and the configured ones.
Labels target_labels(const Target& target);

}  // namespace pge
