// The fault suite: the exporter binary against a cluster of its own (and a pgbouncer in front of
// it) while faults are injected and healed. For every fault it checks that the exporter stays
// alive, answers /metrics within 2 s throughout, reports the fault truthfully (pg_up, collector
// status, staleness, the deadline and skip counters), and is healthy again within a stated time
// after the heal. Measured detection and recovery times go to BUILD_DIR/fault_suite_times.txt.
//
// The tests share one cluster and serialize on a lock (a restart would disturb a neighbour). The
// exporter runs as least-privilege roles made by scripts/create-role.sql: pge_fault (password
// authentication, for the rotation fault) and pge_exporter (trusted, through pgbouncer).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "collectors/registry.h"
#include "tests/support/test_support.h"

namespace pge::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

constexpr const char* kDb = "pge_fault";
constexpr const char* kPassword = "fault-Pa55";
// Collector interval, statement timeout and deadline margin of the exporter under test.
constexpr double kInterval = 1.0;
constexpr double kTimeout = 2.0;
const std::vector<std::string> kCollectors{"server",     "database",   "tables",
                                           "statements", "partitions", "activity"};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int sh(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

class FaultCluster {
 public:
  FaultCluster()
      : dir_(test::build_dir() + "/fault-pg"),
        bouncer_dir_(test::build_dir() + "/fault-bouncer"),
        port_(test::test_port() + 13),
        bouncer_port_(test::test_port() + 14) {}

  void start() const {
    ASSERT_EQ(sh(script("pg_local.sh") + " start " + dir_ + " " + std::to_string(port_)), 0);
  }
  void stop() const { ASSERT_EQ(sh(script("pg_local.sh") + " stop " + dir_), 0); }
  void restart() const { ASSERT_EQ(sh(script("pg_local.sh") + " restart " + dir_), 0); }
  void start_bouncer() const {
    ASSERT_EQ(sh(script("pgbouncer_local.sh") + " start " + bouncer_dir_ + " " +
                 std::to_string(bouncer_port_) + " " + std::to_string(port_)),
              0);
  }
  void stop_bouncer() const { sh(script("pgbouncer_local.sh") + " stop " + bouncer_dir_); }
  int bouncer_pid() const {
    std::ifstream in(bouncer_dir_ + "/pgbouncer.pid");
    int pid = 0;
    in >> pid;
    return pid;
  }
  void bouncer_admin(const std::string& command) const {
    ASSERT_EQ(sh("psql -X -q -h 127.0.0.1 -p " + std::to_string(bouncer_port_) +
                 " -U postgres -d pgbouncer -c '" + command + "' >/dev/null"),
              0);
  }

  // The database, its roles and the password rule for pge_fault; idempotent.
  void prepare() const {
    start();
    if (test::run_sql(admin("postgres"), "SELECT 1 FROM pg_database WHERE datname = 'pge_fault'")
            .empty()) {
      test::run_sql(admin("postgres"), "CREATE DATABASE pge_fault");
    }
    exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    exec("CREATE TABLE IF NOT EXISTS public.items (id int PRIMARY KEY, v text)");
    exec(
        "INSERT INTO public.items SELECT g, 'x' FROM generate_series(1, 100) g ON CONFLICT DO "
        "NOTHING");
    exec("CREATE TABLE IF NOT EXISTS public.events (at date, v int) PARTITION BY RANGE (at)");
    exec(
        "CREATE TABLE IF NOT EXISTS public.events_2030 PARTITION OF public.events"
        " FOR VALUES FROM ('2030-01-01') TO ('2031-01-01')");
    exec("CREATE TABLE IF NOT EXISTS public.events_default PARTITION OF public.events DEFAULT");
    for (const char* role : {"pge_fault", "pge_exporter"}) {
      const std::string pw = std::string(role) == "pge_fault" ? kPassword : "exporter";
      ASSERT_EQ(sh("psql -X -q -h 127.0.0.1 -p " + std::to_string(port_) +
                   " -U postgres -d pge_fault -v role=" + role + " -v password=" + pw +
                   " -v tables=public.items -f " + test::source_dir() +
                   "/scripts/create-role.sql >/dev/null"),
                0);
    }
    // pg_local.sh trusts loopback; pge_fault must give its password (the rotation fault). The
    // cluster's files are where pg_local.sh says: on 17, inside the Debian 13 root.
    const std::string hba = "\"$(" + script("pg_local.sh") + " datadir " + dir_ + ")/pg_hba.conf\"";
    if (sh("grep -q '^host all pge_fault' " + hba) != 0) {
      ASSERT_EQ(sh("sed -i '1i host all pge_fault 127.0.0.1/32 scram-sha-256' " + hba), 0);
      exec("SELECT pg_reload_conf()");
    }
  }

  std::string admin(const std::string& db = kDb) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + db;
  }
  Rows exec(const std::string& sql) const { return test::run_sql(admin(), sql); }
  std::string dsn(const std::string& host = "127.0.0.1") const {
    return "host=" + host + " port=" + std::to_string(port_) +
           " dbname=pge_fault user=pge_fault password=" + kPassword;
  }
  std::string bouncer_dsn() const {
    return "host=127.0.0.1 port=" + std::to_string(bouncer_port_) +
           " dbname=pge_fault user=pge_exporter password=exporter";
  }
  // Backend pids of the exporter's sessions as `role`.
  std::vector<int> exporter_pids(const std::string& role = "pge_fault") const {
    std::vector<int> pids;
    Rows r = exec("SELECT pid FROM pg_stat_activity WHERE usename = '" + role +
                  "' AND application_name = 'pg_evolution_exporter'");
    for (std::size_t i = 0; i < r.size(); ++i) pids.push_back(std::stoi(r.text(i, "pid")));
    return pids;
  }

 private:
  std::string script(const std::string& name) const {
    return test::source_dir() + "/scripts/" + name;
  }

  std::string dir_, bouncer_dir_;
  int port_, bouncer_port_;
};

