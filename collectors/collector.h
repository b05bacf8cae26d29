// The collector contract. A collector is one file in collectors/ that defines a class derived from
// `Collector` and a `CollectorInfo` (name, default interval, options, factory); registry.cpp lists
// them. The scheduler creates one instance per target, calls `collect` on the target's worker thread
// inside a read-only transaction with timeouts, and stores the returned snapshot. A collector may keep
// state between runs (deltas, cumulative histograms); it never touches the HTTP side.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/session.h"
#include "core/snapshot.h"

namespace pge {

struct CollectContext {
  const Target& target;
  const CollectorSettings& settings;
  std::chrono::system_clock::time_point now;
  // Relations the collector left out because another session holds an ACCESS EXCLUSIVE lock on
  // them; the scheduler exports the running total.
  int lock_skips = 0;
  // Relations left out (or only estimated) for another reason, by reason (kSkipPrivilege).
  std::map<std::string, int> relations_skipped{};
  void skip(const std::string& reason) { relations_skipped[reason] += 1; }
};

// The role may not read the relation (pg_monitor without SELECT on it).
inline constexpr const char* kSkipPrivilege = "insufficient_privilege";

class Collector {
 public:
  virtual ~Collector() = default;
  // Throws (QueryError, ConnectionLost, std::exception) on failure; the scheduler records it.
  virtual Snapshot collect(Session& session, CollectContext& ctx) = 0;
  // Whether `collect` writes (the write probe): the scheduler then opens a read-write transaction.
  virtual bool writes() const { return false; }
  // True when this run has nothing to read (statements between full samples with no busy entry):
  // the scheduler then opens no transaction and keeps the last snapshot.
  virtual bool idle(const CollectContext&) const { return false; }
};

struct CollectorInfo {
  std::string name{};
  std::string help{};
  Seconds default_interval{30};
  Seconds default_timeout{5};
  bool enabled_by_default = true;
  std::vector<OptionSpec> options{};
  std::function<std::unique_ptr<Collector>()> make{};

  // The part config validation needs (core/config.h).
  CollectorSchema schema() const {
    return {name, enabled_by_default, default_interval, default_timeout, options};
  }
};

// A collector option (`[collectors.NAME] key = value`) or its default.
inline std::string option(const CollectContext& ctx, const std::string& name, const std::string& fallback) {
  auto it = ctx.settings.strings.find(name);
  return it == ctx.settings.strings.end() || it->second.empty() ? fallback : it->second;
}

inline double option(const CollectContext& ctx, const std::string& name, double fallback) {
  auto it = ctx.settings.numbers.find(name);
  return it == ctx.settings.numbers.end() ? fallback : it->second;
}

inline bool flag(const CollectContext& ctx, const std::string& name) {
  auto it = ctx.settings.flags.find(name);
  return it != ctx.settings.flags.end() && it->second;
}

// One row of a collector's metric table: the metric, its type and help, the result column it reads
// and the factor that converts the column to base units (e.g. 0.001 for milliseconds).
struct MetricSpec {
  const char* name;
  prometheus::MetricType type;
  const char* column;
  const char* help;
  double scale = 1.0;
};

constexpr auto kGauge = prometheus::MetricType::Gauge;
constexpr auto kCounter = prometheus::MetricType::Counter;

// For every row, adds one series per spec whose column is not NULL, labelled with the given
// columns (label name = column name) plus `extra` labels. NULL values are skipped: a series is
// absent rather than a made-up 0.
void emit_rows(SnapshotBuilder& out, const Rows& rows, std::span<const MetricSpec> specs,
               std::span<const char* const> label_columns, const Labels& extra = {});

// The rows (with `schemaname` and `relname` columns) that pass the target's include/exclude patterns.
Rows selected_rows(const Rows& rows, const Target& target);
// Runs a per-relation query and returns its selected rows, counting the `locked` ones as lock skips
// (they stay in the result: their statistics are read, only their sizes are left out).
Rows query_selected(Session& session, const std::string& sql, CollectContext& ctx);
// The selected rows that are not `locked`; the locked ones are counted as lock skips.
Rows selected_unlocked_rows(const Rows& rows, CollectContext& ctx);

// Shared SQL: whether another session holds (or waits for) an ACCESS EXCLUSIVE lock on a relation.
// Size functions and pgstattuple would otherwise queue behind a migration's lock, so collectors
// leave such relations out. Use as `EXISTS (` + kExclusivelyLocked + ` = x.relid)`.
inline constexpr const char* kExclusivelyLocked =
    "SELECT 1 FROM pg_locks l WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND l.pid <> pg_backend_pid() AND l.relation";

}  // namespace pge
