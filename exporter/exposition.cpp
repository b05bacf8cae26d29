#include "exporter/exposition.h"

#include <algorithm>
#include <map>
#include <set>

#include <prometheus/text_serializer.h>

namespace pge {

std::string escape_help(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr const char* kNs = "pg_evolution_exporter_";

bool label_less(const ClientMetric& a, const ClientMetric& b) {
  return std::lexicographical_compare(
      a.label.begin(), a.label.end(), b.label.begin(), b.label.end(),
      [](const ClientMetric::Label& x, const ClientMetric::Label& y) {
        return std::tie(x.name, x.value) < std::tie(y.name, y.value);
      });
}

bool label_equal(const ClientMetric& a, const ClientMetric& b) {
  return a.label.size() == b.label.size() &&
         std::equal(a.label.begin(), a.label.end(), b.label.begin(),
                    [](const ClientMetric::Label& x, const ClientMetric::Label& y) {
                      return x.name == y.name && x.value == y.value;
                    });
}

ClientMetric sample(std::vector<ClientMetric::Label> labels, MetricType type, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return m;
}

class Families {
 public:
  MetricFamily& get(const std::string& name, const std::string& help, MetricType type) {
    auto [it, inserted] = by_name_.try_emplace(name);
    if (inserted) it->second = MetricFamily{name, escape_help(help), type, {}};
    return it->second;
  }
  void add(const std::string& name, const std::string& help, MetricType type,
           std::vector<ClientMetric::Label> labels, double value) {
    get(name, help, type).metric.push_back(sample(std::move(labels), type, value));
  }
  // Appends a collector's family; a family of another type under the same name is a programming
  // error in a collector and is dropped rather than producing an invalid scrape.
  void merge(const MetricFamily& f) {
    MetricFamily& into = get(f.name, f.help, f.type);
    if (into.type != f.type) return;
    into.metric.insert(into.metric.end(), f.metric.begin(), f.metric.end());
  }
  std::vector<MetricFamily> take() {
    std::vector<MetricFamily> out;
    out.reserve(by_name_.size());
    for (auto& [name, f] : by_name_) {
      if (f.metric.empty()) continue;
      std::stable_sort(f.metric.begin(), f.metric.end(), label_less);
      f.metric.erase(std::unique(f.metric.begin(), f.metric.end(), label_equal), f.metric.end());
      out.push_back(std::move(f));
    }
    return out;
  }

 private:
  std::map<std::string, MetricFamily> by_name_;
};

void add_target_metrics(Families& out, const std::string& target, const TargetState& state) {
  out.add("pg_up",
          "Whether the target database answers (1) or not (0): connected, and no statement past its "
          "client deadline.",
          MetricType::Gauge, {{"target", target}}, state.up && !state.stalled ? 1 : 0);
  const char* deadline_help =
      "Statements that passed their client deadline (statement timeout + margin): cancel = cancel "
      "request sent, disconnect = still no answer a margin later, connection dropped.";
  out.add(std::string(kNs) + "client_deadline_exceeded_total", deadline_help, MetricType::Counter,
          {{"action", "cancel"}, {"target", target}}, state.deadline_cancels_total);
  out.add(std::string(kNs) + "client_deadline_exceeded_total", deadline_help, MetricType::Counter,
          {{"action", "disconnect"}, {"target", target}}, state.deadline_disconnects_total);
}

void add_freshness_metrics(Families& out, const std::vector<ClientMetric::Label>& l,
                           const CollectorStatus& st) {
  out.add(std::string(kNs) + "collector_staleness_limit_seconds",
          "Age of the collector's last success after which its snapshot is no longer served "
          "(3 x interval + timeout).",
          MetricType::Gauge, l, st.staleness_limit_seconds);
  out.add(std::string(kNs) + "collector_stale",
          "1 when the collector's last success is older than its staleness limit (its series are not "
          "served).",
          MetricType::Gauge, l, st.stale ? 1 : 0);
  const char* skipped_help =
      "Relations the collector left out or only estimated, by reason (locked: ACCESS EXCLUSIVE lock; "
      "insufficient_privilege: the role may not read it).";
  auto with_reason = [&](const std::string& reason) {
    auto labels = l;
    labels.push_back({"reason", reason});
    return labels;
  };
  out.add(std::string(kNs) + "collector_relations_skipped_total", skipped_help, MetricType::Counter,
          with_reason("locked"), st.lock_skips_total);
  for (const auto& [reason, n] : st.relations_skipped_total) {
    out.add(std::string(kNs) + "collector_relations_skipped_total", skipped_help, MetricType::Counter,
            with_reason(reason), n);
  }
}

void add_self_metrics(Families& out, const SnapshotStore::View& view) {
  for (const auto& [target, state] : view) {
    add_target_metrics(out, target, state);
    for (const auto& [collector, st] : state.collectors) {
      std::vector<ClientMetric::Label> l{{"collector", collector}, {"target", target}};
      out.add(std::string(kNs) + "collector_success",
              "Whether the collector's last run succeeded (1) or failed (0).", MetricType::Gauge, l,
              st.success ? 1 : 0);
      out.add(std::string(kNs) + "collector_duration_seconds",
              "Wall-clock duration of the collector's last run, database time included.",
              MetricType::Gauge, l, st.duration_seconds);
      out.add(std::string(kNs) + "collector_last_success_timestamp_seconds",
              "Unix time of the collector's last successful run (0 = never).", MetricType::Gauge, l,
              st.last_success_unix);
      out.add(std::string(kNs) + "collector_errors_total",
              "Failed runs of the collector since the exporter started.", MetricType::Counter, l,
              st.errors_total);
      out.add(std::string(kNs) + "collector_series",
              "Series produced by the collector's last successful run.", MetricType::Gauge, l,
              static_cast<double>(st.series));
      out.add(std::string(kNs) + "collector_lock_skips_total",
              "Relations the collector left out because another session held or awaited an ACCESS "
              "EXCLUSIVE lock on them.",
              MetricType::Counter, l, st.lock_skips_total);
      out.add(std::string(kNs) + "collector_lock_timeouts_total",
              "Collector runs that ended at lock_timeout.", MetricType::Counter, l,
              st.lock_timeouts_total);
      add_freshness_metrics(out, l, st);
    }
  }
}

}  // namespace

std::vector<MetricFamily> build_exposition(const SnapshotStore::View& view) {
  Families out;
  out.add(std::string(kNs) + "build_info",
          "Version and revision of pg_evolution_exporter, constant 1.", MetricType::Gauge,
          {{"revision", PGE_REVISION}, {"version", PGE_VERSION}}, 1);
  add_self_metrics(out, view);
  for (const auto& [target, state] : view) {
    for (const auto& [collector, snapshot] : state.snapshots) {
      for (const auto& family : snapshot->families) out.merge(family);
    }
  }
  return out.take();
}

std::string serialize(const std::vector<MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace pge
