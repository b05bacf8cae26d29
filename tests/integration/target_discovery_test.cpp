// Database discovery end to end (target.discover_databases, exporter/target_discovery.h) on the
// test cluster: the exporter runs one target per database that pg_database lists as connectable,
// not a template and passing include/exclude_databases; each serves its own database's tables (as
// pg_stat_user_tables in that database says); a dropped database's target and series go away and
// a created one appears without a restart; /probe serves a discovered target alone.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "collectors/registry.h"
#include "tests/support/test_support.h"

namespace pge::test {
namespace {

constexpr const char* kTableSeries = "pg_stat_user_tables_seq_scan_total";

// Databases of this test process: the prefix keeps other tests' databases out of its discovery.
class Databases {
 public:
  Databases() : prefix_("pge_disc_" + std::to_string(::getpid()) + "_") {}
  ~Databases() {
    for (const auto& name : created_) drop_quietly(name);
  }
  const std::string& prefix() const { return prefix_; }

  // A database (from template0) with one table named after it, then altered WITH `options`.
  std::string create(const std::string& suffix, const std::string& options = "") {
    const std::string name = prefix_ + suffix;
    run_sql(admin_dsn(), "CREATE DATABASE " + name + " TEMPLATE template0");
    created_.insert(name);
    run_sql(admin_dsn(name), "CREATE TABLE only_in_" + suffix + " (id int)");
    if (!options.empty()) run_sql(admin_dsn(), "ALTER DATABASE " + name + " WITH " + options);
    return name;
  }
  void drop(const std::string& name) {
    run_sql(admin_dsn(), "DROP DATABASE " + name + " WITH (FORCE)");
    created_.erase(name);
  }

