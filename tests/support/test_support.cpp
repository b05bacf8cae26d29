#include "tests/support/test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <pqxx/pqxx>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "collectors/registry.h"

namespace pge::test {

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string temp_path(const std::string& stem) {
  static std::atomic<int> counter{0};
  return build_dir() + "/" + stem + "_" + std::to_string(getpid()) + "_" +
         std::to_string(counter++);
}

// Where a started exporter's stderr goes: BUILD/exporter-logs/<test>_<pid>_<n>.<format>, kept after
// the test so that tests/logs/check_exporter_logs.py parses every line of the run. The format
// alternates by test name (FNV-1a, stable across runs) so both formats see every kind of test.
std::pair<std::string, std::string> exporter_log_path_and_format() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "exporter";
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : name) hash = (hash ^ c) * 16777619u;
  const std::string format = hash % 2 ? "json" : "logfmt";
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.') c = '_';
  }
  const std::string dir = build_dir() + "/exporter-logs";
  std::filesystem::create_directories(dir);
  static std::atomic<int> counter{0};
  return {dir + "/" + name + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++) +
              "." + format,
          format};
}

Rows to_rows(const pqxx::result& r) {
  std::vector<std::string> cols;
  for (pqxx::row::size_type c = 0; c < r.columns(); ++c) cols.emplace_back(r.column_name(c));
  std::vector<std::vector<Value>> rows;
  for (const auto& row : r) {
    std::vector<Value> values;
    for (const auto& f : row) {
      values.push_back(f.is_null() ? Value{} : Value{std::string(f.c_str(), f.size())});
    }
    rows.push_back(std::move(values));
  }
  return Rows(std::move(cols), std::move(rows));
}

bool labels_include(const prometheus::ClientMetric& m, const Labels& want) {
  for (const auto& [k, v] : want) {
    bool found = false;
    for (const auto& l : m.label) found = found || (l.name == k && l.value == v);
    if (!found) return false;
  }
  return true;
}

double metric_value(const prometheus::MetricFamily& f, const prometheus::ClientMetric& m) {
  switch (f.type) {
    case prometheus::MetricType::Counter:
      return m.counter.value;
    case prometheus::MetricType::Gauge:
      return m.gauge.value;
    case prometheus::MetricType::Histogram:
      return static_cast<double>(m.histogram.sample_count);
    default:
      return m.untyped.value;
  }
}

std::string describe(const Snapshot& s, const std::string& name) {
  std::ostringstream out;
  for (const auto& f : s.families) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      out << "\n  " << name << "{";
      for (const auto& l : m.label) out << l.name << "=\"" << l.value << "\",";
      out << "} " << metric_value(f, m);
    }
  }
  return out.str();
}

}  // namespace

int test_port() { return std::stoi(env_or("PGE_TEST_PORT", PGE_DEFAULT_TEST_PORT)); }
std::string source_dir() { return env_or("PGE_SOURCE_DIR", PGE_DEFAULT_SOURCE_DIR); }
std::string build_dir() { return env_or("PGE_BUILD_DIR", PGE_DEFAULT_BUILD_DIR); }
std::string exporter_binary() { return env_or("PGE_EXPORTER", PGE_DEFAULT_EXPORTER); }

std::string admin_dsn(const std::string& dbname) {
  return "host=127.0.0.1 port=" + std::to_string(test_port()) + " user=postgres dbname=" + dbname;
}

ClusterLock::ClusterLock(const std::string& name)
    : fd_(::open((build_dir() + "/" + name + ".lock").c_str(), O_CREAT | O_RDWR, 0644)) {
  if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0) throw std::runtime_error("cannot lock " + name);
}

ClusterLock::~ClusterLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

Rows run_sql(const std::string& dsn, const std::string& sql) {
  pqxx::connection conn(dsn);
  pqxx::nontransaction tx(conn);
  return to_rows(tx.exec(sql));
}

struct OpenTransaction::Session {
  explicit Session(const std::string& dsn) : conn(dsn) {}
  pqxx::connection conn;
  pqxx::work tx{conn};
};

OpenTransaction::OpenTransaction(const std::string& dsn, const std::string& sql)
    : session_(std::make_unique<Session>(dsn)) {
  session_->tx.exec(sql);
}

