#include "exporter/series_budget.h"

#include <algorithm>

namespace pge {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr char kSep = '\x1f';  // cannot occur in a label value PostgreSQL names carry

std::string table_key(const std::string& schema, const std::string& table) {
  return schema + kSep + table;
}

const std::string* label(const ClientMetric& m, const char* name) {
  for (const auto& l : m.label) {
    if (l.name == name) return &l.value;
  }
  return nullptr;
}

// "" when the series has no relation labels.
std::string relation_key(const ClientMetric& m) {
  const std::string* schema = label(m, "schemaname");
  const std::string* rel = label(m, "relname");
  if (!schema || !rel) return "";
  std::string key = table_key(*schema, *rel);
  if (const std::string* index = label(m, "indexrelname")) key += kSep + *index;
  return key;
}

std::string table_part(const std::string& key) {
  const auto second = key.find(kSep, key.find(kSep) + 1);
  return second == std::string::npos ? key : key.substr(0, second);
}

double value(const ClientMetric& m, MetricType type) {
  return type == MetricType::Counter ? m.counter.value : m.gauge.value;
}

// Gauges whose per-schema sum means something (row counts); every `_bytes` gauge and every counter
// is additive too.
const std::unordered_set<std::string> kAdditiveGauges{"pg_stat_user_tables_n_live_tup",
                                                      "pg_stat_user_tables_n_dead_tup",
                                                      "pg_stat_user_tables_n_mod_since_analyze",
                                                      "pg_stat_user_tables_n_ins_since_vacuum",
                                                      "pg_table_estimated_rows",
                                                      "pg_table_indexes"};

bool summable(const MetricFamily& f) {
  if (f.type == MetricType::Counter) return true;
  if (f.type != MetricType::Gauge) return false;
  return kAdditiveGauges.count(f.name) ||
         (f.name.size() > 6 && f.name.compare(f.name.size() - 6, 6, "_bytes") == 0);
}

// Values of `families` per relation key, summed over the families.
std::unordered_map<std::string, double> scores(const Snapshot& snapshot,
                                               const std::vector<std::string>& families) {
  std::unordered_map<std::string, double> out;
  for (const auto& f : snapshot.families) {
    if (std::find(families.begin(), families.end(), f.name) == families.end()) continue;
    for (const auto& m : f.metric) {
      const std::string key = relation_key(m);
      if (!key.empty()) out[key] += value(m, f.type);
    }
  }
  return out;
}

// Keys with a positive score, best first (ties by key, so the order is stable).
std::vector<std::string> ranked(const std::unordered_map<std::string, double>& score) {
  std::vector<std::string> keys;
  for (const auto& [key, s] : score) {
    if (s > 0) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end(), [&](const std::string& a, const std::string& b) {
    const double sa = score.at(a), sb = score.at(b);
    return sa != sb ? sa > sb : a < b;
  });
  return keys;
}

// The labels of a schema's rollup series: the series' labels with the relation names emptied.
std::vector<ClientMetric::Label> rollup_labels(const ClientMetric& m) {
  std::vector<ClientMetric::Label> out = m.label;
  for (auto& l : out) {
    if (l.name == "relname" || l.name == "indexrelname") l.value.clear();
  }
  return out;
}

std::string labels_id(const std::vector<ClientMetric::Label>& labels) {
  std::string id;
  for (const auto& l : labels) id += l.name + '=' + l.value + kSep;
  return id;
}

}  // namespace

SeriesBudget::SeriesBudget(const Target& target) : budget_(target.series_budget) {
  for (const auto& c : target.promoted_columns) configured_.insert(table_key(c.schema, c.table));
  for (const auto& t : target.table_thresholds) configured_.insert(table_key(t.schema, t.table));
  for (const auto& m : target.matviews) configured_.insert(table_key(m.schema, m.name));
}

void SeriesBudget::learn_ranking(const std::string& collector, const Snapshot& snapshot) {
  if (collector == "tables") {
    table_criteria_ = {
        ranked(scores(snapshot, {"pg_stat_user_tables_total_size_bytes"})),
        ranked(scores(snapshot,
                      {"pg_stat_user_tables_seq_scan_total", "pg_stat_user_tables_idx_scan_total",
                       "pg_stat_user_tables_n_tup_ins_total", "pg_stat_user_tables_n_tup_upd_total",
                       "pg_stat_user_tables_n_tup_del_total"})),
        ranked(scores(snapshot, {"pg_stat_user_tables_n_dead_tup"}))};
  } else if (collector == "indexes") {
    const auto size = scores(snapshot, {"pg_stat_user_indexes_size_bytes"});
    const auto scans = scores(snapshot, {"pg_stat_user_indexes_idx_scan_total"});
    std::unordered_map<std::string, double> unused;
    for (const auto& [key, bytes] : size) {
      auto it = scans.find(key);
      if (it != scans.end() && it->second == 0) unused[key] = bytes;
    }
    index_criteria_ = {ranked(size), ranked(scans), ranked(unused)};
    invalid_indexes_.clear();
    for (const auto& [key, valid] : scores(snapshot, {"pg_index_valid"})) {
      if (valid == 0) invalid_indexes_.insert(key);
    }
  } else {
    return;
  }
  rebuild_priority();
}

