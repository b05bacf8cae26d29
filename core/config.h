// Configuration of the exporter: the TOML file (or DATA_SOURCE_NAME) parsed and validated into
// plain structs. Everything downstream takes a `Config` and may assume it is valid: every check
// happens in `load_config`, which reports each problem with file, line and key. Immutable after
// loading; safe to read from any thread.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <variant>
#include <vector>

#include "core/duration.h"

namespace pge {

// A named regular expression that selects query texts, schemas or tables.
struct Pattern {
  std::string source;
  std::regex re;
  bool matches(const std::string& s) const { return std::regex_search(s, re); }
  // std::regex has no ==; every pattern is compiled from its source with the same flags.
  bool operator==(const Pattern& other) const { return source == other.source; }
};

// In the order of the alternatives of OptionSpec::default_value.
enum class OptionType { Number, String, Flag };

// A collector option (`[collectors.NAME] key = value`), declared once by its collector together
// with its default: the type of the default is the option's type, and the collector reads the
// default whenever the config does not set the option (collectors/collector.h `number_option` and
// friends).
struct OptionSpec {
  std::string name;
  std::string help;
  std::variant<double, std::string, bool> default_value;

  OptionType type() const { return static_cast<OptionType>(default_value.index()); }
};

// What validation knows about one collector: its name, defaults and options. The collectors layer
// declares these (collectors/registry.h `known_collectors()`) and hands them to `load_config`, so
// configuration stays below the collectors that read it.
struct CollectorSchema {
  std::string name;
  bool enabled_by_default = true;
  Seconds default_interval{30};
  Seconds default_timeout{5};
  std::vector<OptionSpec> options;
};

struct CollectorSettings {
  bool enabled = true;
  Seconds interval{30};
  Seconds timeout{5};  // statement_timeout for the collector's transaction
  // Collector-specific integer/float/string knobs (`[collectors.NAME] key = value`), validated
  // against the collector's declared options.
  std::map<std::string, double> numbers;
  std::map<std::string, std::string> strings;
  std::map<std::string, bool> flags;

  bool operator==(const CollectorSettings&) const = default;
};

// A column being promoted out of a JSONB document (the seed's dual-write migrations).
struct PromotedColumn {
  std::string schema = "public";
  std::string table;
  std::string column;
  std::string source;                // SQL expression over the row, e.g. metadata->>'source'
  std::string cast;                  // optional SQL type the JSON text is cast to, e.g. uuid
  std::vector<std::string> allowed;  // optional allowed values (mirrors the CHECK)
  std::string timestamp_column;      // for recent dual-write health
  Seconds recent_window{900};
  double cutover_threshold = 0.01;  // missing ratio below which cutover may happen
  std::string references;           // optional FK target "schema.table(column)" for invalid rows
  std::string index;                // optional index that must exist and be valid for cutover
  Seconds cutover_min_clean{0};     // proven clean dual-write period cutover waits for

  bool operator==(const PromotedColumn&) const = default;
};

struct QueryClass {
  std::string name;
  Pattern pattern;

  bool operator==(const QueryClass&) const = default;
};

struct Probe {
  std::string name;
  std::string sql;

  bool operator==(const Probe&) const = default;
};

// A relation the config names as "schema.name", split once at load (at the first dot). A bare
// "name" leaves `schema` empty: the server's search_path then finds it, as it would in psql.
struct QualifiedName {
  std::string schema;
  std::string name;

  static QualifiedName parse(const std::string& dotted);
  bool empty() const { return name.empty(); }
  bool operator==(const QualifiedName&) const = default;
};

struct WriteProbe {
  bool enabled = false;
  std::string dsn;  // a separate role that may INSERT/DELETE into `table` and nothing else
  QualifiedName table{"pge_probe", "write_probe"};

  bool operator==(const WriteProbe&) const = default;
};

struct TableThreshold {
  std::string schema = "public";
  std::string table;
  std::optional<double> rows;
  std::optional<double> bytes;

  bool operator==(const TableThreshold&) const = default;
};

// Where a materialized view's refresh history is read from: pg_cron run details whose command
// matches `cron_command`, or a log table with (view_name, started_at, finished_at, succeeded).
struct MatviewSource {
  std::string schema = "public";
  std::string name;
  std::string cron_command;  // regex over cron.job.command
  QualifiedName log_table;   // e.g. ops.matview_refresh_log

  bool operator==(const MatviewSource&) const = default;
};

struct RetentionLog {
  QualifiedName table;  // e.g. ops.retention_runs (started_at, finished_at, cutoff, rows_archived,
                        // rows_deleted, succeeded)
  std::optional<Seconds> keep;  // the retention policy: rows younger than this must survive a run
  std::optional<Seconds> max_interval;  // the longest a successful run may be apart from the next

