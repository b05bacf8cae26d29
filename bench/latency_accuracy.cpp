// Accuracy benchmark of the statements collector (issue 4 item 3): runs the collector every
// --interval seconds for --duration seconds against a cluster that logs every statement of role `app`
// to csvlog with auto_explain.log_min_duration=0 (exec time: the timer pg_stat_statements adds up)
// and log_min_duration_statement=0 (whole statement), then prints true vs estimated p50/p95/p99 per
// command, per class and overall with relative errors. Driven by bench/latency_accuracy.sh.
// With --fault-cmd (the sensitivity run) a second window follows the command, measured by the same
// collector (its per-entry history carries over, as in production), and a table compares each class's
// estimated and true p95 before and after.
//
//   latency_accuracy --dsn DSN --csvlog FILE [--duration S] [--interval S]
//                    [--fault-cmd CMD --target-class CLASS]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "collectors/registry.h"
#include "exporter/latency_estimator.h"
#include "exporter/session.h"

namespace {

using namespace pge;

struct Args {
  std::string dsn, csvlog, fault_cmd, target_class;
  double duration = 90, interval = 5;
};

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--dsn") a.dsn = v;
    else if (k == "--csvlog") a.csvlog = v;
    else if (k == "--duration") a.duration = std::stod(v);
    else if (k == "--interval") a.interval = std::stod(v);
    else if (k == "--fault-cmd") a.fault_cmd = v;
    else if (k == "--target-class") a.target_class = v;
  }
  if (a.dsn.empty() || a.csvlog.empty() || a.fault_cmd.empty() != a.target_class.empty()) {
    std::cerr << "usage: latency_accuracy --dsn DSN --csvlog FILE [--duration S] [--interval S]"
                 " [--fault-cmd CMD --target-class CLASS]\n";
    std::exit(2);
  }
  return a;
}

// One record of a PostgreSQL csvlog file (fields may hold quoted newlines).
std::vector<std::string> read_csv_record(std::istream& in) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  char c;
  while (in.get(c)) {
    if (quoted) {
      if (c == '"') {
        if (in.peek() == '"') { fields.back() += '"'; in.get(c); }
        else quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c == '\n') {
      return fields;
    } else {
      fields.back() += c;
    }
  }
  return fields.size() > 1 ? fields : std::vector<std::string>{};
}

struct Truth {
  std::map<std::string, std::vector<double>> exec, statement;  // group -> seconds
};

std::vector<std::string> groups_of(const std::string& command, const std::string& klass) {
  std::vector<std::string> g{"command:" + command, "class:" + klass};
  if (command != "utility") g.push_back("overall");
  if (command == "select") g.push_back("read");
  if (command != "select" && command != "utility") g.push_back("write");
  return g;
}

std::string class_of(const std::string& text) {
  static const std::regex tag("q:([A-Za-z_]+)");
  std::smatch m;
  return std::regex_search(text, m, tag) ? m[1].str() : "other";
}

// Lines of role app logged between the first (baseline) and the last sample.
Truth read_truth(const std::string& path, const std::string& from, const std::string& to) {
  static const std::regex exec_re(R"(^duration: ([0-9.]+) ms  plan:\s*\nQuery Text: ([\s\S]*))");
  static const std::regex stmt_re(R"(^duration: ([0-9.]+) ms  statement: ([\s\S]*))");
  Truth t;
  std::ifstream in(path);
  for (auto f = read_csv_record(in); !f.empty(); f = read_csv_record(in)) {
    if (f.size() < 14 || f[1] != "app" || f[0].substr(0, 23) < from || f[0].substr(0, 23) > to) continue;
    std::smatch m;
    auto* into = std::regex_search(f[13], m, exec_re) ? &t.exec
                 : std::regex_search(f[13], m, stmt_re) ? &t.statement : nullptr;
    if (!into) continue;
    const std::string text = m[2].str();
    for (const auto& g : groups_of(latency::statement_command(text), class_of(text))) {
      (*into)[g].push_back(std::stod(m[1].str()) / 1000);
    }
  }
  return t;
}

double nearest_rank(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const auto r = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::max<std::size_t>(r, 1) - 1];
}

struct Estimate {
  std::vector<double> cum = std::vector<double>(latency::bucket_bounds().size(), 0.0);
  double count = 0;
};