OpenTransaction::~OpenTransaction() = default;

TestDatabase::TestDatabase() {
  static std::atomic<int> counter{0};
  name_ = "pge_t" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  run_sql(admin_dsn(), "CREATE DATABASE " + name_ + " TEMPLATE pge_template");
}

TestDatabase::~TestDatabase() {
  try {
    run_sql(admin_dsn(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
  }
}

std::string TestDatabase::dsn(const std::string& user) const {
  std::string dsn =
      "host=127.0.0.1 port=" + std::to_string(test_port()) + " dbname=" + name_ + " user=" + user;
  if (user == "pge_exporter") dsn += " password=exporter";
  if (user == "pge_probe_writer") dsn += " password=probe";
  return dsn;
}

void TestDatabase::export_sharedminds_dsns() const {
  setenv("SHAREDMINDS_DSN", dsn("pge_exporter").c_str(), 1);
  setenv("SHAREDMINDS_PROBE_DSN", dsn("pge_probe_writer").c_str(), 1);
}

void TestDatabase::exec(const std::string& sql) const { run_sql(admin_dsn(name_), sql); }
Rows TestDatabase::query(const std::string& sql) const { return run_sql(admin_dsn(name_), sql); }

double TestDatabase::scalar(const std::string& sql) const {
  Rows rows = query(sql);
  if (rows.size() != 1 || rows.columns().size() != 1 || !rows.at(0, 0)) {
    throw std::runtime_error("scalar query did not return one non-NULL value: " + sql);
  }
  return std::stod(*rows.at(0, 0));
}

Target make_target(const std::string& dsn, const std::string& name) {
  Target t;
  t.name = name;
  t.dsn = dsn;
  t.updated_at_trigger = Pattern{"updated_at", std::regex("updated_at", std::regex::extended)};
  return t;
}

CollectorSettings default_settings(const std::string& collector) {
  const CollectorInfo* info = find_collector(collector);
  if (!info) throw std::invalid_argument("no collector named " + collector);
  CollectorSettings s;
  s.interval = info->default_interval;
  s.timeout = info->default_timeout;
  return s;
}

CollectorRunner::CollectorRunner(const std::string& collector, Target target,
                                 std::optional<CollectorSettings> settings)
    : target_(std::move(target)), settings_(settings ? *settings : default_settings(collector)) {
  const CollectorInfo* info = find_collector(collector);
  if (!info) throw std::invalid_argument("no collector named " + collector);
  collector_ = info->code.make();
  conn_ = std::make_unique<Connection>(target_.dsn, Seconds{5}, Seconds{1});
}

CollectorRunner::~CollectorRunner() = default;

Snapshot CollectorRunner::run() {
  std::string error;
  if (!conn_->ensure_open(std::chrono::steady_clock::time_point{}, &error)) {
    throw std::runtime_error("cannot connect: " + error);
  }
  RunResult result = run_once(*collector_, *conn_, {target_, settings_, Config{}.lock_timeout});
  lock_skips_ = result.lock_skips;
  relations_skipped_ = result.relations_skipped;
  if (!result.ran) return last_;
  if (!result.ok()) {
    if (result.error().connection_lost) conn_->drop(std::chrono::steady_clock::time_point{});
    throw CollectorFailed(result.error());
  }
  last_ = std::move(result.snapshot());
  return last_;
}

FakeSession& FakeSession::on(const std::string& sql_fragment, Rows rows) {
  answers_.push_back({sql_fragment, std::move(rows), std::nullopt});
  return *this;
}

FakeSession& FakeSession::fail(const std::string& sql_fragment, const std::string& message,
                               const std::string& sqlstate) {
  answers_.push_back({sql_fragment, {}, QueryError(message, sqlstate)});
  return *this;
}

const FakeSession::Answer& FakeSession::answer(const std::string& sql) {
  queries_.push_back(sql);
  for (const auto& a : answers_) {
    if (sql.find(a.fragment) != std::string::npos) return a;
  }
  throw std::logic_error("FakeSession has no answer for: " + sql);
}

Rows FakeSession::query(const std::string& sql, const std::vector<Value>&) {
  const Answer& a = answer(sql);
  if (a.error) throw *a.error;
  return a.rows;
}

std::optional<Rows> FakeSession::try_query(const std::string& sql, std::string* error,
                                           const std::vector<Value>&) {
  const Answer& a = answer(sql);
  if (!a.error) return a.rows;
  if (error) *error = a.error->what();
  return std::nullopt;
}

bool FakeDatabase::ensure_open(std::chrono::steady_clock::time_point now, std::string* error) {
  if (open_) return true;
  if (now < next_attempt_) {
    if (error) *error = "waiting to reconnect (back-off)";
    return false;
  }
  if (refuse_connects > 0) {
    --refuse_connects;
    if (error) *error = "connection refused";
    drop(now);
    return false;
  }
  open_ = true;
  ++connects;
  return true;
}

void FakeDatabase::drop(std::chrono::steady_clock::time_point now) {
  open_ = false;
  next_attempt_ = now + std::chrono::seconds(1);
}

void FakeDatabase::run(const TransactionLimits& limits, const std::function<void(Session&)>& fn) {
  if (!open_) throw ConnectionLost("not connected");
  transactions.push_back(limits);
  fn(session);
}

Rows make_rows(std::vector<std::string> columns,
               const std::vector<std::vector<std::string>>& cells) {
  std::vector<std::vector<Value>> rows;
  for (const auto& line : cells) {
    std::vector<Value> row;
    for (const auto& cell : line) row.push_back(cell == "NULL" ? Value{} : Value{cell});
    rows.push_back(std::move(row));
  }
  return Rows(std::move(columns), std::move(rows));
}

const prometheus::ClientMetric* find_metric(const Snapshot& snapshot, const std::string& name,
                                            const Labels& labels) {
  const prometheus::ClientMetric* found = nullptr;
  for (const auto& f : snapshot.families) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      if (!labels_include(m, labels)) continue;
      if (found)
        throw std::runtime_error("several series match " + name + describe(snapshot, name));
      found = &m;
    }
  }
  return found;
}