  bool operator==(const RetentionLog&) const = default;
};

// A Phase 3 stage (`[[target.stage]]`): when a migration step started and, once over, ended.
// Exported by the `stages` collector so that dashboards and rules can set latency during a stage
// against the days before it.
struct Stage {
  std::string name;
  double started_at = 0;           // Unix time
  std::optional<double> ended_at;  // absent while the stage runs

  bool operator==(const Stage&) const = default;
};

// Sized for a Prometheus that scrapes hundreds of targets (docs/scaling.md has the arithmetic).
constexpr std::size_t kDefaultSeriesBudget = 100000;

struct Target {
  std::string name;
  std::string dsn;  // never logged: see redact_dsn() in core/dsn.h
  std::map<std::string, std::string> labels;
  std::vector<Pattern> include_schemas, exclude_schemas, include_tables, exclude_tables;
  std::vector<PromotedColumn> promoted_columns;
  std::vector<QueryClass> query_classes;
  std::vector<Probe> probes;
  WriteProbe write_probe;
  std::vector<TableThreshold> table_thresholds;
  std::vector<MatviewSource> matviews;
  RetentionLog retention;
  std::vector<Stage> stages;
  Pattern updated_at_trigger;  // trigger/function names that maintain updated_at
  // Most series the target's collectors may export together; per-relation series beyond it are
  // rolled up per schema (exporter/series_budget.h). 0 = no budget.
  std::size_t series_budget = kDefaultSeriesBudget;
  // Database discovery: the target stands for every database of its cluster that allows
  // connections, is no template and passes include/exclude_databases (exclude wins), each run as a
  // target of its own named "NAME/DATABASE" (exporter/target_discovery.h). Listed again every
  // discovery_interval.
  bool discover_databases = false;
  std::vector<Pattern> include_databases, exclude_databases;
  Seconds discovery_interval{60};

  // True when schema.table passes the include/exclude patterns (exclude wins).
  bool selects(const std::string& schema, const std::string& table) const;
  // True when a discovered database passes include/exclude_databases (exclude wins).
  bool selects_database(const std::string& datname) const;

  bool operator==(const Target&) const = default;
};

struct Config {
  std::string source_file;  // "" when built from DATA_SOURCE_NAME
  // Loopback by default: the output names every table, index and query class of the database.
  std::string listen_address = "127.0.0.1:10187";
  std::string telemetry_path = "/metrics";
  std::string log_level = "info";     // debug, info, warn, error
  std::string log_format = "logfmt";  // logfmt, json
  int web_threads = 4;                // /metrics responses built at once
  int web_max_connections = 256;      // connections served at once (HTTP worker threads)
  bool healthz_without_auth = false;
  Seconds lock_timeout{0.5};
  Seconds connect_timeout{5};
  Seconds max_backoff{60};
  // Client-side deadline of a statement = its collector's timeout + this; cancel then, drop the
  // connection one margin later (a server that hangs cannot enforce statement_timeout).
  Seconds query_deadline_margin{1};
  // The share of wall time a target's collectors may keep its connection busy: when their last
  // runs' durations over their intervals add up to more, the most expensive ones are spread out
  // (docs/scaling.md). 1 stretches only a target that cannot keep up at all.
  double duty_cycle = 0.04;
  std::vector<Target> targets;
  std::map<std::string, CollectorSettings>
      collectors;  // every registered collector, defaults filled
};

// One problem found while loading: rendered as "file:line: key: message".
struct ConfigError {
  std::string file;
  int line = 0;
  std::string key;
  std::string message;
  std::string render() const;
};

struct ConfigResult {
  std::optional<Config> config;
  std::vector<ConfigError> errors;  // all problems, not just the first
};

// Loads and validates a TOML file against the known collectors (names, options, defaults).
// Never throws.
ConfigResult load_config(const std::string& path, const std::vector<CollectorSchema>& known);
// Same, from TOML text (tests); `name` stands in for the file name in messages.
ConfigResult load_config_text(const std::string& toml_text, const std::string& name,
                              const std::vector<CollectorSchema>& known);
// One target named "default" with the known collectors' defaults, from DATA_SOURCE_NAME.
ConfigResult config_from_dsn(const std::string& dsn, const std::vector<CollectorSchema>& known);

// The metrics path: starts with '/', is neither "/" nor "/healthz" (served by us), no query part.
bool is_valid_telemetry_path(const std::string& path);
inline constexpr const char* kTelemetryPathRule =
    "a path starting with / other than / and /healthz";

}  // namespace pge