std::map<std::string, Estimate> estimates(const Snapshot& s) {
  std::map<std::string, Estimate> out;
  for (const auto& fam : s.families) {
    if (fam.name != "pg_stat_statements_duration_seconds") continue;
    for (const auto& m : fam.metric) {
      std::string command, klass;
      for (const auto& l : m.label) {
        if (l.name == "command") command = l.value;
        if (l.name == "class") klass = l.value;
      }
      for (const auto& g : groups_of(command, klass)) {
        Estimate& e = out[g];
        for (std::size_t i = 0; i < e.cum.size(); ++i) e.cum[i] += static_cast<double>(m.histogram.bucket[i].cumulative_count);
        e.count += static_cast<double>(m.histogram.sample_count);
      }
    }
  }
  return out;
}

// Subtracts the baseline snapshot's buckets: only the measured window counts.
void subtract(std::map<std::string, Estimate>& now, const std::map<std::string, Estimate>& before) {
  for (auto& [g, e] : now) {
    auto it = before.find(g);
    if (it == before.end()) continue;
    for (std::size_t i = 0; i < e.cum.size(); ++i) e.cum[i] -= it->second.cum[i];
    e.count -= it->second.count;
  }
}

std::string log_time_now(Session& s) {
  return s.query("SELECT to_char(clock_timestamp() AT TIME ZONE current_setting('log_timezone'),"
                 " 'YYYY-MM-DD HH24:MI:SS.MS') AS t").text(0, "t");
}

struct Quantiles {
  // bucketed: the exact times put through the same buckets, i.e. the best any estimator can show.
  double truth[3], estimate[3], statement[3], bucketed[3];
  std::size_t n_true;
  double n_est;
};
constexpr double kQs[3] = {0.5, 0.95, 0.99};

// One measured window: the buckets gained between two snapshots and the log lines in between.
std::map<std::string, Quantiles> measure(const Snapshot& first, const Snapshot& last, const std::string& csvlog,
                                         const std::string& from, const std::string& to) {
  auto est = estimates(last);
  subtract(est, estimates(first));
  const Truth truth = read_truth(csvlog, from, to);
  std::map<std::string, Quantiles> out;
  for (const auto& [g, e] : est) {
    auto it = truth.exec.find(g);
    if (it == truth.exec.end() || e.count <= 0) continue;
    Quantiles& q = out[g];
    q.n_true = it->second.size();
    q.n_est = e.count;
    auto sit = truth.statement.find(g);
    latency::Histogram exact;
    for (double v : it->second) exact.observe(v);
    for (int i = 0; i < 3; ++i) {
      q.truth[i] = nearest_rank(it->second, kQs[i]) * 1000;
      q.bucketed[i] = latency::histogram_quantile(kQs[i], latency::bucket_bounds(), exact.cumulative(), exact.count()) * 1000;
      q.estimate[i] = latency::histogram_quantile(kQs[i], latency::bucket_bounds(), e.cum, e.count) * 1000;
      q.statement[i] = sit == truth.statement.end() ? NAN : nearest_rank(sit->second, kQs[i]) * 1000;
    }
  }
  return out;
}

void print_accuracy(const std::map<std::string, Quantiles>& window, const std::string& from,
                    const std::string& to, double interval) {
  std::printf("window %s .. %s, interval %.1f s\n", from.c_str(), to.c_str(), interval);
  std::printf("%-28s %8s %8s | %-27s | %-27s | %-22s | %-22s | %s\n", "group", "n_true", "n_est",
              "exec truth p50/p95/p99 ms", "estimate p50/p95/p99 ms", "rel. err p50/p95/p99",
              "buckets-only err p50/p95/p99", "statement truth p50/p95/p99 ms");
  for (const auto& [g, q] : window) {
    const double* t = q.truth;
    const double* x = q.estimate;
    const double* b = q.bucketed;
    const double* st = q.statement;
    std::printf("%-28s %8zu %8.0f | %8.3f %8.3f %8.3f | %8.3f %8.3f %8.3f | %+6.0f%% %+6.0f%% %+6.0f%% | %+6.0f%% %+6.0f%% %+6.0f%% | %8.3f %8.3f %8.3f\n",
                g.c_str(), q.n_true, q.n_est, t[0], t[1], t[2], x[0], x[1], x[2],
                100 * (x[0] / t[0] - 1), 100 * (x[1] / t[1] - 1), 100 * (x[2] / t[2] - 1),
                100 * (b[0] / t[0] - 1), 100 * (b[1] / t[1] - 1), 100 * (b[2] / t[2] - 1), st[0], st[1], st[2]);
  }
}

