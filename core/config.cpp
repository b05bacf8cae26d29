#include "core/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "core/log.h"

namespace pge {

std::string ConfigError::render() const {
  std::ostringstream out;
  out << (file.empty() ? "<config>" : file);
  if (line > 0) out << ":" << line;
  if (!key.empty()) out << ": " << key;
  out << ": " << message;
  return out.str();
}

namespace {

bool any_matches(const std::vector<Pattern>& patterns, const std::string& s) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const Pattern& p) { return p.matches(s); });
}

}  // namespace

bool Target::selects(const std::string& schema, const std::string& table) const {
  const std::string qualified = schema + "." + table;
  if (any_matches(exclude_schemas, schema) || any_matches(exclude_tables, qualified)) return false;
  if (!include_schemas.empty() && !any_matches(include_schemas, schema)) return false;
  if (!include_tables.empty() && !any_matches(include_tables, qualified)) return false;
  return true;
}

bool Target::selects_database(const std::string& datname) const {
  if (any_matches(exclude_databases, datname)) return false;
  return include_databases.empty() || any_matches(include_databases, datname);
}

namespace {

// Upper bound of numbers that have none.
constexpr double kNoMax = 1e18;

double unix_time(const toml::date& d, const toml::time& t, int offset_minutes);

// Reads one TOML table strictly: every key must be claimed by a getter, types are checked, and
// finish() reports the keys nobody claimed. toml++ alone would silently fall back to defaults.
class Reader {
 public:
  Reader(const toml::table& table, std::string path, std::string file,
         std::vector<ConfigError>& errors)
      : table_(table), path_(std::move(path)), file_(std::move(file)), errors_(errors) {}

  std::string key(const std::string& k) const { return path_.empty() ? k : path_ + "." + k; }

  int line_of(const toml::node& n) const { return static_cast<int>(n.source().begin.line); }
  int line() const { return static_cast<int>(table_.source().begin.line); }

  void error(const toml::node* n, const std::string& k, const std::string& message) {
    errors_.push_back({file_, n ? line_of(*n) : line(), key(k), message});
  }

  const toml::node* get(const std::string& k) {
    seen_.insert(k);
    return table_.get(k);
  }

  std::optional<std::string> string(const std::string& k, bool required = false) {
    const toml::node* n = get(k);
    if (!n) {
      if (required) error(nullptr, k, "is required");
      return std::nullopt;
    }
    if (!n->is_string()) {
      error(n, k, std::string("must be a string, got ") + type_name(*n));
      return std::nullopt;
    }
    return n->as_string()->get();
  }

  std::optional<bool> boolean(const std::string& k) {
    const toml::node* n = get(k);
    if (!n) return std::nullopt;
    if (!n->is_boolean()) {
      error(n, k, std::string("must be a boolean (true/false), got ") + type_name(*n));
      return std::nullopt;
    }
    return n->as_boolean()->get();
  }

  std::optional<double> number(const std::string& k, double min, double max) {
    const toml::node* n = get(k);
    if (!n) return std::nullopt;
    double v;
    if (n->is_integer()) {
      v = static_cast<double>(n->as_integer()->get());
    } else if (n->is_floating_point()) {
      v = n->as_floating_point()->get();
    } else {
      error(n, k, std::string("must be a number, got ") + type_name(*n));
      return std::nullopt;
    }
    if (v < min || v > max) {
      std::ostringstream msg;
      if (max >= kNoMax)
        msg << "must be at least " << min << ", got " << v;
      else
        msg << "must be between " << min << " and " << max << ", got " << v;
      error(n, k, msg.str());
      return std::nullopt;
    }
    return v;
  }

  std::optional<Seconds> duration(const std::string& k, Seconds min = Seconds{0.001}) {
    const toml::node* n = get(k);
    if (!n) return std::nullopt;
    if (!n->is_string()) {
      error(n, k, std::string("must be a duration string such as \"30s\", got ") + type_name(*n));
      return std::nullopt;
    }
    auto d = parse_duration(n->as_string()->get());
    if (!d) {
      error(n, k,
            "is not a duration: \"" + n->as_string()->get() +
                "\" (use a number with a unit: 500ms, 30s, 5m, 1h, 7d)");
      return std::nullopt;
    }
    if (*d < min) {
      std::ostringstream msg;
      msg << "must be at least " << min.count() << "s, got \"" << n->as_string()->get() << '"';
      error(n, k, msg.str());
      return std::nullopt;
    }
    return d;
  }