// The collectors under test at a 1 s interval (plus `extra`), every other one disabled. duty_cycle
// 1: a run slowed by a fault (2.4 s through a pooler being killed) must not spread its collector
// out past the recovery bounds; spreading out has tests of its own (SchedulerStep).
std::string exporter_config(const std::string& dsn, const std::vector<std::string>& extra = {},
                            const std::string& target_extra = "") {
  std::ostringstream c;
  c << "[exporter]\nconnect_timeout = \"2s\"\nmax_backoff = \"2s\"\nquery_deadline_margin = "
       "\"250ms\"\nduty_cycle = 1\n"
    << "[[target]]\nname = \"db\"\ndsn = \"" << dsn << "\"\n"
    << target_extra << "\n";
  for (const auto& info : collector_registry()) {
    const bool wanted = std::count(kCollectors.begin(), kCollectors.end(), info.name) +
                        std::count(extra.begin(), extra.end(), info.name);
    c << "[collectors." << info.name << "]\nenabled = " << (wanted ? "true" : "false") << "\n";
    if (wanted) c << "interval = \"1s\"\ntimeout = \"2s\"\n";
    // Every statements run a full sample: it then checks its extension and privileges each second.
    if (wanted && info.name == "statements") c << "full_interval = 1\n";
  }
  return c.str();
}

std::map<std::string, std::string> of(const std::string& collector) {
  return {{"collector", collector}, {"target", "db"}};
}

double sample_or(const std::vector<Sample>& s, const std::string& name,
                 const std::map<std::string, std::string>& labels, double fallback) {
  return test::find_sample(s, name, labels).value_or(fallback);
}

double pg_up(const std::vector<Sample>& s) { return sample_or(s, "pg_up", {{"target", "db"}}, -1); }

// Healthy: up, and every collector succeeded after `since` (Unix time) and is not stale.
bool healthy_since(const std::vector<Sample>& s, double since) {
  if (pg_up(s) != 1) return false;
  for (const auto& c : kCollectors) {
    if (sample_or(s, "pg_evolution_exporter_collector_success", of(c), 0) != 1) return false;
    if (sample_or(s, "pg_evolution_exporter_collector_stale", of(c), 1) != 0) return false;
    if (sample_or(s, "pg_evolution_exporter_collector_last_success_timestamp_seconds", of(c), 0) <
        since)
      return false;
  }
  return true;
}