std::optional<double> find_value(const Snapshot& snapshot, const std::string& name,
                                 const Labels& labels) {
  for (const auto& f : snapshot.families) {
    if (f.name != name) continue;
    const prometheus::ClientMetric* m = find_metric(snapshot, name, labels);
    if (m) return metric_value(f, *m);
  }
  return std::nullopt;
}

double value(const Snapshot& snapshot, const std::string& name, const Labels& labels) {
  auto v = find_value(snapshot, name, labels);
  if (!v) {
    std::ostringstream msg;
    msg << "no series " << name << " with {";
    for (const auto& [k, val] : labels) msg << k << "=\"" << val << "\",";
    msg << "}; present:" << describe(snapshot, name);
    throw std::runtime_error(msg.str());
  }
  return *v;
}

std::size_t count_series(const Snapshot& snapshot, const std::string& name, const Labels& labels) {
  std::size_t n = 0;
  for (const auto& f : snapshot.families) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) n += labels_include(m, labels) ? 1 : 0;
  }
  return n;
}

std::vector<Sample> parse_exposition(const std::string& text) {
  static const std::regex line_re(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$)");
  static const std::regex label_re(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)")re");
  std::vector<Sample> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::smatch m;
    if (!std::regex_match(line, m, line_re)) continue;
    Sample s;
    s.name = m[1];
    const std::string labels = m[3];
    for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label_re);
         it != std::sregex_iterator(); ++it) {
      s.labels[(*it)[1]] = (*it)[2];
    }
    s.value = std::strtod(m[4].str().c_str(), nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<double> find_sample(const std::vector<Sample>& samples, const std::string& name,
                                  const std::map<std::string, std::string>& labels) {
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool ok = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      ok = ok && it != s.labels.end() && it->second == v;
    }
    if (ok) return s.value;
  }
  return std::nullopt;
}

namespace {

// Sends one request and reads the whole response (the server closes the connection); nullopt when
// nothing listens on the port.
std::optional<std::string> raw_request(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return std::nullopt;
  }
  if (write(fd, request.data(), request.size()) < 0) {
    close(fd);
    throw std::runtime_error("write failed");
  }
  std::string resp;
  char buf[65536];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) resp.append(buf, static_cast<size_t>(n));
  close(fd);
  return resp;
}

}  // namespace

