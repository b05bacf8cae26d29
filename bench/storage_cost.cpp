// Database cost of the storage collectors (issue 6 item 6): cycles of bloat, maintenance,
// write_amplification and functions run as the scheduler runs them, timed by the client (wall) and
// by pg_stat_statements (execution + planning time of the exporter role: the database's own time),
// plus the cost per hour at the default intervals. The bloat collector is also run with a small
// budget to show that the exact pass keeps to it while the rotation advances.
//
//   storage_cost EXPORTER_DSN ADMIN_DSN [CYCLES]
// The exporter DSN's role must be pge_exporter; the admin DSN reads pg_stat_statements.
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

constexpr const char* kExporterDbMs =
    "SELECT COALESCE(sum(total_exec_time + total_plan_time), 0) FROM pg_stat_statements"
    " WHERE userid = 'pge_exporter'::regrole"
    " AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())";

struct Cycle {
  double wall_ms = 0, db_ms = 0, pass_s = 0, pass_relations = 0;
};

double gauge(const Snapshot& s, const std::string& name) {
  for (const auto& f : s.families) {
    if (f.name == name && !f.metric.empty()) return f.metric.front().gauge.value;
  }
  return 0;
}

// One collector instance over `cycles` runs on its own connection (state kept, like the scheduler).
std::vector<Cycle> run(const Target& target, pqxx::connection& admin, const std::string& name,
                       CollectorSettings settings, int cycles) {
  const CollectorInfo* info = find_collector(name);
  auto collector = info->code.make();
  Connection conn(target.dsn, Seconds{5}, Seconds{1});
  std::string error;
  if (!conn.ensure_open(std::chrono::steady_clock::now(), &error)) throw std::runtime_error(error);
  std::vector<Cycle> out;
  for (int i = 0; i < cycles; ++i) {
    pqxx::nontransaction before_tx(admin);
    const double before = before_tx.exec1(kExporterDbMs)[0].as<double>();
    before_tx.commit();
    const auto t0 = std::chrono::steady_clock::now();
    CollectContext ctx{target, settings, std::chrono::system_clock::now()};
    Snapshot snap;
    conn.run({settings.timeout, Seconds{0.5}, true},
             [&](Session& s) { snap = collector->collect(s, ctx); });
    Cycle c;
    c.wall_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    pqxx::nontransaction after_tx(admin);
    c.db_ms = after_tx.exec1(kExporterDbMs)[0].as<double>() - before;
    c.pass_s = gauge(snap, "pg_bloat_exact_pass_duration_seconds");
    c.pass_relations = gauge(snap, "pg_bloat_exact_pass_relations");
    out.push_back(c);
  }
  return out;
}

double median(std::vector<Cycle> v, double Cycle::*field) {
  std::sort(v.begin(), v.end(),
            [&](const Cycle& a, const Cycle& b) { return a.*field < b.*field; });
  return v[v.size() / 2].*field;
}

double maximum(const std::vector<Cycle>& v, double Cycle::*field) {
  double m = 0;
  for (const auto& c : v) m = std::max(m, c.*field);
  return m;
}

CollectorSettings defaults(const std::string& name) {
  const CollectorInfo* info = find_collector(name);
  CollectorSettings s;
  s.interval = info->default_interval;
  s.timeout = info->default_timeout;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: storage_cost EXPORTER_DSN ADMIN_DSN [CYCLES]\n");
    return 2;
  }
  Target target;
  target.name = "bench";
  target.dsn = argv[1];
  target.updated_at_trigger = Pattern{"updated_at", std::regex("updated_at", std::regex::extended)};
  pqxx::connection admin(argv[2]);
  const int cycles = argc > 3 ? std::atoi(argv[3]) : 5;

  std::printf("%-22s %8s %10s %10s %12s %14s\n", "collector", "interval", "wall ms", "db ms",
              "db s/hour", "core share");
  for (const char* name : {"bloat", "maintenance", "write_amplification", "functions"}) {
    CollectorSettings s = defaults(name);
    const auto runs = run(target, admin, name, s, cycles);
    const double db = median(runs, &Cycle::db_ms);
    const double per_hour = db / 1000 * 3600 / s.interval.count();
    std::printf("%-22s %7.0fs %10.1f %10.1f %12.2f %13.4f%%\n", name, s.interval.count(),
                median(runs, &Cycle::wall_ms), db, per_hour, per_hour / 3600 * 100);
  }

  std::printf("\nbloat exact pass against its budget (one collector instance, %d cycles each)\n",
              cycles * 2);
  std::printf("%10s %14s %14s %16s\n", "budget s", "median pass s", "max pass s", "relations/pass");
  for (double budget : {2.0, 0.2, 0.05}) {
    CollectorSettings s = defaults("bloat");
    s.numbers["budget"] = budget;
    const auto runs = run(target, admin, "bloat", s, cycles * 2);
    std::printf("%10.2f %14.3f %14.3f %16.1f\n", budget, median(runs, &Cycle::pass_s),
                maximum(runs, &Cycle::pass_s), median(runs, &Cycle::pass_relations));
  }
  return 0;
}