  // A TOML date (midnight UTC) or offset date-time as Unix time. A local date-time is refused: the
  // exporter, the database and Prometheus need not share a time zone.
  std::optional<double> timestamp(const std::string& k, bool required = false) {
    const toml::node* n = get(k);
    if (!n) {
      if (required) error(nullptr, k, "is required");
      return std::nullopt;
    }
    if (const auto* d = n->as_date()) return unix_time(d->get(), {}, 0);
    if (const auto* dt = n->as_date_time()) {
      const toml::date_time& v = dt->get();
      if (v.offset) return unix_time(v.date, v.time, v.offset->minutes);
      error(n, k, "needs a UTC offset, e.g. 2026-11-02T09:00:00Z or 2026-11-02T10:00:00+01:00");
      return std::nullopt;
    }
    error(n, k,
          std::string(
              "must be a TOML date or date-time such as 2026-11-02T09:00:00Z (unquoted), got ") +
              type_name(*n));
    return std::nullopt;
  }

  std::vector<std::string> strings(const std::string& k) {
    std::vector<std::string> out;
    const toml::node* n = get(k);
    if (!n) return out;
    const toml::array* arr = n->as_array();
    if (!arr) {
      error(n, k, std::string("must be an array of strings, got ") + type_name(*n));
      return out;
    }
    for (const auto& item : *arr) {
      if (!item.is_string()) {
        error(&item, k, std::string("must contain only strings, got ") + type_name(item));
        continue;
      }
      out.push_back(item.as_string()->get());
    }
    return out;
  }

  std::optional<Pattern> pattern(const std::string& k, const std::string& text,
                                 const toml::node* n) {
    try {
      return Pattern{text, std::regex(text, std::regex::extended)};
    } catch (const std::regex_error& e) {
      error(n, k, "is not a valid regular expression \"" + text + "\": " + e.what());
      return std::nullopt;
    }
  }

  std::vector<Pattern> patterns(const std::string& k) {
    std::vector<Pattern> out;
    const toml::node* n = table_.get(k);
    for (const auto& s : strings(k)) {
      if (auto p = pattern(k, s, n)) out.push_back(std::move(*p));
    }
    return out;
  }

  std::map<std::string, std::string> string_map(const std::string& k) {
    std::map<std::string, std::string> out;
    const toml::node* n = get(k);
    if (!n) return out;
    const toml::table* t = n->as_table();
    if (!t) {
      error(n, k, std::string("must be a table of strings, got ") + type_name(*n));
      return out;
    }
    for (auto&& [name, value] : *t) {
      if (!value.is_string()) {
        error(&value, k + "." + std::string(name.str()),
              std::string("must be a string, got ") + type_name(value));
        continue;
      }
      out.emplace(std::string(name.str()), value.as_string()->get());
    }
    return out;
  }

  // Calls fn(reader) for each table of an array of tables.
  template <typename Fn>
  void each_table(const std::string& k, Fn fn) {
    const toml::node* n = get(k);
    if (!n) return;
    const toml::array* arr = n->as_array();
    if (!arr) {
      error(n, k, "must be an array of tables ([[" + key(k) + "]])");
      return;
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const toml::table* t = arr->get(i)->as_table();
      if (!t) {
        error(arr->get(i), k, "must be an array of tables ([[" + key(k) + "]])");
        continue;
      }
      Reader sub(*t, key(k) + "[" + std::to_string(i) + "]", file_, errors_);
      fn(sub);
      sub.finish();
    }
  }

  template <typename Fn>
  void sub_table(const std::string& k, Fn fn) {
    const toml::node* n = get(k);
    if (!n) return;
    const toml::table* t = n->as_table();
    if (!t) {
      error(n, k, std::string("must be a table, got ") + type_name(*n));
      return;
    }
    Reader sub(*t, key(k), file_, errors_);
    fn(sub);
    sub.finish();
  }

