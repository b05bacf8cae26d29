// Through pgbouncer in transaction mode (as on Supabase): collector transactions keep their SET
// LOCAL timeouts, leak no session state to other clients, and need no named prepared statements.
#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace pge {
namespace {

class Pgbouncer {
 public:
  Pgbouncer() : dir_(test::build_dir() + "/pgbouncer"), port_(test::test_port() + 9) {
    const std::string cmd = test::source_dir() + "/scripts/pgbouncer_local.sh start " + dir_ + " " +
                            std::to_string(port_) + " " + std::to_string(test::test_port());
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("pgbouncer did not start");
  }
  ~Pgbouncer() {
    std::system((test::source_dir() + "/scripts/pgbouncer_local.sh stop " + dir_).c_str());
  }
  std::string dsn(const std::string& db, const std::string& user) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + db + " user=" + user;
  }

 private:
  std::string dir_;
  int port_;
};

TEST(Pgbouncer, TransactionModeKeepsTimeoutsLocalAndCollectorsWork) {
  test::TestDatabase db;
  Pgbouncer bouncer;
  Connection conn(bouncer.dsn(db.name(), "pge_exporter"), Seconds{5}, Seconds{1});
  ASSERT_TRUE(conn.ensure_open(std::chrono::steady_clock::now(), nullptr));
  for (int i = 0; i < 3; ++i) {
    conn.run({Seconds{1.5}, Seconds{0.25}, true}, [](Session& s) {
      EXPECT_EQ(s.query("SHOW statement_timeout").text(0, "statement_timeout"), "1500ms");
      EXPECT_EQ(s.query("SELECT $1::int + 1 AS n", {Value{"41"}}).text(0, "n"), "42");
    });
  }
  // Another client of the same pool sees the server default: nothing leaked out of our
  // transactions.
  auto other = test::run_sql(bouncer.dsn(db.name(), "postgres"), "SHOW statement_timeout");
  EXPECT_EQ(other.text(0, "statement_timeout"), "0");
  for (const char* collector : {"tables", "indexes", "database", "activity", "server"}) {
    test::CollectorRunner runner(collector,
                                 test::make_target(bouncer.dsn(db.name(), "pge_exporter")));
    EXPECT_NO_THROW(runner.run()) << collector;
    EXPECT_NO_THROW(runner.run()) << collector << " (second run on a pooled connection)";
  }
}

}  // namespace
}  // namespace pge
