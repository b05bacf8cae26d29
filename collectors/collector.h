// The collector contract. A collector is one file in collectors/ that defines `CollectorCode
// NAME_code()` (the options it reads and its factory) and, unless its collect step is
// `rows_collector`'s, a class derived from `Collector`; registry.cpp lists them with their
// defaults. The scheduler creates one instance per target, calls `collect` on the target's worker
// thread inside a read-only transaction with timeouts, and stores the returned snapshot. A
// collector may keep state between runs (deltas, cumulative histograms); it never touches the HTTP
// side.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/session.h"
#include "core/snapshot.h"

namespace pge {

namespace latency {
class Histogram;
}

struct CollectContext {
  const Target& target;
  const CollectorSettings& settings;
  std::chrono::system_clock::time_point now;
  // Relations the collector left out because another session holds an ACCESS EXCLUSIVE lock on
  // them; the scheduler exports the running total.
  int lock_skips = 0;
  // Relations left out (or only estimated) for another reason, by reason (kSkipPrivilege).
  std::map<std::string, int> relations_skipped{};
  // The series budget of this run: a per-relation collector builds its snapshot with
  // `out.take(ctx.cut)`, so that the series it leaves out never become objects.
  SeriesCut cut{};
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

// What a collector file defines, as `CollectorCode NAME_code()`: the options its code reads, each
// with its default, and the factory of its instances.
struct CollectorCode {
  std::vector<OptionSpec> options{};
  std::function<std::unique_ptr<Collector>()> make{};
};

// A collector as the registry lists it: its name, its one-line help (--help) and its defaults,
// with its file's code.
struct CollectorInfo {
  std::string name{};
  std::string help{};
  Seconds default_interval{30};
  // The statement_timeout of a run: what a catalog or statistics view read needs, with room to
  // spare.
  Seconds default_timeout{5};
  bool enabled_by_default = true;
  CollectorCode code{};

  // The part config validation needs (core/config.h).
  CollectorSchema schema() const {
    return {name, enabled_by_default, default_interval, default_timeout, code.options};
  }
};

// The factory of a collector class, for CollectorCode::make.
template <class C>
std::unique_ptr<Collector> make_collector() {
  return std::make_unique<C>();
}

// The value of a collector option: the config's, else the default its OptionSpec declares. A string
// option set to "" also reads the default.
double number_option(const CollectContext& ctx, const OptionSpec& spec);
std::string string_option(const CollectContext& ctx, const OptionSpec& spec);
bool flag_option(const CollectContext& ctx, const OptionSpec& spec);

// One metric of a collector, declared once in a table at the top of its file with its full name (so
// that grep finds the code behind a series), type and help. A metric read straight from a result
// column names the column and the factor that converts it to base units (e.g. 0.001 for
// milliseconds); one the collector computes has kComputed as its column.
struct MetricSpec {
  const char* name;
  prometheus::MetricType type;
  const char* column;
  const char* help;
  double scale = 1.0;
};

constexpr auto kGauge = prometheus::MetricType::Gauge;
constexpr auto kCounter = prometheus::MetricType::Counter;
constexpr auto kHistogram = prometheus::MetricType::Histogram;
constexpr const char* kComputed = "";

// Declares the families with no series yet, so that HELP and TYPE stay when the last series goes.
void declare(SnapshotBuilder& out, std::initializer_list<MetricSpec> specs);
// One series of a gauge or counter.
void emit(SnapshotBuilder& out, const MetricSpec& spec, const Labels& labels, double value);
// One series of a histogram.
void emit(SnapshotBuilder& out, const MetricSpec& spec, const Labels& labels,
          const latency::Histogram& hist);

// The labels of a per-table series (postgres_exporter's): the columns of a per-relation query that
// name the table.
inline constexpr std::array<const char*, 3> kTableLabels{"datname", "schemaname", "relname"};

// Labels named after the given columns of row `r`, with their text values.
Labels row_labels(const Rows& rows, std::size_t r, std::span<const char* const> columns);

// For every row, adds one series per spec whose column is not NULL, labelled with the given
// columns (label name = column name) plus `extra` labels. NULL values are skipped: a series is
// absent rather than a made-up 0.
void emit_rows(SnapshotBuilder& out, const Rows& rows, std::span<const MetricSpec> specs,
               std::span<const char* const> label_columns, const Labels& extra = {});

// The rows (with `schemaname` and `relname` columns) that pass the target's include/exclude
// patterns.
Rows selected_rows(const Rows& rows, const Target& target);
// Runs a per-relation query and returns its selected rows, counting the `locked` ones as lock skips
// (they stay in the result: their statistics are read, only their sizes are left out).
Rows query_selected(Session& session, const std::string& sql, CollectContext& ctx,
                    const std::vector<Value>& params = {});
// The selected rows that are not `locked`; the locked ones are counted as lock skips.
Rows selected_unlocked_rows(const Rows& rows, CollectContext& ctx);

// Size functions stat every fork of every relation: at 10,000 tables they cost more than all the
// statistics together, while sizes change slowly. A collector with size columns reads them on its
// first run and then once every `size_interval` seconds, and serves the remembered sizes in
// between. Its query takes the decision as parameter $1 (`CASE WHEN $1::bool THEN
// pg_..._size(..)`). Owned by one collector instance (its target's worker thread).
class SizeCache {
 public:
  // Whether this run reads sizes; the answer holds until the next call. Pass it to the query.
  bool due(const CollectContext& ctx);
  // After a run that read sizes, remembers `size_columns` of every row (keyed by `key_columns`);
  // after one that did not, fills them in from memory for the rows not flagged `locked`.
  Rows apply(const Rows& rows, std::span<const char* const> key_columns,
             std::span<const char* const> size_columns) const;
  // A per-relation query (`query_selected`) whose $1 is this run's decision, through `apply`.
  Rows query_selected(Session& session, const std::string& sql, CollectContext& ctx,
                      std::span<const char* const> key_columns,
                      std::span<const char* const> size_columns);