// Takes the first of every criterion, then the second of every criterion, and so on.
void SeriesBudget::rebuild_priority() {
  priority_.clear();
  std::vector<const std::vector<std::string>*> lists;
  for (const auto& l : table_criteria_) lists.push_back(&l);
  for (const auto& l : index_criteria_) lists.push_back(&l);
  std::size_t longest = 0;
  for (const auto* l : lists) longest = std::max(longest, l->size());
  for (std::size_t i = 0; i < longest; ++i) {
    for (const auto* l : lists) {
      if (i < l->size()) priority_.emplace((*l)[i], priority_.size());
    }
  }
}

std::size_t SeriesBudget::share(const std::string& collector) const {
  std::size_t fixed = 0, cuttable = 0;
  for (const auto& [name, c] : counts_) {
    fixed += c.fixed;
    cuttable += c.cuttable;
  }
  const std::size_t mine = counts_.at(collector).cuttable;
  if (budget_ <= fixed) return 0;
  const std::size_t remaining = budget_ - fixed;
  if (cuttable <= remaining) return mine;
  return static_cast<std::size_t>(static_cast<double>(remaining) * mine / cuttable);
}

std::size_t SeriesBudget::apply(const std::string& collector, Snapshot& snapshot) {
  learn_ranking(collector, snapshot);
  const bool budgeted =
      budget_ > 0 && std::find(kBudgetedCollectors.begin(), kBudgetedCollectors.end(), collector) !=
                         kBudgetedCollectors.end();
  // The cuttable relation key of every series ("" = never cut), computed once.
  std::vector<std::vector<std::string>> keys(snapshot.families.size());
  std::map<std::string, std::size_t> groups;  // per relation key, its cuttable series
  Counts counts;
  for (std::size_t f = 0; f < snapshot.families.size(); ++f) {
    for (const auto& m : snapshot.families[f].metric) {
      std::string key = budgeted ? relation_key(m) : "";
      if (!key.empty() && (configured_.count(table_part(key)) || invalid_indexes_.count(key)))
        key.clear();
      if (key.empty()) {
        ++counts.fixed;
      } else {
        ++counts.cuttable;
        ++groups[key];
      }
      keys[f].push_back(std::move(key));
    }
  }
  counts_[collector] = counts;
  if (counts.cuttable == 0) return 0;
  const std::size_t allowed = share(collector);
  if (counts.cuttable <= allowed) return 0;

  // Room for the rollups (one per schema and label set of each summable family) comes first.
  std::unordered_set<std::string> rollups;
  for (std::size_t f = 0; f < snapshot.families.size(); ++f) {
    const MetricFamily& family = snapshot.families[f];
    if (!summable(family)) continue;
    for (std::size_t i = 0; i < family.metric.size(); ++i) {
      if (!keys[f][i].empty())
        rollups.insert(family.name + kSep + labels_id(rollup_labels(family.metric[i])));
    }
  }
  std::vector<std::string> order;
  for (const auto& [key, n] : groups) order.push_back(key);
  const auto rank = [&](const std::string& key) {
    auto it = priority_.find(key);
    return it == priority_.end() ? priority_.size() : it->second;
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  std::unordered_set<std::string> kept;
  std::size_t used = rollups.size();
  for (const auto& key : order) {
    if (used + groups[key] > allowed) break;
    used += groups[key];
    kept.insert(key);
  }

  std::size_t dropped = 0;
  for (std::size_t f = 0; f < snapshot.families.size(); ++f) {
    MetricFamily& family = snapshot.families[f];
    const bool sum = summable(family);
    std::vector<ClientMetric> out;
    std::map<std::string, ClientMetric> rolled;  // by label set, ordered for a stable output
    for (std::size_t i = 0; i < family.metric.size(); ++i) {
      ClientMetric& m = family.metric[i];
      const std::string& key = keys[f][i];
      if (key.empty() || kept.count(key)) {
        out.push_back(std::move(m));
        continue;
      }
      ++dropped;
      if (!sum) continue;
      auto labels = rollup_labels(m);
      ClientMetric& r = rolled[labels_id(labels)];
      r.label = std::move(labels);
      (family.type == MetricType::Counter ? r.counter.value : r.gauge.value) +=
          value(m, family.type);
    }
    for (auto& [id, m] : rolled) out.push_back(std::move(m));
    family.metric = std::move(out);
  }
  return dropped;
}

}  // namespace pge