// Issue 4 item 3: the slowed class's estimated p95 must rise 20-30 %, every other class's move < 5 %.
void print_sensitivity(const std::map<std::string, Quantiles>& before, const std::map<std::string, Quantiles>& after,
                       const std::string& target) {
  std::printf("\nsensitivity: p95 before -> after the fault (target class %s)\n", target.c_str());
  std::printf("%-28s | %-22s %8s | %-22s %8s | %9s | %s\n", "class", "estimate p95 ms", "change", "truth p95 ms",
              "change", "est-true", "check");
  for (const auto& [g, b] : before) {
    auto it = after.find(g);
    if (g.rfind("class:", 0) != 0 || it == after.end()) continue;
    const Quantiles& a = it->second;
    const double est = 100 * (a.estimate[1] / b.estimate[1] - 1);
    const double tru = 100 * (a.truth[1] / b.truth[1] - 1);
    const bool is_target = g == "class:" + target;
    const bool ok = is_target ? est >= 20 && est <= 30 : std::fabs(est) < 5;
    std::printf("%-28s | %9.3f -> %9.3f %+7.0f%% | %9.3f -> %9.3f %+7.0f%% | %+8.0f%% | %s %s\n", g.c_str(),
                b.estimate[1], a.estimate[1], est, b.truth[1], a.truth[1], tru, est - tru, ok ? "ok  " : "MISS",
                is_target ? "(target: +20..+30 %)" : "(untouched: < 5 %)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  Target target;
  target.name = "bench";
  target.dsn = args.dsn;
  for (const char* c : {"guardrail_lookup", "calendar_range", "count_by_source", "projections_pending",
                        "dashboard_agg", "analytics_rollup", "itinerary_scan", "analytics_insert",
                        "context_insert", "roadmap_update", "roadmap_tx", "projection_cleanup"}) {
    target.query_classes.push_back({c, Pattern{std::string("q:") + c + "\\b", std::regex(std::string("q:") + c + "\\b")}});
  }
  CollectorSettings settings;
  settings.interval = Seconds{args.interval};
  auto collector = find_collector("statements")->make();
  Connection conn(args.dsn, Seconds{5}, Seconds{5});
  std::string error;
  if (!conn.ensure_open(std::chrono::steady_clock::now(), &error)) {
    std::cerr << "cannot connect: " << error << "\n";
    return 1;
  }
  Snapshot first, last;
  std::string from, to;
  auto sample = [&](Snapshot& into, std::string& when) {
    CollectContext ctx{target, settings, std::chrono::system_clock::now()};
    conn.run({Seconds{5}, Seconds{1}, true}, [&](Session& s) {
      into = collector->collect(s, ctx);
      when = log_time_now(s);
    });
  };
  auto window = [&] {
    const int n = static_cast<int>(args.duration / args.interval);
    for (int i = 0; i < n; ++i) {
      std::this_thread::sleep_for(std::chrono::duration<double>(args.interval));
      sample(last, to);
    }
  };
  // Two samples before the window: the baseline, then one that starts every entry's history.
  sample(first, from);
  std::this_thread::sleep_for(std::chrono::duration<double>(args.interval));
  sample(first, from);
  window();
  const Snapshot first_before = first, last_before = last;
  const std::string from_before = from, to_before = to;
  if (!args.fault_cmd.empty()) {
    if (std::system(args.fault_cmd.c_str()) != 0) {
      std::cerr << "fault command failed: " << args.fault_cmd << "\n";
      return 1;
    }
    // The interval that holds the fault mixes both regimes: the second window starts after it.
    std::this_thread::sleep_for(std::chrono::duration<double>(args.interval));
    sample(first, from);
    window();
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // csvlog flush
  const auto before = measure(first_before, last_before, args.csvlog, from_before, to_before);
  print_accuracy(before, from_before, to_before, args.interval);
  if (!args.fault_cmd.empty()) {
    const auto after = measure(first, last, args.csvlog, from, to);
    std::printf("\nafter the fault (%s):\n", args.fault_cmd.c_str());
    print_accuracy(after, from, to, args.interval);
    print_sensitivity(before, after, args.target_class);
  }
  return 0;
}
