// The series budget of one target (`target.series_budget`): when the target's collectors together
// would export more series than the budget, the per-relation collectors (kBudgetedCollectors) keep
// per-relation series only for the relations that rank highest and fold the rest into one rollup
// series per schema. Nothing is dropped silently: every cut is counted per collector
// (pg_evolution_exporter_series_dropped) and the rollups keep `sum by (schemaname)` exact.
//
// Never cut: series without relation labels, the tables named in the target's config (promoted
// columns, thresholds, materialized views, retention) with their indexes, invalid indexes, and
// every collector not in kBudgetedCollectors (partitions, promoted_columns, matviews: the Phase 3
// gates).
//
// Shares: the budget minus the series that are never cut is shared among the budgeted collectors in
// proportion to the per-relation series each would export (the latest run of each counts), but a
// run never takes more than what the others' latest runs left: the target stays within its
// budget while the shares settle (spread-out collectors may take minutes to run again).
//
// Ranking (docs/scaling.md): the tables and indexes collectors' uncut series rank relations by
// several criteria, and the kept relations are taken from those rankings in turn (first of each,
// then second of each, ...), so one criterion cannot fill the budget alone:
//   tables:  largest (pg_stat_user_tables_total_size_bytes), most active (scans + rows written),
//            most dead rows (pg_stat_user_tables_n_dead_tup);
//   indexes: largest, most scanned, largest unused (no scan since the statistics reset).
// A relation not ranked yet comes after the ranked ones, by name. Every budgeted collector uses the
// same ranking, so the kept relations agree across collectors.
//
// Rollup: a schema's rollup series carries the family's labels with relname (and indexrelname)
// empty, which Prometheus stores as no relname label. Counters and additive gauges (sizes in bytes,
// row counts) are summed; other gauges (ratios, timestamps, flags, thresholds) have no rollup.
//
// One SeriesBudget per target, owned and called by that target's worker thread only.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/config.h"
#include "core/snapshot.h"

namespace pge {

inline const std::vector<std::string> kBudgetedCollectors{"tables", "indexes", "maintenance",
                                                          "write_amplification", "growth"};

class SeriesBudget {
 public:
  explicit SeriesBudget(const Target& target);

  // Applies the budget to a run's series before they become objects (SnapshotBuilder::take with
  // a SeriesCut), in place, and returns how many it left out (folded into rollups). Remembers the
  // run's series counts for the shares.
  std::size_t apply(const std::string& collector,
                    const std::vector<prometheus::MetricFamily>& families, SeriesTable& table);
  // Counts the `series` of a run that was not cut (a collector outside kBudgetedCollectors that
  // builds its snapshot without the cut) against the budget.
  void count(const std::string& collector, std::size_t series);

  std::size_t budget() const { return budget_; }

 private:
  struct Counts {
    std::size_t fixed = 0;     // never cut
    std::size_t cuttable = 0;  // per-relation series the budget may cut
    std::size_t kept = 0;      // of those, exported (rollups included)
  };

  std::size_t share(const std::string& collector) const;
  // `keys`: the relation key of each label set of `table` ("" for none).
  void learn_ranking(const std::string& collector,
                     const std::vector<prometheus::MetricFamily>& families,
                     const SeriesTable& table, const std::vector<std::string>& keys);
  void rebuild_priority();

  std::size_t budget_;
  std::unordered_set<std::string> configured_;  // relation keys of configured tables
  std::map<std::string, Counts> counts_;        // by collector, from its latest run
  // Per criterion, relation keys best first; tables' and indexes' criteria.
  std::vector<std::vector<std::string>> table_criteria_, index_criteria_;
  std::unordered_set<std::string> invalid_indexes_;
  std::unordered_map<std::string, std::size_t> priority_;  // relation key -> rank (0 = best)
};

}  // namespace pge