// What keeps `healthy_since` false, for failure messages.
std::string unhealthy(const std::vector<Sample>& s, double since) {
  std::ostringstream why;
  why << std::fixed << "pg_up=" << pg_up(s);
  for (const auto& c : kCollectors) {
    why << " " << c
        << ":success=" << sample_or(s, "pg_evolution_exporter_collector_success", of(c), -1)
        << ",stale=" << sample_or(s, "pg_evolution_exporter_collector_stale", of(c), -1)
        << ",last_success="
        << sample_or(s, "pg_evolution_exporter_collector_last_success_timestamp_seconds", of(c),
                     -1) -
               since;
  }
  return why.str();
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void record(const std::string& fault, double detect_s, double recover_s, double max_scrape_ms) {
  std::ofstream(test::build_dir() + "/fault_suite_times.txt", std::ios::app)
      << fault << " detected_s=" << detect_s << " recovered_s=" << recover_s
      << " max_scrape_ms=" << max_scrape_ms << "\n";
  std::printf("FAULT %s: detected in %.2f s, recovered in %.2f s, slowest scrape %.0f ms\n",
              fault.c_str(), detect_s, recover_s, max_scrape_ms);
}

// Scrapes every 100 ms, keeping the slowest scrape and checking the process is alive.
class Watcher {
 public:
  explicit Watcher(const ExporterProcess& exporter) : exporter_(exporter) {}

  // Polls until pred holds; returns the seconds it took, or -1 after timeout_s.
  double until(const std::function<bool(const std::vector<Sample>&)>& pred, double timeout_s) {
    const auto t0 = Clock::now();
    while (seconds_since(t0) < timeout_s) {
      if (poll() && pred(last_)) return seconds_since(t0);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }
  // Keeps scraping for `s` seconds; returns whether pred held on every scrape.
  bool during(double s, const std::function<bool(const std::vector<Sample>&)>& pred) {
    const auto t0 = Clock::now();
    bool always = true;
    while (seconds_since(t0) < s) {
      always = poll() && pred(last_) && always;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return always;
  }
  double max_scrape_ms() const { return max_ms_; }
  const std::vector<Sample>& last() const { return last_; }

 private:
  bool poll() {
    EXPECT_TRUE(exporter_.alive()) << "the exporter died; log:\n" << exporter_.log();
    const auto t0 = Clock::now();
    try {
      int status = 0;
      const std::string body = test::http_get(exporter_.port(), "/metrics", &status);
      const double ms = seconds_since(t0) * 1000;
      max_ms_ = std::max(max_ms_, ms);
      EXPECT_LT(ms, 2000) << "a scrape took " << ms << " ms during the fault";
      if (status != 200) return false;
      last_ = test::parse_exposition(body);
      return true;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "scrape failed during the fault: " << e.what();
      return false;
    }
  }

  const ExporterProcess& exporter_;
  std::vector<Sample> last_;
  double max_ms_ = 0;
};

class FaultSuite : public ::testing::Test {
 protected:
  FaultSuite() : lock_("fault-suite") {}

  void SetUp() override { cluster_.prepare(); }

  void start_exporter(const std::string& dsn) {
    exporter_ = std::make_unique<ExporterProcess>(exporter_config(dsn));
    watcher_ = std::make_unique<Watcher>(*exporter_);
    const double since = unix_now();
    ASSERT_GE(watcher_->until([&](const auto& s) { return healthy_since(s, since); }, 20), 0)
        << "not healthy before the fault; log:\n"
        << exporter_->log();
  }

  // Heals, then waits until every collector has succeeded again; records and bounds the times.
  void heal_and_recover(const std::string& fault, double detected_s,
                        const std::function<void()>& heal, double bound_s) {
    heal();
    const double healed_at = unix_now();
    const double recovered =
        watcher_->until([&](const auto& s) { return healthy_since(s, healed_at); }, bound_s + 10);
    record(fault, detected_s, recovered, watcher_->max_scrape_ms());
    EXPECT_GE(recovered, 0) << fault << ": not healthy " << bound_s + 10
                            << " s after the heal (healed at " << std::fixed << healed_at
                            << "): " << unhealthy(watcher_->last(), healed_at) << "; log:\n"
                            << exporter_->log();
    EXPECT_LE(recovered, bound_s) << fault << ": recovery took " << recovered << " s";
  }

  double counter(const std::string& name, const std::map<std::string, std::string>& labels) const {
    return sample_or(watcher_->last(), name, labels, 0);
  }

  test::ClusterLock lock_;
  FaultCluster cluster_;
  std::unique_ptr<ExporterProcess> exporter_;
  std::unique_ptr<Watcher> watcher_;
};

// A fault that ends every session: pg_up goes to 0 until the exporter has reconnected.
constexpr double kReconnectBound = 2 /* max_backoff */ + 2 /* connect_timeout */ + kInterval + 1;

TEST_F(FaultSuite, ServerRestartIsSeenAndRecoveredFrom) {
  start_exporter(cluster_.dsn());
  const auto t0 = Clock::now();
  cluster_.restart();
  // Each failed query marks the target down until the reconnect, at least the 1 s back-off.
  const double detected = watcher_->until([](const auto& s) { return pg_up(s) == 0; }, 10);
  EXPECT_GE(detected, 0) << "pg_up never went to 0 across a restart; log:\n" << exporter_->log();
  heal_and_recover(
      "restart", detected < 0 ? -1 : seconds_since(t0), [] {}, kReconnectBound);
}

TEST_F(FaultSuite, StoppedServerIsDownWithoutStaleSeriesUntilStarted) {
  start_exporter(cluster_.dsn());
  cluster_.stop();
  const double detected =
      watcher_->until([](const auto& s) { return pg_up(s) == 0; }, 2 * kInterval + kTimeout + 1);
  EXPECT_GE(detected, 0) << exporter_->log();
  EXPECT_TRUE(watcher_->during(3, [](const auto& s) {
    return pg_up(s) == 0 && !test::find_sample(s, "pg_stat_user_tables_n_live_tup");
  })) << "pg_up or stale series while the server is stopped";
  heal_and_recover(
      "stop/start", detected, [&] { cluster_.start(); }, kReconnectBound + 2);
}

TEST_F(FaultSuite, TerminatedBackendIsReplaced) {
  start_exporter(cluster_.dsn());
  cluster_.exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'pge_fault'");
  const double detected =
      watcher_->until([](const auto& s) { return pg_up(s) == 0; }, 2 * kInterval + 1);
  EXPECT_GE(detected, 0) << exporter_->log();
  heal_and_recover(
      "terminated backend", detected, [] {}, kReconnectBound);
  EXPECT_TRUE(test::eventually([&] { return cluster_.exporter_pids().size() == 1; }, 5))
      << "more than one connection";
}

TEST_F(FaultSuite, PgStatStatementsResetAndDrop) {
  start_exporter(cluster_.dsn());
  const auto errors = [&] {
    return counter("pg_evolution_exporter_collector_errors_total", of("statements"));
  };
  const double errors_before = errors();
  cluster_.exec("SELECT pg_stat_statements_reset()");
  EXPECT_TRUE(watcher_->during(3, [](const auto& s) {
    return sample_or(s, "pg_evolution_exporter_collector_success", of("statements"), 0) == 1;
  })) << "a reset made the statements collector fail";
  EXPECT_EQ(errors(), errors_before);

  cluster_.exec("DROP EXTENSION pg_stat_statements");
  const double detected = watcher_->until(
      [](const auto& s) {
        return sample_or(s, "pg_evolution_exporter_collector_success", of("statements"), 1) == 0 &&
               pg_up(s) == 1 &&
               sample_or(s, "pg_evolution_exporter_collector_success", of("tables"), 0) == 1;
      },
      2 * kInterval + kTimeout);
  EXPECT_GE(detected, 0)
      << "the dropped extension is not reported by the statements collector alone";
  heal_and_recover(
      "pg_stat_statements dropped", detected,
      [&] { cluster_.exec("CREATE EXTENSION pg_stat_statements"); }, 2 * kInterval + 1);
}

TEST_F(FaultSuite, RevokedPgMonitorIsReportedAndRegranted) {
  start_exporter(cluster_.dsn());
  cluster_.exec("REVOKE pg_monitor FROM pge_fault");
  const double detected = watcher_->until(
      [](const auto& s) {
        return pg_up(s) == 1 &&
               sample_or(s, "pg_evolution_exporter_collector_success", of("statements"), 1) == 0;
      },
      2 * kInterval + kTimeout);
  EXPECT_GE(detected, 0) << "pg_monitor revoked is not reported; log:\n" << exporter_->log();
  heal_and_recover(
      "pg_monitor revoked", detected, [&] { cluster_.exec("GRANT pg_monitor TO pge_fault"); },
      2 * kInterval + 1);
}

TEST_F(FaultSuite, AccessExclusiveLockIsSteppedAroundAndCounted) {
  start_exporter(cluster_.dsn());
  const std::map<std::string, std::string> locked{
      {"collector", "tables"}, {"target", "db"}, {"reason", "locked"}};
  const double before = counter("pg_evolution_exporter_collector_relations_skipped_total", locked);
  pqxx::connection holder(cluster_.admin());
  auto tx = std::make_unique<pqxx::work>(holder);
  tx->exec("LOCK TABLE public.items IN ACCESS EXCLUSIVE MODE");
  const double detected = watcher_->until(
      [&](const auto& s) {
        return sample_or(s, "pg_evolution_exporter_collector_relations_skipped_total", locked, 0) >
                   before &&
               sample_or(s, "pg_evolution_exporter_collector_success", of("tables"), 0) == 1 &&
               pg_up(s) == 1;
      },
      2 * kInterval + kTimeout);
  EXPECT_GE(detected, 0) << "the locked table is not counted as skipped; log:\n"
                         << exporter_->log();
  heal_and_recover(
      "ACCESS EXCLUSIVE lock", detected, [&] { tx->abort(); }, 2 * kInterval + 1);
}

TEST_F(FaultSuite,
       FrozenBackendIsReportedWithinTwoIntervalsPlusTimeoutAndRecoversWithinAnInterval) {
  start_exporter(cluster_.dsn());
  const std::vector<int> pids = cluster_.exporter_pids();
  ASSERT_EQ(pids.size(), 1u);
  const std::map<std::string, std::string> cancels{{"target", "db"}, {"action", "cancel"}};
  const double cancels_before =
      counter("pg_evolution_exporter_client_deadline_exceeded_total", cancels);
  ASSERT_EQ(kill(pids[0], SIGSTOP), 0);
  bool saw_down = false;
  const double detected = watcher_->until(
      [&](const auto& s) {
        saw_down = saw_down || pg_up(s) == 0;
        return saw_down && sample_or(s, "pg_evolution_exporter_client_deadline_exceeded_total",
                                     cancels, 0) > cancels_before;
      },
      2 * kInterval + kTimeout + 5);
  EXPECT_GE(detected, 0) << "a frozen backend was not reported; log:\n" << exporter_->log();
  EXPECT_LE(detected, 2 * kInterval + kTimeout + 0.5) << "reported after " << detected << " s";
  // A new session serves while the old one is frozen.
  watcher_->until([&](const auto& s) { return pg_up(s) == 1; }, kReconnectBound);
  heal_and_recover(
      "frozen backend (SIGSTOP)", detected, [&] { kill(pids[0], SIGCONT); }, kInterval + 0.5);
  EXPECT_TRUE(test::eventually([&] { return cluster_.exporter_pids().size() == 1; }, 5))
      << "the frozen session lingers";
}

TEST_F(FaultSuite, PausedAndKilledPgbouncer) {
  cluster_.start_bouncer();
  start_exporter(cluster_.bouncer_dsn());
  cluster_.bouncer_admin("PAUSE");
  const double paused =
      watcher_->until([](const auto& s) { return pg_up(s) == 0; }, 2 * kInterval + kTimeout + 1);
  EXPECT_GE(paused, 0) << "a paused pooler looks healthy; log:\n" << exporter_->log();
  heal_and_recover(
      "pgbouncer paused", paused, [&] { cluster_.bouncer_admin("RESUME"); }, kReconnectBound);

  ASSERT_EQ(kill(cluster_.bouncer_pid(), SIGKILL), 0);
  std::remove((test::build_dir() + "/fault-bouncer/pgbouncer.pid").c_str());
  const double killed =
      watcher_->until([](const auto& s) { return pg_up(s) == 0; }, 2 * kInterval + kTimeout + 1);
  EXPECT_GE(killed, 0) << exporter_->log();
  heal_and_recover(
      "pgbouncer killed", killed, [&] { cluster_.start_bouncer(); }, kReconnectBound + 2);
  cluster_.stop_bouncer();
}

// A name in /etc/hosts that is removed (and put back); the line is unique to this run and removed
// whatever happens.
class HostsEntry {
 public:
  explicit HostsEntry(std::string name) : name_(std::move(name)) { add(); }
  ~HostsEntry() { remove(); }
  static bool writable() { return access("/etc/hosts", W_OK) == 0; }
  // Rewritten in place (not renamed over): /etc/hosts is often a bind mount in containers.
  void add() const { sh("echo '127.0.0.1 " + name_ + "' >> /etc/hosts"); }
  void remove() const {
    sh("grep -v ' " + name_ +
       "$' /etc/hosts > /etc/hosts.pge.$$ && cat /etc/hosts.pge.$$ > /etc/hosts; rm -f "
       "/etc/hosts.pge.$$");
  }

 private:
  std::string name_;
};

TEST_F(FaultSuite, HostNameThatStopsResolving) {
  if (!HostsEntry::writable()) GTEST_SKIP() << "/etc/hosts is not writable here";
  const std::string name = "pge-fault-" + std::to_string(getpid()) + ".test";
  HostsEntry entry(name);
  start_exporter(cluster_.dsn(name));
  entry.remove();
  // The open session keeps working; the fault bites at the next connect.
  cluster_.exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'pge_fault'");
  const double detected =
      watcher_->until([](const auto& s) { return pg_up(s) == 0; }, 2 * kInterval + 1);
  EXPECT_GE(detected, 0) << exporter_->log();
  EXPECT_TRUE(test::eventually(
      [&] { return exporter_->log().find("could not translate host name") != std::string::npos; },
      5))
      << exporter_->log();
  EXPECT_TRUE(watcher_->during(2, [](const auto& s) { return pg_up(s) == 0; }));
  heal_and_recover(
      "host name stops resolving", detected, [&] { entry.add(); }, kReconnectBound);
}

TEST_F(FaultSuite, PasswordRotatedUnderTheExporter) {
  start_exporter(cluster_.dsn());
  cluster_.exec("ALTER ROLE pge_fault PASSWORD 'rotated-elsewhere'");
  cluster_.exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'pge_fault'");
  const double detected =
      watcher_->until([](const auto& s) { return pg_up(s) == 0; }, 2 * kInterval + 1);
  EXPECT_GE(detected, 0) << exporter_->log();
  EXPECT_TRUE(watcher_->during(2, [](const auto& s) { return pg_up(s) == 0; }))
      << "up with a wrong password";
  EXPECT_THAT(exporter_->log(), HasSubstr("password authentication failed"));
  EXPECT_THAT(exporter_->log(), Not(HasSubstr(kPassword)));
  heal_and_recover(
      "password rotated", detected,
      [&] { cluster_.exec(std::string("ALTER ROLE pge_fault PASSWORD '") + kPassword + "'"); },
      kReconnectBound);
}

// SIGTERM during a long statement: cancelled, the connection closed, the process gone within 5 s.
TEST_F(FaultSuite, SigtermDuringALongStatementEndsWithinFiveSeconds) {
  std::string config =
      exporter_config(cluster_.dsn(), {"probes"},
                      "[[target.probe]]\nname = \"slow\"\nsql = \"SELECT pg_sleep(600)\"\n");
  // The probe's statement_timeout is far away: only the shutdown can end it.
  const std::string probes =
      "[collectors.probes]\nenabled = true\ninterval = \"1s\"\ntimeout = \"2s\"";
  config.replace(config.find(probes), probes.size(),
                 "[collectors.probes]\nenabled = true\ninterval = \"1s\"\ntimeout = \"10m\"");
  ExporterProcess exporter(config);
  ASSERT_TRUE(test::eventually(
      [&] {
        return !cluster_
                    .exec(
                        "SELECT 1 FROM pg_stat_activity WHERE usename = 'pge_fault' AND query LIKE "
                        "'%pg_sleep(600)%'"
                        " AND state = 'active'")
                    .empty();
      },
      20))
      << exporter.log();
  const auto t0 = Clock::now();
  EXPECT_EQ(exporter.stop(), 0);
  const double took = seconds_since(t0);
  record("SIGTERM during pg_sleep(600)", took, 0, 0);
  EXPECT_LT(took, 5.0);
  EXPECT_THAT(exporter.log(), HasSubstr("cancel"));
  EXPECT_THAT(exporter.log(), HasSubstr(R"("msg":"closed connection","target":"db")"));
  EXPECT_TRUE(test::eventually([&] { return cluster_.exporter_pids().empty(); }, 3))
      << "the session outlived the exporter";
}

}  // namespace
}  // namespace pge::test