std::string http_get(int port, const std::string& path, int* status) {
  const auto resp = raw_request(port, "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (!resp) throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  auto sp = resp->find(' ');
  if (status) *status = sp == std::string::npos ? 0 : std::atoi(resp->c_str() + sp + 1);
  auto body = resp->find("\r\n\r\n");
  return body == std::string::npos ? "" : resp->substr(body + 4);
}

std::pair<int, std::string> http_request(int port, const std::string& path,
                                         const std::string& headers, const std::string& method) {
  const auto resp =
      raw_request(port, method + " " + path + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
  if (!resp) return {0, ""};
  int status = 0;
  std::sscanf(resp->c_str(), "HTTP/1.%*d %d", &status);
  return {status, *resp};
}

bool eventually(const std::function<bool()>& pred, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

bool eventually_value(CollectorRunner& runner, const std::string& name, const Labels& labels,
                      const std::function<bool(double)>& ok, double timeout_s) {
  return eventually(
      [&] {
        const auto v = find_value(runner.run(), name, labels);
        return v && ok(*v);
      },
      timeout_s);
}

ExporterProcess::ExporterProcess(const std::string& config_toml,
                                 std::vector<std::string> extra_args) {
  config_path_ = temp_path("exporter_config") + ".toml";
  std::string format;
  std::tie(log_path_, format) = exporter_log_path_and_format();
  std::ofstream(config_path_) << config_toml;
  std::vector<std::string> args{exporter_binary(), "--web.listen-address=127.0.0.1:0",
                                "--log.level=debug", "--log.format=" + format};
  if (!config_toml.empty()) args.push_back("--config.file=" + config_path_);
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = fork();
  if (pid_ == 0) {
    FILE* log = std::freopen(log_path_.c_str(), "w", stderr);
    (void)log;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  // The first "listening" event's port, in either format.
  static const std::regex port_re(
      "(msg=listening .*port=|\"msg\":\"listening\".*\"port\":\")([0-9]+)");
  const bool started = eventually(
      [&] {
        std::smatch m;
        const std::string text = read_file(log_path_);
        if (std::regex_search(text, m, port_re)) port_ = std::stoi(m[2]);
        return port_ > 0 || waitpid(pid_, nullptr, WNOHANG) != 0;
      },
      10);
  if (!started || port_ == 0) {
    throw std::runtime_error("exporter did not start; log:\n" + read_file(log_path_));
  }
}

ExporterProcess::~ExporterProcess() {
  stop();
  std::remove(config_path_.c_str());
}

std::string ExporterProcess::log() const { return read_file(log_path_); }

void ExporterProcess::write_config(const std::string& config_toml) const {
  std::ofstream(config_path_) << config_toml;
}

std::vector<Sample> ExporterProcess::wait_for(
    const std::function<bool(const std::vector<Sample>&)>& pred, double timeout_s) const {
  std::vector<Sample> samples;
  eventually(
      [&] {
        try {
          samples = parse_exposition(metrics());
        } catch (const std::exception&) {
          return false;
        }
        return pred(samples);
      },
      timeout_s);
  return samples;
}

std::vector<Sample> ExporterProcess::wait_for_series(
    const std::string& name, const std::map<std::string, std::string>& labels,
    double timeout_s) const {
  return wait_for(
      [&](const std::vector<Sample>& s) { return find_sample(s, name, labels).has_value(); },
      timeout_s);
}

bool ExporterProcess::alive() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

int ExporterProcess::stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::pair<int, std::string> promtool_check_metrics(const std::string& exposition,
                                                   const std::string& path) {
  std::ofstream(path) << exposition;
  const int rc =
      std::system(("promtool check metrics < " + path + " > " + path + ".out 2>&1").c_str());
  std::ifstream out(path + ".out");
  return {rc, std::string((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>())};
}

std::pair<int, std::string> run_exporter(const std::vector<std::string>& args,
                                         const std::map<std::string, std::string>& env) {
  const std::string out_path = temp_path("exporter_run") + ".out";
  std::string cmd = "env ";
  for (const auto& [k, v] : env) cmd += k + "='" + v + "' ";
  cmd += exporter_binary();
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " >" + out_path + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::string out = read_file(out_path);
  std::remove(out_path.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

}  // namespace pge::test