 private:
  static void drop_quietly(const std::string& name) {
    try {
      run_sql(admin_dsn(), "ALTER DATABASE " + name + " IS_TEMPLATE false");
      run_sql(admin_dsn(), "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot drop " << name << ": " << e.what();
    }
  }
  std::string prefix_;
  std::set<std::string> created_;
};

// The exporter's role, connected to `postgres`: the database the list is read from.
std::string exporter_dsn() {
  return "host=127.0.0.1 port=" + std::to_string(test_port()) +
         " dbname=postgres user=pge_exporter password=exporter";
}

std::string discovery_config(const std::string& prefix) {
  std::string toml =
      "[exporter]\nconnect_timeout = \"2s\"\n[[target]]\nname = \"cluster\"\ndsn = \"" +
      exporter_dsn() +
      "\"\ndiscover_databases = true\ndiscovery_interval = \"1s\"\n"
      "include_databases = [\"^" +
      prefix + "\"]\nexclude_databases = [\"_skip$\"]\n";
  for (const auto& info : collector_registry()) {
    const bool on = info.name == "tables";
    toml += "[collectors." + info.name + "]\nenabled = " + (on ? "true" : "false") + "\n";
    if (on) toml += "interval = \"1s\"\n";
  }
  return toml;
}

// What the exporter should run: "cluster/" + every database pg_database says is connectable, no
// template, of this test and not excluded.
std::set<std::string> expected_targets(const std::string& prefix) {
  const Rows rows = run_sql(admin_dsn(),
                            "SELECT datname FROM pg_database WHERE datallowconn AND NOT "
                            "datistemplate AND starts_with(datname, '" +
                                prefix + "') AND datname !~ '_skip$'");
  std::set<std::string> out;
  for (std::size_t i = 0; i < rows.size(); ++i) out.insert("cluster/" + rows.text(i, "datname"));
  return out;
}

std::set<std::string> served_targets(const std::vector<Sample>& samples) {
  std::set<std::string> out;
  for (const auto& s : samples) {
    if (s.name == "pg_up" && s.value == 1) out.insert(s.labels.at("target"));
  }
  return out;
}

// The relations whose table series `target` serves.
std::set<std::string> served_tables(const std::vector<Sample>& samples, const std::string& target) {
  std::set<std::string> out;
  for (const auto& s : samples) {
    if (s.name == kTableSeries && s.labels.at("target") == target) {
      out.insert(s.labels.at("schemaname") + "." + s.labels.at("relname"));
    }
  }
  return out;
}

// pg_stat_user_tables of the database, as its own sessions see it.
std::set<std::string> sql_tables(const std::string& datname) {
  const Rows rows = run_sql(admin_dsn(datname),
                            "SELECT schemaname || '.' || relname AS t FROM pg_stat_user_tables");
  std::set<std::string> out;
  for (std::size_t i = 0; i < rows.size(); ++i) out.insert(rows.text(i, "t"));
  return out;
}

// Every expected target is up and serves exactly its database's tables, and nothing else runs.
bool matches_sql_truth(const std::vector<Sample>& samples, const std::string& prefix) {
  const std::set<std::string> expected = expected_targets(prefix);
  if (served_targets(samples) != expected) return false;
  for (const auto& target : expected) {
    if (served_tables(samples, target) != sql_tables(target.substr(8))) return false;
  }
  return true;
}

std::string describe(const std::vector<Sample>& samples) {
  std::string out = "served targets:";
  for (const auto& t : served_targets(samples)) out += " " + t;
  return out;
}

TEST(TargetDiscovery, EachSelectedDatabaseIsATargetThatFollowsCreateAndDrop) {
  Databases dbs;
  const std::string a = dbs.create("a");
  const std::string b = dbs.create("b");
  dbs.create("c_skip");
  dbs.create("tpl", "IS_TEMPLATE true");
  dbs.create("closed", "ALLOW_CONNECTIONS false");
  ExporterProcess exporter(discovery_config(dbs.prefix()));

  auto samples = exporter.wait_for(
      [&](const std::vector<Sample>& s) { return matches_sql_truth(s, dbs.prefix()); }, 60);
  ASSERT_TRUE(matches_sql_truth(samples, dbs.prefix())) << describe(samples);
  EXPECT_EQ(expected_targets(dbs.prefix()), (std::set<std::string>{"cluster/" + a, "cluster/" + b}))
      << "the excluded, template and closed databases are not targets";
  EXPECT_EQ(served_tables(samples, "cluster/" + a), std::set<std::string>{"public.only_in_a"});
  EXPECT_EQ(
      find_sample(samples, "pg_evolution_exporter_discovery_success", {{"target", "cluster"}}), 1);

  dbs.drop(b);
  const std::string d = dbs.create("d");
  samples = exporter.wait_for(
      [&](const std::vector<Sample>& s) { return matches_sql_truth(s, dbs.prefix()); }, 60);
  ASSERT_TRUE(matches_sql_truth(samples, dbs.prefix())) << describe(samples);
  EXPECT_TRUE(served_tables(samples, "cluster/" + b).empty()) << "the dropped database's series";
  EXPECT_EQ(served_tables(samples, "cluster/" + d), std::set<std::string>{"public.only_in_d"});
  EXPECT_EQ(
      find_sample(samples, "pg_evolution_exporter_discovery_databases", {{"target", "cluster"}}),
      2);

  int status = 0;
  const auto probed =
      parse_exposition(http_get(exporter.port(), "/probe?target=cluster%2F" + d, &status));
  EXPECT_EQ(status, 200);
  EXPECT_EQ(find_sample(probed, "pg_up", {{"target", "cluster/" + d}}), 1);
  EXPECT_EQ(served_targets(probed), std::set<std::string>{"cluster/" + d});
  EXPECT_EQ(served_tables(probed, "cluster/" + d), std::set<std::string>{"public.only_in_d"});
  http_get(exporter.port(), "/probe?target=cluster%2F" + b, &status);
  EXPECT_EQ(status, 404) << "a dropped database is no longer a target";

  EXPECT_EQ(exporter.log().find("password=exporter"), std::string::npos);
  std::ifstream doc_file(source_dir() + "/docs/metrics.md");
  std::stringstream doc;
  doc << doc_file.rdbuf();
  int documented = 0;
  for (const auto& s : parse_exposition(exporter.metrics())) {
    if (s.name.rfind("pg_evolution_exporter_discovery_", 0) != 0) continue;
    EXPECT_NE(doc.str().find("`" + s.name + "`"), std::string::npos) << s.name;
    ++documented;
  }
  EXPECT_EQ(documented, 3);
}

}  // namespace
}  // namespace pge::test
