// Latency histograms estimated from pg_stat_statements counters (docs/latency.md). Pure code: no
// database, no clock. `Histogram` accumulates (possibly fractional) observations into the fixed
// bucket layout; `LatencyEstimator` keeps per-entry bookkeeping between samples (deltas, resets,
// evictions, re-creation, lost calls) and turns each entry's interval into expected bucket counts
// with the "v2" body + tail estimator, extended for entries with two speeds (both in
// docs/latency.md). One estimator belongs to one collector instance and is used from that
// collector's thread only.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace pge::latency {

// Upper bounds in seconds: 10 µs · √2^k for k = 0..45 (the last is about 59.3 s); +Inf is implicit.
const std::vector<double>& bucket_bounds();

// A cumulative histogram under construction. Every add only ever adds a non-negative amount to each
// cumulative count, so exported buckets never decrease.
class Histogram {
 public:
  Histogram();
  // One exactly measured observation (probes): bucket, count and sum all exact.
  void observe(double seconds) {
    add_point(1, seconds);
    add_exact(1, seconds);
  }
  // `w` observations at exactly `x` seconds.
  void add_point(double w, double x);
  // `w` observations from a log-normal with the given mean (seconds) and log-sd `sigma`.
  void add_lognormal_sigma(double w, double mean, double sigma);
  // `w` observations from the log-normal with this mean and variance (a point mass when the
  // variance is negligible).
  void add_lognormal(double w, double mean, double var);
  // `part`'s `w` observations, those below `lo` moved to `lo` and those above `hi` to `hi`: an
  // interval whose min and max are known (PostgreSQL 17's per-interval min/max) had no call
  // outside them.
  void add_clamped(const Histogram& part, double w, double lo, double hi);
  // The exact number and total time of the observations whose placement the add_* calls estimate:
  // kept apart so that _count and _sum stay exact while buckets carry fractional expectations.
  void add_exact(double count, double seconds) {
    count_ += count;
    sum_ += seconds;
  }

  const std::vector<double>& cumulative() const { return cumulative_; }  // one per bound
  double count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> cumulative_;
  double count_ = 0;
  double sum_ = 0;
};

// The command of a (normalized) statement text: select, insert, update, delete, merge, or utility
// for everything else (BEGIN, COMMIT, SET, DDL, COPY, EXPLAIN ...). Comments are skipped; a WITH
// clause takes the command of its main statement.
std::string statement_command(const std::string& query);

// Prometheus' histogram_quantile over cumulative counts (bounds without +Inf; `count` is +Inf's):
// linear interpolation inside the bucket, the first bucket starting at 0, and the highest finite
// bound returned for ranks in +Inf. NaN when count is 0.
double histogram_quantile(double q, const std::vector<double>& bounds,
                          const std::vector<double>& cumulative, double count);

// pg_stat_statements identifies an entry by these four columns.
struct EntryKey {
  std::uint32_t userid = 0;
  std::uint32_t dbid = 0;
  bool toplevel = true;
  std::int64_t queryid = 0;
  bool operator==(const EntryKey&) const = default;
};

struct EntryKeyHash {
  std::size_t operator()(const EntryKey& k) const;
};

// One entry's cumulative counters as pg_stat_statements shows them (times in milliseconds). The
// plan fields are zero when track_planning is off.
struct EntrySample {
  double calls = 0;
  double rows = 0;
  double total_exec = 0, mean_exec = 0, stddev_exec = 0, min_exec = 0, max_exec = 0;
  double plans = 0;
  double total_plan = 0, mean_plan = 0, stddev_plan = 0;
  // PostgreSQL 17: when min_exec and max_exec were last reset (Unix seconds; 0 = not known). When
  // it moved since the previous sample, min and max describe only this interval's calls.
  double minmax_since = 0;
};

// What an entry contributed in one interval: exact counts and time (seconds).
struct EntryDelta {
  double calls = 0;
  double rows = 0;
  double seconds = 0;
};

