// Helpers shared by the tests: a throw-away copy of the reference database per test, running a
// collector once as the scheduler would, finding series in a snapshot or in scraped text, and
// running the exporter binary as a child process. Test code only; not thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "collectors/run_once.h"
#include "core/config.h"
#include "core/session.h"
#include "core/snapshot.h"

namespace pge::test {

int test_port();                // PGE_TEST_PORT (the CTest fixture's cluster)
std::string source_dir();       // PGE_SOURCE_DIR
std::string build_dir();        // PGE_BUILD_DIR
std::string exporter_binary();  // PGE_EXPORTER
std::string admin_dsn(const std::string& dbname = "postgres");

// A fresh database copied from the template `pge_template` (reference schema, small data); dropped
// when the object goes away. exec/query/scalar run as the superuser in autocommit.
class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& name() const { return name_; }
  // DSN for `user` (postgres: superuser; pge_exporter: the least-privilege monitoring role).
  std::string dsn(const std::string& user = "postgres") const;
  // config/sharedminds.toml reads its DSNs from the environment: points them at this database, as
  // the exporter's role and the write probe's.
  void export_sharedminds_dsns() const;
  void exec(const std::string& sql) const;
  Rows query(const std::string& sql) const;
  double scalar(const std::string& sql) const;

 private:
  std::string name_;
};

// Serializes tests that use cluster-wide state (pg_stat_statements resets, pg_cron jobs) across the
// test processes that ctest runs in parallel: an exclusive flock on BUILD_DIR/<name>.lock, held for
// the object's lifetime.
class ClusterLock {
 public:
  explicit ClusterLock(const std::string& name);
  ~ClusterLock();
  ClusterLock(const ClusterLock&) = delete;
  ClusterLock& operator=(const ClusterLock&) = delete;

 private:
  int fd_;
};

// Runs one statement against any DSN in autocommit (for other databases than a TestDatabase).
Rows run_sql(const std::string& dsn, const std::string& sql);

// Another session that runs `sql` in a transaction and keeps that transaction open for the object's
// lifetime: a migration holding its lock, a client idle in transaction.
class OpenTransaction {
 public:
  OpenTransaction(const std::string& dsn, const std::string& sql);
  ~OpenTransaction();
  OpenTransaction(const OpenTransaction&) = delete;
  OpenTransaction& operator=(const OpenTransaction&) = delete;

 private:
  struct Session;
  std::unique_ptr<Session> session_;
};

// A Target for `dsn` with no filters and the default updated_at pattern.
Target make_target(const std::string& dsn, const std::string& name = "test");
// Settings of a registered collector with its defaults.
CollectorSettings default_settings(const std::string& collector);

// One collector instance (kept across runs, so stateful collectors see deltas), run on its own
// connection through `run_once`, exactly as the scheduler runs it.
class CollectorRunner {
 public:
  CollectorRunner(const std::string& collector, Target target,
                  std::optional<CollectorSettings> settings = std::nullopt);
  ~CollectorRunner();
  // The run's snapshot (the last one when the collector was idle); throws CollectorFailed.
  Snapshot run();
  int last_lock_skips() const { return lock_skips_; }
  // Relations the last run skipped for other reasons, by reason
  // (CollectContext::relations_skipped).
  const std::map<std::string, int>& last_relations_skipped() const { return relations_skipped_; }
  Target& target() { return target_; }
  CollectorSettings& settings() { return settings_; }

 private:
  Target target_;
  CollectorSettings settings_;
  std::unique_ptr<Collector> collector_;
  std::unique_ptr<Connection> conn_;
  Snapshot last_;
  int lock_skips_ = 0;
  std::map<std::string, int> relations_skipped_;
};

// A failed CollectorRunner::run: what() is the run's error message.
class CollectorFailed : public std::runtime_error {
 public:
  explicit CollectorFailed(RunError error)
      : std::runtime_error(error.message), error_(std::move(error)) {}
  const RunError& error() const { return error_; }

 private:
  RunError error_;
};

// A Session that answers each query by the first registered SQL fragment it contains, and throws
// (naming the query) for any other, so a collector's every query is accounted for.
class FakeSession final : public Session {
 public:
  FakeSession& on(const std::string& sql_fragment, Rows rows);
  // The query fails as the database would: try_query returns nullopt, query throws QueryError.
  FakeSession& fail(const std::string& sql_fragment, const std::string& message,
                    const std::string& sqlstate);
  Rows query(const std::string& sql, const std::vector<Value>& params = {}) override;
  std::optional<Rows> try_query(const std::string& sql, std::string* error = nullptr,
                                const std::vector<Value>& params = {}) override;
  int server_version() const override { return 150020; }
  const std::vector<std::string>& queries() const { return queries_; }  // in the order asked

 private:
  struct Answer {
    std::string fragment;
    Rows rows;
    std::optional<QueryError> error;
  };
  const Answer& answer(const std::string& sql);
  std::vector<Answer> answers_;
  std::vector<std::string> queries_;
};

// A Database without a server: connects unless told to refuse, runs each transaction on `session`
// and records the limits it was given. A refused or dropped connection waits one second (back-off).
class FakeDatabase final : public Database {
 public:
  FakeSession session;
  int refuse_connects = 0;  // how many of the next connection attempts fail
  int connects = 0;
  std::vector<TransactionLimits> transactions;
  std::optional<Seconds> max_backoff;  // the last set_max_backoff()