  const toml::table& table() const { return table_; }
  void claim_all() {
    for (auto&& [k, v] : table_) seen_.insert(std::string(k.str()));
  }

  void finish() {
    for (auto&& [k, v] : table_) {
      const std::string name(k.str());
      if (!seen_.count(name)) {
        errors_.push_back(
            {file_, static_cast<int>(k.source().begin.line), key(name), "unknown key"});
      }
    }
  }

  static const char* type_name(const toml::node& n) {
    switch (n.type()) {
      case toml::node_type::string:
        return "a string";
      case toml::node_type::integer:
        return "an integer";
      case toml::node_type::floating_point:
        return "a float";
      case toml::node_type::boolean:
        return "a boolean";
      case toml::node_type::array:
        return "an array";
      case toml::node_type::table:
        return "a table";
      default:
        return "a date/time";
    }
  }

 private:
  const toml::table& table_;
  std::string path_;
  std::string file_;
  std::vector<ConfigError>& errors_;
  std::set<std::string> seen_;
};

double unix_time(const toml::date& d, const toml::time& t, int offset_minutes) {
  using namespace std::chrono;
  const sys_days midnight{year{d.year} / month{d.month} / day{d.day}};
  return static_cast<double>(duration_cast<seconds>(midnight.time_since_epoch()).count()) +
         t.hour * 3600.0 + t.minute * 60.0 + t.second + t.nanosecond / 1e9 - offset_minutes * 60.0;
}

std::string read_file_trimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// A bare name keeps the struct's default schema (public).
void split_qualified(const std::string& name, std::string& schema, std::string& table) {
  QualifiedName q = QualifiedName::parse(name);
  if (!q.schema.empty()) schema = std::move(q.schema);
  table = std::move(q.name);
}

void read_dsn(Reader& r, Target& t) {
  auto dsn = r.string("dsn");
  auto dsn_env = r.string("dsn_env");
  auto dsn_file = r.string("dsn_file");
  int given = (dsn ? 1 : 0) + (dsn_env ? 1 : 0) + (dsn_file ? 1 : 0);
  if (given != 1) {
    r.error(nullptr, "dsn", "exactly one of dsn, dsn_env, dsn_file is required");
    return;
  }
  if (dsn) {
    t.dsn = *dsn;
  } else if (dsn_env) {
    const char* v = std::getenv(dsn_env->c_str());
    if (!v || !*v) {
      r.error(r.table().get("dsn_env"), "dsn_env",
              "environment variable " + *dsn_env + " is not set");
      return;
    }
    t.dsn = v;
  } else {
    std::ifstream probe(*dsn_file);
    if (!probe) {
      r.error(r.table().get("dsn_file"), "dsn_file", "cannot read file " + *dsn_file);
      return;
    }
    t.dsn = read_file_trimmed(*dsn_file);
  }
}

void read_promoted_column(Reader& r, Target& t) {
  PromotedColumn c;
  if (auto table = r.string("table", true)) split_qualified(*table, c.schema, c.table);
  c.column = r.string("column", true).value_or("");
  c.source = r.string("source", true).value_or("");
  c.cast = r.string("cast").value_or("");
  c.allowed = r.strings("allowed");
  c.timestamp_column = r.string("timestamp_column").value_or("");
  c.recent_window = r.duration("recent_window").value_or(c.recent_window);
  c.cutover_threshold = r.number("cutover_threshold", 0, 1).value_or(c.cutover_threshold);
  c.references = r.string("references").value_or("");
  c.index = r.string("index").value_or("");
  c.cutover_min_clean = r.duration("cutover_min_clean", Seconds{0}).value_or(c.cutover_min_clean);
  if (c.cutover_min_clean.count() > 0 && c.timestamp_column.empty()) {
    r.error(r.table().get("cutover_min_clean"), "cutover_min_clean",
            "needs timestamp_column: the clean period is read from the rows' timestamps");
  }
  static const std::regex type_name("^[a-z_][a-z0-9_ ]*(\\[\\])?$");
  if (!c.cast.empty() && !std::regex_match(c.cast, type_name)) {
    r.error(r.table().get("cast"), "cast", "must be a plain type name such as uuid or bigint");
  }
  static const std::regex reference(
      "^([A-Za-z_][A-Za-z0-9_]*\\.)?[A-Za-z_][A-Za-z0-9_]*\\([A-Za-z_][A-Za-z0-9_]*\\)$");
  if (!c.references.empty() && !std::regex_match(c.references, reference)) {
    r.error(r.table().get("references"), "references", "must look like schema.table(column)");
  }
  t.promoted_columns.push_back(std::move(c));
}

void read_stage(Reader& r, Target& t) {
  Stage st;
  st.name = r.string("name", true).value_or("");
  for (const auto& other : t.stages) {
    if (!st.name.empty() && other.name == st.name) {
      r.error(r.table().get("name"), "name", "duplicate stage name \"" + st.name + "\"");
    }
  }
  st.started_at = r.timestamp("started_at", true).value_or(0);
  st.ended_at = r.timestamp("ended_at");
  if (st.ended_at && *st.ended_at <= st.started_at) {
    r.error(r.table().get("ended_at"), "ended_at", "must be after started_at");
  }
  t.stages.push_back(std::move(st));
}

// discover_databases and the keys that shape it; those are refused without it, where they would
// silently do nothing.
void read_discovery(Reader& r, Target& t) {
  t.discover_databases = r.boolean("discover_databases").value_or(false);
  t.include_databases = r.patterns("include_databases");
  t.exclude_databases = r.patterns("exclude_databases");
  t.discovery_interval =
      r.duration("discovery_interval", Seconds{1}).value_or(t.discovery_interval);
  if (t.discover_databases) return;
  for (const char* key : {"include_databases", "exclude_databases", "discovery_interval"}) {
    if (const toml::node* n = r.table().get(key)) {
      r.error(n, key, "needs discover_databases = true");
    }
  }
}

void read_target(Reader& r, Config& cfg, std::set<std::string>& names) {
  Target t;
  t.name = r.string("name", true).value_or("");
  if (!t.name.empty() && !names.insert(t.name).second) {
    r.error(r.table().get("name"), "name", "duplicate target name \"" + t.name + "\"");
  }
  if (t.name.find('/') != std::string::npos) {
    r.error(r.table().get("name"), "name",
            "must not contain '/': discovered databases are the targets named TARGET/DATABASE");
  }
  read_discovery(r, t);
  read_dsn(r, t);
  t.labels = r.string_map("labels");
  for (const auto& [k, v] : t.labels) {
    static const std::regex label_name("^[a-zA-Z_][a-zA-Z0-9_]*$");
    if (!std::regex_match(k, label_name) || k.rfind("__", 0) == 0 || k == "target") {
      r.error(r.table().get("labels"), "labels." + k, "is not a usable label name");
    }
  }
  t.series_budget =
      static_cast<std::size_t>(r.number("series_budget", 0, 1e9).value_or(t.series_budget));
  t.include_schemas = r.patterns("include_schemas");
  t.exclude_schemas = r.patterns("exclude_schemas");
  t.include_tables = r.patterns("include_tables");
  t.exclude_tables = r.patterns("exclude_tables");
  if (auto p = r.string("updated_at_trigger")) {
    if (auto pat = r.pattern("updated_at_trigger", *p, r.table().get("updated_at_trigger"))) {
      t.updated_at_trigger = std::move(*pat);
    }
  } else {
    t.updated_at_trigger = Pattern{"updated_at", std::regex("updated_at", std::regex::extended)};
  }
  r.each_table("promoted_column", [&](Reader& c) { read_promoted_column(c, t); });
  r.each_table("query_class", [&](Reader& c) {
    QueryClass q;
    q.name = c.string("name", true).value_or("");
    if (auto p = c.string("pattern", true)) {
      if (auto pat = c.pattern("pattern", *p, c.table().get("pattern")))
        q.pattern = std::move(*pat);
    }
    t.query_classes.push_back(std::move(q));
  });
  r.each_table("probe", [&](Reader& c) {
    Probe p;
    p.name = c.string("name", true).value_or("");
    p.sql = c.string("sql", true).value_or("");
    t.probes.push_back(std::move(p));
  });
  r.sub_table("write_probe", [&](Reader& c) {
    t.write_probe.enabled = c.boolean("enabled").value_or(false);
    if (auto table = c.string("table")) t.write_probe.table = QualifiedName::parse(*table);
    const toml::node* dsn = c.table().get("dsn");
    const toml::node* dsn_env = c.table().get("dsn_env");
    const toml::node* dsn_file = c.table().get("dsn_file");
    if (!t.write_probe.enabled) {
      // Disabled: the keys are still type-checked, but an unset variable or missing file is fine.
      c.string("dsn");
      c.string("dsn_env");
      c.string("dsn_file");
    } else if (dsn || dsn_env || dsn_file) {
      Target holder;
      read_dsn(c, holder);
      t.write_probe.dsn = holder.dsn;
    } else {
      c.error(nullptr, "dsn",
              "the write probe needs its own dsn (a role that may only write the probe table)");
    }
  });
  r.each_table("table_threshold", [&](Reader& c) {
    TableThreshold th;
    if (auto table = c.string("table", true)) split_qualified(*table, th.schema, th.table);
    th.rows = c.number("rows", 0, kNoMax);
    th.bytes = c.number("bytes", 0, kNoMax);
    if (!th.rows && !th.bytes) c.error(nullptr, "rows", "give rows, bytes or both");
    t.table_thresholds.push_back(std::move(th));
  });
  r.each_table("matview", [&](Reader& c) {
    MatviewSource m;
    if (auto name = c.string("name", true)) split_qualified(*name, m.schema, m.name);
    m.cron_command = c.string("cron_command").value_or("");
    m.log_table = QualifiedName::parse(c.string("log_table").value_or(""));
    if (!m.cron_command.empty())
      c.pattern("cron_command", m.cron_command, c.table().get("cron_command"));
    t.matviews.push_back(std::move(m));
  });
  r.sub_table("retention", [&](Reader& c) {
    t.retention.table = QualifiedName::parse(c.string("log_table", true).value_or(""));
    t.retention.keep = c.duration("keep", Seconds{3600});
    t.retention.max_interval = c.duration("max_interval", Seconds{60});
  });
  r.each_table("stage", [&](Reader& c) { read_stage(c, t); });
  cfg.targets.push_back(std::move(t));
}

void read_collector(Reader& r, const CollectorSchema& info, CollectorSettings& s) {
  s.enabled = r.boolean("enabled").value_or(s.enabled);
  s.interval = r.duration("interval", Seconds{0.1}).value_or(s.interval);
  s.timeout = r.duration("timeout", Seconds{0.01}).value_or(s.timeout);
  for (const auto& opt : info.options) {
    switch (opt.type()) {
      case OptionType::Number:
        // Every numeric option is a count, a duration, a budget or a ratio: none can be negative.
        if (auto v = r.number(opt.name, 0, kNoMax)) s.numbers[opt.name] = *v;
        break;
      case OptionType::String:
        if (auto v = r.string(opt.name)) s.strings[opt.name] = *v;
        break;
      case OptionType::Flag:
        if (auto v = r.boolean(opt.name)) s.flags[opt.name] = *v;
        break;
    }
  }
}

std::map<std::string, CollectorSettings> default_collectors(
    const std::vector<CollectorSchema>& known) {
  std::map<std::string, CollectorSettings> out;
  for (const auto& info : known) {
    CollectorSettings s;
    s.enabled = info.enabled_by_default;
    s.interval = info.default_interval;
    s.timeout = info.default_timeout;
    out.emplace(info.name, s);
  }
  return out;
}

ConfigResult from_table(const toml::table& root, const std::string& file,
                        const std::vector<CollectorSchema>& known) {
  ConfigResult result;
  Config cfg;
  cfg.source_file = file;
  cfg.collectors = default_collectors(known);
  Reader r(root, "", file, result.errors);
  r.sub_table("exporter", [&](Reader& e) {
    cfg.listen_address = e.string("listen_address").value_or(cfg.listen_address);
    if (auto path = e.string("telemetry_path")) {
      if (!is_valid_telemetry_path(*path)) {
        e.error(e.table().get("telemetry_path"), "telemetry_path",
                std::string("must be ") + kTelemetryPathRule);
      } else {
        cfg.telemetry_path = *path;
      }
    }
    if (auto level = e.string("log_level")) {
      if (!log::parse_level(*level)) {
        e.error(e.table().get("log_level"), "log_level", "must be one of debug, info, warn, error");
      } else {
        cfg.log_level = *level;
      }
    }
    if (auto format = e.string("log_format")) {
      if (!log::parse_format(*format)) {
        e.error(e.table().get("log_format"), "log_format", "must be logfmt or json");
      } else {
        cfg.log_format = *format;
      }
    }
    cfg.web_threads = static_cast<int>(e.number("web_threads", 1, 64).value_or(cfg.web_threads));
    cfg.web_max_connections = static_cast<int>(
        e.number("web_max_connections", 8, 1024).value_or(cfg.web_max_connections));
    cfg.healthz_without_auth = e.boolean("healthz_without_auth").value_or(cfg.healthz_without_auth);
    cfg.lock_timeout = e.duration("lock_timeout").value_or(cfg.lock_timeout);
    cfg.connect_timeout = e.duration("connect_timeout", Seconds{1}).value_or(cfg.connect_timeout);
    cfg.max_backoff = e.duration("max_backoff", Seconds{1}).value_or(cfg.max_backoff);
    cfg.query_deadline_margin =
        e.duration("query_deadline_margin", Seconds{0.05}).value_or(cfg.query_deadline_margin);
    cfg.duty_cycle = e.number("duty_cycle", 0.001, 1).value_or(cfg.duty_cycle);
  });
  std::set<std::string> names;
  r.each_table("target", [&](Reader& t) { read_target(t, cfg, names); });
  if (cfg.targets.empty() && !root.get("target")) {
    result.errors.push_back({file, 0, "target", "at least one [[target]] is required"});
  }
  r.sub_table("collectors", [&](Reader& c) {
    for (auto&& [k, v] : c.table()) {
      const std::string name(k.str());
      auto info = std::find_if(known.begin(), known.end(),
                               [&](const CollectorSchema& c) { return c.name == name; });
      if (info == known.end()) {
        std::string names;
        for (const auto& i : known) names += (names.empty() ? "" : ", ") + i.name;
        result.errors.push_back({file, static_cast<int>(k.source().begin.line),
                                 "collectors." + name, "unknown collector (known: " + names + ")"});
        continue;
      }
      c.sub_table(name, [&](Reader& s) { read_collector(s, *info, cfg.collectors[name]); });
    }
    c.claim_all();
  });
  r.finish();
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

ConfigResult parse(const std::string& text, const std::string& name, bool is_file,
                   const std::vector<CollectorSchema>& known) {
  try {
    toml::table root = is_file ? toml::parse_file(name) : toml::parse(text, name);
    return from_table(root, name, known);
  } catch (const toml::parse_error& e) {
    ConfigResult result;
    std::string message(e.description());
    if (is_file && e.source().begin.line == 0) message = "cannot read config file: " + message;
    result.errors.push_back({name, static_cast<int>(e.source().begin.line), "", message});
    return result;
  }
}

}  // namespace

ConfigResult load_config(const std::string& path, const std::vector<CollectorSchema>& known) {
  return parse("", path, true, known);
}

ConfigResult load_config_text(const std::string& toml_text, const std::string& name,
                              const std::vector<CollectorSchema>& known) {
  return parse(toml_text, name, false, known);
}

ConfigResult config_from_dsn(const std::string& dsn, const std::vector<CollectorSchema>& known) {
  ConfigResult result;
  Config cfg;
  cfg.collectors = default_collectors(known);
  Target t;
  t.name = "default";
  t.dsn = dsn;
  t.updated_at_trigger = Pattern{"updated_at", std::regex("updated_at", std::regex::extended)};
  cfg.targets.push_back(std::move(t));
  result.config = std::move(cfg);
  return result;
}

QualifiedName QualifiedName::parse(const std::string& dotted) {
  const auto dot = dotted.find('.');
  if (dot == std::string::npos) return {"", dotted};
  return {dotted.substr(0, dot), dotted.substr(dot + 1)};
}

bool is_valid_telemetry_path(const std::string& path) {
  return path.size() > 1 && path[0] == '/' && path != "/healthz" &&
         path.find_first_of(" ?#") == std::string::npos;
}

}  // namespace pge