// Entries below this many calls per second gain nothing from sampling between full samples: their
// pools already span several intervals.
inline constexpr double kBusyCallsPerSecond = 2;

class LatencyEstimator {
 public:
  // Entries not seen for this many full samples lose their state (an hour at the default 5 s).
  explicit LatencyEstimator(int forget_after_samples = 720) : forget_after_(forget_after_samples) {}

  // Starts a sample. A `stats_reset` different from the previous sample's means a full reset: every
  // entry restarts from zero. The very first sample is only a baseline. A `partial` sample reads
  // only some entries (the busiest, between full samples): entries missing from it have not
  // vanished.
  void begin(const std::string& stats_reset, bool partial = false);
  // Books one entry of the current sample and adds its interval's observations to `hist`.
  EntryDelta observe(const EntryKey& key, const EntrySample& s, Histogram& hist);
  // Ends the sample: entries that vanished since the previous one count as lost.
  void end();

  // Calls estimated lost so far: half of the last interval's calls of every entry that was evicted,
  // reset or re-created (on average half an interval of its traffic was never sampled).
  double lost_calls() const { return lost_calls_; }
  std::size_t tracked_entries() const { return entries_.size(); }
  // The (at most) `max` present entries with the most calls since the previous call, and at least
  // `min_calls`, busiest first: the ones worth sampling more often (pools of kPool calls then come
  // from short intervals, so fewer of them carry a stall).
  std::vector<EntryKey> busiest(std::size_t max, double min_calls);
  bool tracks(const EntryKey& key) const { return entries_.count(key) > 0; }

 private:
  static constexpr std::size_t kHist = 120;

  // Recent pooled means and cv² of one entry: its "body".
  struct Ring {
    std::array<float, kHist> values{};
    std::size_t size = 0, next = 0;
    void push(float v);
    double quantile(double q) const;
    // True when each of the last `recent` values lies above the older values' upper quartile, or
    // each below their lower quartile: the body moved (a stall tail does not move every pool).
    bool shifted(std::size_t recent) const;
    void keep_last(std::size_t recent);
  };

  // Decayed sums over a two-speed entry's intervals of k, k·x and k·x² (k slow calls around x).
  struct SlowMode {
    double k = 0, kx = 0, kxx = 0, intervals = 0;
  };

  struct Entry {
    EntrySample prev;
    bool present = false;         // seen in the previous sample
    std::uint64_t last_seen = 0;  // the full sample it was last seen in (or after)
    double last_calls = 0;        // Δcalls of its last interval (for the lost-calls estimate)
    double recent_calls = 0;      // calls since the last busiest()
    Ring pool_mean, pool_cv2;
    double acc_n = 0, acc_s1 = 0, acc_s2 = 0;
    double prev_max = -1;  // cumulative max_exec_time at the previous sample; -1 = unknown
    bool body_ok = false;
    bool two_speed = false;  // its slow calls are a second mode, not stalls (two_speed_body)
    SlowMode slow;
    double m_b = 0, cv2_b = 0;
  };

  bool recreated(const Entry& e, const EntrySample& s, bool minmax_reset) const;
  void estimate(Entry& e, const EntrySample& s, const EntrySample& base, bool is_new,
                bool minmax_reset, Histogram& hist);
  void estimate_spread(Entry& e, double n, double s1, double s2, Histogram& hist);
  void push_pool(Entry& e, double n, double s1, double s2);
  static void two_speed_body(Entry& e);
  static bool add_slow_mode(Entry& e, double n, double a, double b, double k, double x,
                            Histogram& hist);

  std::unordered_map<EntryKey, Entry, EntryKeyHash> entries_;
  std::string stats_reset_;
  bool full_reset_ = false;
  bool baseline_ = true;
  bool partial_ = false;
  std::uint64_t full_samples_ = 0;
  int forget_after_;
  double lost_calls_ = 0;
};

}  // namespace pge::latency
