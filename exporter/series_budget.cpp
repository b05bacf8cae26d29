#include "exporter/series_budget.h"

#include <algorithm>

namespace pge {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr char kSep = '\x1f';  // cannot occur in a label value PostgreSQL names carry

std::string table_key(const std::string& schema, const std::string& table) {
  return schema + kSep + table;
}

const std::string* label(const Labels& labels, const char* name) {
  for (const auto& [n, v] : labels) {
    if (n == name) return &v;
  }
  return nullptr;
}

// "" when the label set has no relation labels.
std::string relation_key(const Labels& labels) {
  const std::string* schema = label(labels, "schemaname");
  const std::string* rel = label(labels, "relname");
  if (!schema || !rel) return "";
  std::string key = table_key(*schema, *rel);
  if (const std::string* index = label(labels, "indexrelname")) key += kSep + *index;
  return key;
}

std::string table_part(const std::string& key) {
  const auto second = key.find(kSep, key.find(kSep) + 1);
  return second == std::string::npos ? key : key.substr(0, second);
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

// Values of the families named `names` per relation key (`keys`: per label set), summed over them.
std::unordered_map<std::string, double> scores(const std::vector<MetricFamily>& families,
                                               const SeriesTable& table,
                                               const std::vector<std::string>& keys,
                                               const std::vector<std::string>& names) {
  std::vector<bool> wanted(families.size());
  for (std::size_t f = 0; f < families.size(); ++f)
    wanted[f] = std::find(names.begin(), names.end(), families[f].name) != names.end();
  std::unordered_map<std::string, double> out;
  for (const auto& series : table.series) {
    const std::string& key = keys[series.labels];
    if (wanted[series.family] && !key.empty()) out[key] += series.value;
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
Labels rollup_labels(const Labels& labels) {
  Labels out = labels;
  for (auto& [name, value] : out) {
    if (name == "relname" || name == "indexrelname") value.clear();
  }
  return out;
}

std::string labels_id(const Labels& labels) {
  std::string id;
  for (const auto& [name, value] : labels) id += name + '=' + value + kSep;
  return id;
}

}  // namespace

SeriesBudget::SeriesBudget(const Target& target) : budget_(target.series_budget) {
  for (const auto& c : target.promoted_columns) configured_.insert(table_key(c.schema, c.table));
  for (const auto& t : target.table_thresholds) configured_.insert(table_key(t.schema, t.table));
  for (const auto& m : target.matviews) configured_.insert(table_key(m.schema, m.name));
}

void SeriesBudget::learn_ranking(const std::string& collector,
                                 const std::vector<MetricFamily>& families,
                                 const SeriesTable& table, const std::vector<std::string>& keys) {
  const auto scores_of = [&](const std::vector<std::string>& names) {
    return scores(families, table, keys, names);
  };
  if (collector == "tables") {
    table_criteria_ = {
        ranked(scores_of({"pg_stat_user_tables_total_size_bytes"})),
        ranked(
            scores_of({"pg_stat_user_tables_seq_scan_total", "pg_stat_user_tables_idx_scan_total",
                       "pg_stat_user_tables_n_tup_ins_total", "pg_stat_user_tables_n_tup_upd_total",
                       "pg_stat_user_tables_n_tup_del_total"})),
        ranked(scores_of({"pg_stat_user_tables_n_dead_tup"}))};
  } else if (collector == "indexes") {
    const auto size = scores_of({"pg_stat_user_indexes_size_bytes"});
    const auto scans = scores_of({"pg_stat_user_indexes_idx_scan_total"});
    std::unordered_map<std::string, double> unused;
    for (const auto& [key, bytes] : size) {
      auto it = scans.find(key);
      if (it != scans.end() && it->second == 0) unused[key] = bytes;
    }
    index_criteria_ = {ranked(size), ranked(scans), ranked(unused)};
    invalid_indexes_.clear();
    for (const auto& [key, valid] : scores_of({"pg_index_valid"})) {
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
  std::size_t fixed = 0, cuttable = 0, kept_by_others = 0;
  for (const auto& [name, c] : counts_) {
    fixed += c.fixed;
    cuttable += c.cuttable;
    if (name != collector) kept_by_others += c.kept;
  }
  const std::size_t mine = counts_.at(collector).cuttable;
  if (budget_ <= fixed) return 0;
  const std::size_t remaining = budget_ - fixed;
  if (cuttable <= remaining) return mine;
  const auto proportional =
      static_cast<std::size_t>(static_cast<double>(remaining) * mine / cuttable);
  return std::min(proportional, remaining > kept_by_others ? remaining - kept_by_others : 0);
}

void SeriesBudget::count(const std::string& collector, std::size_t series) {
  counts_[collector] = {series, 0, 0};
}

std::size_t SeriesBudget::apply(const std::string& collector,
                                const std::vector<MetricFamily>& families, SeriesTable& table) {
  std::vector<std::string> keys;  // the relation key of every label set, computed once
  keys.reserve(table.label_sets.size());
  for (const auto& labels : table.label_sets) keys.push_back(relation_key(labels));
  learn_ranking(collector, families, table, keys);
  const bool budgeted =
      budget_ > 0 && std::find(kBudgetedCollectors.begin(), kBudgetedCollectors.end(), collector) !=
                         kBudgetedCollectors.end();
  for (auto& key : keys) {
    if (!budgeted || configured_.count(table_part(key)) || invalid_indexes_.count(key)) key.clear();
  }
  std::map<std::string, std::size_t> groups;  // per cuttable relation key, its series
  Counts counts;
  for (const auto& f : families) counts.fixed += f.metric.size();  // histograms: never cut
  for (const auto& series : table.series) {
    const std::string& key = keys[series.labels];
    if (key.empty()) {
      ++counts.fixed;
    } else {
      ++counts.cuttable;
      ++groups[key];
    }
  }
  counts.kept = counts.cuttable;
  counts_[collector] = counts;
  if (counts.cuttable == 0) return 0;
  const std::size_t allowed = share(collector);
  if (counts.cuttable <= allowed) return 0;

  std::vector<bool> sum(families.size());
  for (std::size_t f = 0; f < families.size(); ++f) sum[f] = summable(families[f]);
  // Room for the rollups (one per schema and label set of each summable family) comes first.
  std::unordered_set<std::string> rollups;
  for (const auto& series : table.series) {
    if (sum[series.family] && !keys[series.labels].empty())
      rollups.insert(families[series.family].name + kSep +
                     labels_id(rollup_labels(table.label_sets[series.labels])));
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
  counts_[collector].kept = used;

  std::size_t dropped = 0;
  std::vector<SeriesTable::Series> out;
  // Rollups by family and label set, ordered for a stable output: their labels and sum.
  std::map<std::pair<std::uint32_t, std::string>, std::pair<Labels, double>> rolled;
  for (const auto& series : table.series) {
    const std::string& key = keys[series.labels];
    if (key.empty() || kept.count(key)) {
      out.push_back(series);
      continue;
    }
    ++dropped;
    if (!sum[series.family]) continue;
    Labels labels = rollup_labels(table.label_sets[series.labels]);
    auto& entry = rolled[{series.family, labels_id(labels)}];
    entry.first = std::move(labels);
    entry.second += series.value;
  }
  for (auto& [id, rollup] : rolled) {
    table.label_sets.push_back(std::move(rollup.first));
    out.push_back(
        {id.first, static_cast<std::uint32_t>(table.label_sets.size() - 1), rollup.second});
  }
  table.series = std::move(out);
  return dropped;
}

}  // namespace pge
