// Database cost of the migration collectors (issue 5 item 7): one cycle of each collector, run as
// the scheduler runs it, timed by the client (wall) and by pg_stat_statements (execution + planning
// time of the exporter role's statements: the database's own time), then the total per hour at the
// default intervals and its share of one core. promoted_columns is measured twice: a cycle with its
// full check (once per full_check_interval) and an ordinary cycle (index passes only).
//
//   migration_cost EXPORTER_DSN ADMIN_DSN [CYCLES] [PROMOTED_SCHEMA]
// The exporter DSN's role must be pge_exporter; the admin DSN reads pg_stat_statements.
// PROMOTED_SCHEMA points the promoted columns at another copy of context_events (e.g. a 10M-row
// bench10.context_events made from the reference data; see bench/migration_cost.sh).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "collectors/registry.h"
#include "core/config.h"
#include "core/session.h"

namespace {

using namespace pge;

double exporter_db_ms(pqxx::connection& admin) {
  pqxx::nontransaction tx(admin);
  return tx
      .exec1(
          "SELECT COALESCE(sum(total_exec_time + total_plan_time), 0) FROM pg_stat_statements"
          " WHERE userid = 'pge_exporter'::regrole AND dbid = (SELECT oid FROM pg_database"
          " WHERE datname = current_database())")[0]
      .as<double>();
}

struct Cost {
  double wall_ms, db_ms;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

class Bench {
 public:
  Bench(Target target, const std::string& admin_dsn)
      : target_(std::move(target)), admin_(admin_dsn) {}

  // Runs `cycles` cycles of one collector instance; `full_every_cycle` forces promoted_columns'
  // full check each time (full_check_interval 0) instead of only on the first cycle.
  Cost measure(const std::string& name, int cycles, bool full_every_cycle, bool skip_first) {
    const CollectorInfo* info = find_collector(name);
    CollectorSettings settings;
    settings.interval = info->default_interval;
    settings.timeout = Seconds{600};
    if (full_every_cycle) {
      settings.numbers["full_check_interval"] = 0;
      settings.numbers["full_check_budget_ratio"] = 0;
    }
    auto collector = info->code.make();
    Connection conn(target_.dsn, Seconds{5}, Seconds{1});
    std::string error;
    if (!conn.ensure_open(std::chrono::steady_clock::now(), &error))
      throw std::runtime_error(error);
    std::vector<double> wall, db;
    for (int i = 0; i < cycles + (skip_first ? 1 : 0); ++i) {
      const double before = exporter_db_ms(admin_);
      const auto t0 = std::chrono::steady_clock::now();
      CollectContext ctx{target_, settings, std::chrono::system_clock::now()};
      conn.run({settings.timeout, Seconds{0.5}, true},
               [&](Session& s) { collector->collect(s, ctx); });
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      const double db_ms = exporter_db_ms(admin_) - before;
      if (skip_first && i == 0) continue;
      wall.push_back(ms);
      db.push_back(db_ms);
    }
    return {median(wall), median(db)};
  }

 private:
  Target target_;
  pqxx::connection admin_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s EXPORTER_DSN ADMIN_DSN [CYCLES]\n", argv[0]);
    return 2;
  }
  const int cycles = argc > 3 ? std::atoi(argv[3]) : 5;
  setenv("SHAREDMINDS_DSN", argv[1], 1);
  setenv("SHAREDMINDS_PROBE_DSN", argv[1], 1);  // the write probe is not part of this benchmark
  ConfigResult cfg =
      load_config(std::string(PGE_SOURCE_DIR) + "/config/sharedminds.toml", known_collectors());
  if (!cfg.config) {
    std::fprintf(stderr, "config/sharedminds.toml: %s\n", cfg.errors.at(0).render().c_str());
    return 1;
  }
  Target target = cfg.config->targets.at(0);
  const std::string promoted_schema = argc > 4 ? argv[4] : "public";
  for (auto& c : target.promoted_columns) c.schema = promoted_schema;
  Bench bench(target, argv[2]);
  {
    pqxx::connection admin(argv[2]);
    pqxx::nontransaction tx(admin);
    const std::string ce = tx.quote(promoted_schema + ".context_events");
    std::printf(
        "database %s: %s.context_events %.0f rows, analytics_events %.0f rows, %s; created_at "
        "index: %s\n",
        admin.dbname(), promoted_schema.c_str(),
        tx.exec1("SELECT reltuples FROM pg_class WHERE oid = " + ce + "::regclass")[0].as<double>(),
        tx.exec1("SELECT sum(reltuples) FROM pg_partition_tree('analytics_events') p JOIN pg_class "
                 "c ON c.oid = p.relid WHERE isleaf")[0]
            .as<double>(),
        tx.exec1("SELECT pg_size_pretty(pg_database_size(current_database()))")[0].c_str(),
        tx.exec1("SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                 "i.indrelid AND a.attnum = i.indkey[0]"
                 " WHERE i.indrelid = " +
                 ce + "::regclass AND a.attname = 'created_at')")[0]
                .as<bool>()
            ? "yes"
            : "no");
  }

  struct Row {
    const char* label;
    std::string collector;
    bool full;
    double per_hour;  // cycles of this kind per hour at the default interval
  };
  const double pc_interval = find_collector("promoted_columns")->default_interval.count();
  std::vector<Row> rows{
      {"promoted_columns (full check)", "promoted_columns", true, 1},
      {"promoted_columns (between full checks)", "promoted_columns", false, 3600 / pc_interval - 1},
  };
  for (const char* c : {"partitions", "growth", "matviews", "cron_jobs"}) {
    rows.push_back({c, c, false, 3600 / find_collector(c)->default_interval.count()});
  }
  std::printf("\n%-40s %9s %12s %12s %9s %14s %10s\n", "collector cycle", "interval", "wall ms",
              "db ms", "cycles/h", "db s/hour", "% 1 core");
  double total = 0;
  for (const auto& r : rows) {
    const Cost c = bench.measure(r.collector, r.full ? std::max(1, cycles / 2) : cycles, r.full,
                                 r.collector == "promoted_columns" && !r.full);
    // The time budget (full_check_budget_ratio 0.005) spaces out full checks that take long.
    const double cycles_per_hour =
        r.full ? std::min(r.per_hour, 3600 * 0.005 / (c.wall_ms / 1000)) : r.per_hour;
    const double per_hour = c.db_ms * cycles_per_hour / 1000;
    total += per_hour;
    std::printf("%-40s %8.0fs %12.1f %12.1f %9.2f %14.2f %9.3f%%\n", r.label,
                find_collector(r.collector)->default_interval.count(), c.wall_ms, c.db_ms,
                cycles_per_hour, per_hour, per_hour / 36);
  }
  std::printf("%-40s %9s %12s %12s %9s %14.2f %9.3f%%\n", "total", "", "", "", "", total,
              total / 36);
  return 0;
}