 private:
  std::chrono::system_clock::time_point last_read_{};
  bool reading_ = false;
  mutable std::unordered_map<std::string, std::vector<Value>> sizes_;
};

// A statement whose text depends on the server version (catalog columns renamed or added between
// releases). The variants sit in the collector file next to its metric table; every variant yields
// the same result columns, NULL where that version has no such value (the series is then absent).
// `for_server` picks the variant with the highest `since` not above the server's
// server_version_num (the oldest one for an older server). libpqxx reads the version once per
// connection, so a collector's choice changes only when its target reconnects to another server.
struct SqlVariant {
  int since;        // server_version_num from which this text applies, e.g. 170000
  std::string sql;  // "": the view does not exist before the next variant; nothing is read
};

class VersionedSql {
 public:
  // `variants` in ascending `since`; at least one (a programmer error otherwise: throws at
  // start-up).
  VersionedSql(std::initializer_list<SqlVariant> variants);
  // A statement that is the same on every server version.
  VersionedSql(std::string sql) : VersionedSql({{0, std::move(sql)}}) {}
  VersionedSql(const char* sql) : VersionedSql(std::string(sql)) {}
  const std::string& for_server(int server_version_num) const;

 private:
  std::vector<SqlVariant> variants_;
};

// A boolean query parameter.
Value sql_bool(bool value);

inline const OptionSpec kSizeIntervalOption{.name = "size_interval",
                                            .help =
                                                "Seconds between reads of relation sizes (size "
                                                "functions stat every file); the last sizes are "
                                                "served in between (0 reads them every run).",
                                            .default_value = 300.0};

// Which rows of a per-relation query (columns schemaname, relname and locked) a RowQuery keeps.
enum class Relations {
  all,       // every row: not a per-relation query
  selected,  // those the target's include/exclude patterns select; the locked ones stay (their
             // statistics are read, only their sizes are left out) and count as lock skips
  unlocked,  // the selected ones that are not locked; the locked ones count as lock skips
};

// One query of a collector whose rows carry its metrics: every row gives one series per metric
// whose column is not NULL, labelled by the `labels` columns (emit_rows).
struct RowQuery {
  VersionedSql sql;
  std::span<const MetricSpec> metrics;
  std::span<const char* const> labels{};
  Relations relations = Relations::all;
  // Columns read every size_interval and remembered in between (SizeCache, keyed by `labels`);
  // the query takes the decision as $1 and the collector declares kSizeIntervalOption.
  std::span<const char* const> size_columns{};
};

// The factory of a collector whose whole collect step is running `queries` in order and emitting
// their rows, for CollectorCode::make.
std::function<std::unique_ptr<Collector>()> rows_collector(std::vector<RowQuery> queries);

// The connected database's name, for the `datname` label of series that come from the config.
std::string current_database(Session& session);

// Shared SQL: whether another session holds (or waits for) an ACCESS EXCLUSIVE lock on one of the
// relations `relids` (a comma-separated list of oid expressions). Size functions and pgstattuple
// would otherwise queue behind a migration's lock, so collectors leave such relations out. The lock
// list is an uncorrelated sub-select: PostgreSQL reads pg_locks once per query (an InitPlan), not
// once per row, which at 10,000 tables was most of a collector's database time.
std::string exclusively_locked(const std::string& relids);
// The oid[] of those relations, for tests such as `relids_array && ` + exclusive_lock_list().
std::string exclusive_lock_list();

}  // namespace pge