  bool ensure_open(std::chrono::steady_clock::time_point now, std::string* error) override;
  bool is_open() const override { return open_; }
  void drop(std::chrono::steady_clock::time_point now) override;
  void run(const TransactionLimits& limits, const std::function<void(Session&)>& fn) override;
  int server_version() const override { return session.server_version(); }
  std::chrono::steady_clock::time_point next_attempt() const override { return next_attempt_; }
  void set_max_backoff(Seconds cap) override { max_backoff = cap; }

 private:
  bool open_ = false;
  std::chrono::steady_clock::time_point next_attempt_{};
};

// A collector whose run is a test's function, for testing what runs collectors.
class ScriptedCollector final : public Collector {
 public:
  using Run = std::function<Snapshot(Session&, CollectContext&)>;
  explicit ScriptedCollector(Run run, bool writes = false, std::function<bool()> idle = {})
      : run_(std::move(run)), writes_(writes), idle_(std::move(idle)) {}
  Snapshot collect(Session& session, CollectContext& ctx) override { return run_(session, ctx); }
  bool writes() const override { return writes_; }
  bool idle(const CollectContext&) const override { return idle_ && idle_(); }

 private:
  Run run_;
  bool writes_;
  std::function<bool()> idle_;
};

// Rows from a header and text cells; "NULL" stands for SQL NULL.
Rows make_rows(std::vector<std::string> columns,
               const std::vector<std::vector<std::string>>& cells);

// The value of the one series named `name` whose labels include every pair in `labels` (histograms:
// the _count). Absent: nullopt. Several: throws, naming them.
std::optional<double> find_value(const Snapshot& snapshot, const std::string& name,
                                 const Labels& labels = {});
// Same, but throws (with the series that do exist) when absent.
double value(const Snapshot& snapshot, const std::string& name, const Labels& labels = {});
// Number of series named `name` whose labels include `labels`.
std::size_t count_series(const Snapshot& snapshot, const std::string& name,
                         const Labels& labels = {});
const prometheus::ClientMetric* find_metric(const Snapshot& snapshot, const std::string& name,
                                            const Labels& labels = {});

// A parsed line of the text exposition format.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value;
};
std::vector<Sample> parse_exposition(const std::string& text);
std::optional<double> find_sample(const std::vector<Sample>& samples, const std::string& name,
                                  const std::map<std::string, std::string>& labels = {});

// GET http://127.0.0.1:port/path; returns the body, sets *status. Throws on connection failure.
std::string http_get(int port, const std::string& path, int* status = nullptr);
// One raw HTTP/1.1 request to 127.0.0.1:port (`headers` each ending in CRLF); returns {status,
// whole response}, {0, ""} when nothing listens.
std::pair<int, std::string> http_request(int port, const std::string& path,
                                         const std::string& headers = "",
                                         const std::string& method = "GET");

// The exporter binary as a child process, listening on an OS-assigned loopback port.
class ExporterProcess {
 public:
  // Writes `config_toml` to a temp file and starts the exporter with it (log level debug); an empty
  // `config_toml` starts it without --config.file (DATA_SOURCE_NAME from the environment). Its
  // stderr is kept in BUILD/exporter-logs/ for the log format check.
  explicit ExporterProcess(const std::string& config_toml,
                           std::vector<std::string> extra_args = {});
  ~ExporterProcess();
  int port() const { return port_; }
  int pid() const { return pid_; }
  std::string log() const;  // what it wrote to stderr so far
  // Replaces its config file's content (for a reload).
  void write_config(const std::string& config_toml) const;
  std::string metrics() const { return http_get(port_, "/metrics"); }
  // Polls /metrics until `pred(samples)` holds or `timeout_s` passes; returns the last samples.
  std::vector<Sample> wait_for(const std::function<bool(const std::vector<Sample>&)>& pred,
                               double timeout_s) const;
  // Polls /metrics until a series `name` whose labels include `labels` is served.
  std::vector<Sample> wait_for_series(const std::string& name,
                                      const std::map<std::string, std::string>& labels,
                                      double timeout_s) const;
  int stop();          // SIGTERM, waits; returns the exit status
  bool alive() const;  // still running (not exited, not a zombie)

 private:
  int pid_ = -1;
  int port_ = 0;
  std::string config_path_;
  std::string log_path_;
};

// Runs the exporter binary with args and returns {exit status, stdout+stderr}.
std::pair<int, std::string> run_exporter(const std::vector<std::string>& args,
                                         const std::map<std::string, std::string>& env = {});

// Writes `exposition` to `path` and runs `promtool check metrics` on it: {exit status, its output}.
std::pair<int, std::string> promtool_check_metrics(const std::string& exposition,
                                                   const std::string& path);

// Polls `pred` every 100 ms until true or `timeout_s` passes; returns the last result.
bool eventually(const std::function<bool()>& pred, double timeout_s);
// Runs the collector every 100 ms until its series `name` with `labels` exists and its value
// passes `ok` (statistics reach the cumulative views asynchronously), or `timeout_s` passes;
// returns whether it did.
bool eventually_value(CollectorRunner& runner, const std::string& name, const Labels& labels,
                      const std::function<bool(double)>& ok, double timeout_s);

}  // namespace pge::test
