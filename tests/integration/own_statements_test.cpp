// Every statement the exporter sends carries its marker (core/session.h), so that the statements
// collector can leave them out by what they are when an application shares the exporter's role
// (issue 14 item 8). Checked against pg_stat_statements itself after every registered collector
// ran, configured like SharedMinds with the write probe on.
#include <gtest/gtest.h>

#include "collectors/registry.h"
#include "tests/support/test_support.h"

namespace pge {
namespace {

TEST(OwnStatements, EveryStatementOfEveryCollectorCarriesTheMarker) {
  test::ClusterLock lock{"pg_stat_statements"};
  test::TestDatabase db;
  db.exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  const std::string roles = "('pge_exporter', 'pge_probe_writer')";
  const std::string ours =
      "s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
      " AND s.userid IN (SELECT oid FROM pg_roles WHERE rolname IN " +
      roles + ")";
  db.exec(
      "SELECT pg_stat_statements_reset(r.oid, d.oid, 0) FROM pg_roles r, pg_database d"
      " WHERE r.rolname IN " +
      roles + " AND d.datname = current_database()");

  db.export_sharedminds_dsns();
  ConfigResult loaded =
      load_config(test::source_dir() + "/config/sharedminds.toml", known_collectors());
  ASSERT_TRUE(loaded.config);
  Target target = loaded.config->targets.at(0);
  for (const auto& info : collector_registry()) {
    CollectorSettings settings = loaded.config->collectors.at(info.name);
    settings.numbers["full_interval"] =
        0;  // statements: a full sample (and the text fetch) every run
    test::CollectorRunner runner(info.name, target, settings);
    for (int run = 0; run < 2; ++run) {
      try {
        runner.run();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "collector " << info.name
                      << " failed on the reference database: " << e.what();
      }
    }
  }

  const Rows unmarked = db.query("SELECT s.query FROM pg_stat_statements s WHERE " + ours +
                                 " AND s.query NOT LIKE '/* pg_evolution_exporter */%'");
  for (std::size_t r = 0; r < unmarked.size(); ++r)
    ADD_FAILURE() << "unmarked: " << unmarked.text(r, "query");
  EXPECT_EQ(unmarked.size(), 0u);
  // BEGIN, the limits, savepoints and the end of each transaction, the write probe's too. (No
  // savepoint name: pg_stat_statements 1.11, PostgreSQL 17, records it as $1.)
  for (const char* statement : {"BEGIN READ ONLY", "SET LOCAL statement_timeout", "SAVEPOINT ",
                                "ROLLBACK", "INSERT INTO", "COMMIT"}) {
    EXPECT_GT(db.scalar("SELECT count(*) FROM pg_stat_statements s WHERE " + ours +
                        " AND s.query LIKE '/* pg_evolution_exporter */ " + statement + "%'"),
              0)
        << statement;
  }
}

}  // namespace
}  // namespace pge
