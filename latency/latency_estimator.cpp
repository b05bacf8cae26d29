#include "latency/latency_estimator.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <limits>

namespace pge::latency {

namespace {

// The study's parameters (section 6); chosen on its run B, see docs/latency.md for their limits.
constexpr double kPool = 10;     // calls pooled into one body observation
constexpr double kQMean = 0.25;  // body mean: this quantile of the pooled means
constexpr double kQCv2 = 0.10;   // body cv²: this quantile of the pooled cv²
constexpr double kKMax = 0.5;    // a tail may explain at most this share of an interval's calls
constexpr double kZ99 = 2.326;   // a tail must lie beyond the body's 99th percentile
constexpr std::size_t kMinPools = 3;
constexpr std::size_t kShiftPools =
    6;                        // consecutive pools beyond the quartiles that mean a new body
constexpr double kMs = 1e-3;  // pg_stat_statements reports milliseconds
// Two-speed entries (two_speed_body): how many pools, how straight a line, how far apart the
// speeds, and the body's prior cv² (cv 0.32; unimodal classes of the reference workload have 0.05
// to 0.3).
constexpr std::size_t kTwoSpeedPools = 10;
constexpr double kTwoSpeedCorr = 0.9;
constexpr double kTwoSpeedRatio = 4;
constexpr double kTwoSpeedCv2 = 0.1;
constexpr double kSlowDecay = 0.99;  // per interval, for the slow mode's width (add_slow_mode)
constexpr double kSlowMinIntervals = 10;

// Σ x² of an entry's calls, from its Welford mean and population stddev.
double sum_sq(double calls, double mean, double stddev) {
  return calls * (stddev * stddev + mean * mean);
}

// Skips blanks and SQL comments (nested block comments included) from `i`.
std::size_t skip_blanks(const std::string& q, std::size_t i) {
  while (i < q.size()) {
    if (std::isspace(static_cast<unsigned char>(q[i]))) {
      ++i;
    } else if (q.compare(i, 2, "--") == 0) {
      i = q.find('\n', i);
      if (i == std::string::npos) return q.size();
    } else if (q.compare(i, 2, "/*") == 0) {
      int depth = 0;
      do {
        if (q.compare(i, 2, "/*") == 0) {
          ++depth;
          i += 2;
        } else if (q.compare(i, 2, "*/") == 0) {
          --depth;
          i += 2;
        } else
          ++i;
      } while (depth > 0 && i < q.size());
    } else {
      break;
    }
  }
  return i;
}

// The lower-case keywords at parenthesis depth 0, in order (enough to see past a WITH clause).
std::vector<std::string> top_level_words(const std::string& q, std::size_t limit) {
  std::vector<std::string> words;
  int depth = 0;
  for (std::size_t i = skip_blanks(q, 0); i < q.size() && words.size() < limit;
       i = skip_blanks(q, i)) {
    const char ch = q[i];
    if (ch == '(') {
      ++depth;
      ++i;
      continue;
    }
    if (ch == ')') {
      --depth;
      ++i;
      continue;
    }
    if (ch == '\'' || ch == '"') {  // literals and quoted names cannot hold keywords
      const std::size_t close = q.find(ch, i + 1);
      i = close == std::string::npos ? q.size() : close + 1;
      continue;
    }
    if (!std::isalpha(static_cast<unsigned char>(ch))) {
      ++i;
      continue;
    }
    std::string w;
    while (i < q.size() && (std::isalnum(static_cast<unsigned char>(q[i])) || q[i] == '_')) {
      w += static_cast<char>(std::tolower(static_cast<unsigned char>(q[i++])));
    }
    if (depth == 0) words.push_back(std::move(w));
  }
  return words;
}

// Whether `s`'s min and max describe only the calls since `prev` (PostgreSQL 17): they were reset
// in between, or `prev` showed them reset (both 0) before any call.
bool minmax_interval_only(const EntrySample& prev, const EntrySample& s) {
  if (!(s.minmax_since > 0)) return false;
  return s.minmax_since != prev.minmax_since || (prev.min_exec == 0 && prev.max_exec == 0);
}

}  // namespace

std::string statement_command(const std::string& query) {
  static const char* const kCommands[] = {"select", "insert", "update", "delete", "merge"};
  const auto words = top_level_words(query, 4096);
  if (words.empty()) return "utility";
  const std::string& first = words.front();
  if (first == "values" || first == "table") return "select";
  for (const char* c : kCommands) {
    if (first == c) return c;
  }
  if (first != "with") return "utility";
  for (const auto& w : words) {
    for (const char* c : kCommands) {
      if (w == c) return c;
    }
  }
  return "utility";
}

const std::vector<double>& bucket_bounds() {
  static const std::vector<double> bounds = [] {
    std::vector<double> b;
    for (int k = 0; k < 46; ++k) b.push_back(1e-5 * std::pow(std::sqrt(2.0), k));
    return b;
  }();
  return bounds;
}

Histogram::Histogram() : cumulative_(bucket_bounds().size(), 0.0) {}

void Histogram::add_point(double w, double x) {
  const auto& bounds = bucket_bounds();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (bounds[i] >= x) cumulative_[i] += w;
  }
}

void Histogram::add_lognormal_sigma(double w, double mean, double sigma) {
  if (!(sigma > 0) || !(mean > 0)) {
    add_point(w, mean);
    return;
  }
  const double mu = std::log(mean) - sigma * sigma / 2;
  const auto& bounds = bucket_bounds();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative_[i] += w * 0.5 * std::erfc(-(std::log(bounds[i]) - mu) / (sigma * std::sqrt(2.0)));
  }
}

void Histogram::add_lognormal(double w, double mean, double var) {
  if (!(mean > 0) || var / (mean * mean) < 1e-10) {
    add_point(w, mean);
    return;
  }
  add_lognormal_sigma(w, mean, std::sqrt(std::log1p(var / (mean * mean))));
}

void Histogram::add_clamped(const Histogram& part, double w, double lo, double hi) {
  const auto& bounds = bucket_bounds();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (bounds[i] >= lo) cumulative_[i] += bounds[i] >= hi ? w : part.cumulative_[i];
  }
}

double histogram_quantile(double q, const std::vector<double>& bounds,
                          const std::vector<double>& cumulative, double count) {
  if (!(count > 0) || bounds.empty()) return std::numeric_limits<double>::quiet_NaN();
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  const double rank = q * count;
  std::size_t b = 0;
  while (b < bounds.size() && cumulative[b] < rank) ++b;
  if (b == bounds.size()) return bounds.back();
  if (b == 0 && bounds[0] <= 0) return bounds[0];
  const double start = b == 0 ? 0.0 : bounds[b - 1];
  const double below = b == 0 ? 0.0 : cumulative[b - 1];
  const double in_bucket = cumulative[b] - below;
  if (!(in_bucket > 0)) return bounds[b];
  return start + (bounds[b] - start) * (rank - below) / in_bucket;
}

std::size_t EntryKeyHash::operator()(const EntryKey& k) const {
  std::size_t h = std::hash<std::int64_t>{}(k.queryid);
  h ^= std::hash<std::uint64_t>{}((std::uint64_t{k.userid} << 33) ^ (std::uint64_t{k.dbid} << 1) ^
                                  k.toplevel) +
       0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

void LatencyEstimator::Ring::push(float v) {
  values[next] = v;
  next = (next + 1) % kHist;
  size = std::min(size + 1, kHist);
}

double LatencyEstimator::Ring::quantile(double q) const {
  std::array<float, kHist> s = values;
  std::sort(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(size));
  const double h = static_cast<double>(size - 1) * q;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= size) return s[lo];
  return s[lo] + (h - static_cast<double>(lo)) * (s[lo + 1] - s[lo]);
}

bool LatencyEstimator::Ring::shifted(std::size_t recent) const {
  if (size < 3 * recent) return false;
  Ring older;
  for (std::size_t i = recent; i < size; ++i) older.push(values[(next + kHist - 1 - i) % kHist]);
  const double lo = older.quantile(0.25), hi = older.quantile(0.75);
  bool all_above = true, all_below = true;
  for (std::size_t i = 0; i < recent; ++i) {
    const double v = values[(next + kHist - 1 - i) % kHist];
    all_above = all_above && v > hi;
    all_below = all_below && v < lo;
  }
  return all_above || all_below;
}

void LatencyEstimator::Ring::keep_last(std::size_t recent) {
  Ring kept;
  for (std::size_t i = std::min(recent, size); i > 0; --i)
    kept.push(values[(next + kHist - i) % kHist]);
  *this = kept;
}

void LatencyEstimator::begin(const std::string& stats_reset, bool partial) {
  partial_ = partial;
  if (!partial) ++full_samples_;
  full_reset_ = !baseline_ && stats_reset != stats_reset_;
  stats_reset_ = stats_reset;
}

bool LatencyEstimator::recreated(const Entry& e, const EntrySample& s, bool minmax_reset) const {
  const EntrySample& p = e.prev;
  // An entry may exist with calls = 0 and min = max = 0 (planned, not executed yet).
  if (p.calls <= 0) return s.calls < p.calls || s.plans < p.plans;
  const bool minmax_shrank = !minmax_reset && (s.min_exec > p.min_exec || s.max_exec < p.max_exec);
  return s.calls < p.calls || s.total_exec < p.total_exec || minmax_shrank || s.plans < p.plans ||
         s.total_plan < p.total_plan;
}

EntryDelta LatencyEstimator::observe(const EntryKey& key, const EntrySample& s, Histogram& hist) {
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  const bool minmax_reset = e.present && minmax_interval_only(e.prev, s);
  const bool restarted = e.present && (full_reset_ || recreated(e, s, minmax_reset));
  if (restarted) lost_calls_ += 0.5 * e.last_calls;
  const bool is_new = !e.present || restarted;
  const EntrySample base = is_new ? EntrySample{} : e.prev;

  EntryDelta d;
  if (!baseline_) {
    d.calls = s.calls - base.calls;
    d.rows = s.rows - base.rows;
    d.seconds = (s.total_exec - base.total_exec + s.total_plan - base.total_plan) * kMs;
    if (d.calls > 0) {
      hist.add_exact(d.calls, d.seconds);
      estimate(e, s, base, is_new, minmax_reset && !restarted, hist);
    }
  }
  e.prev_max = s.max_exec;
  e.last_calls = d.calls;
  e.recent_calls += d.calls;
  e.prev = s;
  e.present = true;
  e.last_seen = full_samples_;
  return d;
}

void LatencyEstimator::estimate(Entry& e, const EntrySample& s, const EntrySample& base,
                                bool is_new, bool minmax_reset, Histogram& hist) {
  double n = s.calls - base.calls;
  double s1 = s.total_exec - base.total_exec;
  double s2 = sum_sq(s.calls, s.mean_exec, s.stddev_exec) -
              sum_sq(base.calls, base.mean_exec, base.stddev_exec);
  // Plan time, amortised over calls (cached plans make plans < calls), independent of exec time.
  const double nplans = s.plans - base.plans;
  const double p1 = s.total_plan - base.total_plan;
  const double p = std::max(p1, 0.0) / n;
  double vp = 0;
  if (nplans > 0) {
    const double pm = p1 / nplans;
    vp = std::max((sum_sq(s.plans, s.mean_plan, s.stddev_plan) -
                   sum_sq(base.plans, base.mean_plan, base.stddev_plan)) /
                          nplans -
                      pm * pm,
                  0.0);
  }
  s1 = std::max(s1, 0.0);
  s2 = std::max(s2, 0.0) + 2 * p * s1 + n * (p * p + vp);
  s1 += n * p;

  // 1. Exact calls, taken out: a rise of the cumulative max is one call of this interval; after a
  // min/max reset (PostgreSQL 17) the max and the min both are.
  const auto take_call = [&](double x) {
    hist.add_point(1, x * kMs);
    n -= 1;
    s1 -= x;
    s2 -= x * x;
  };
  if (is_new || minmax_reset || (e.prev_max >= 0 && s.max_exec > e.prev_max)) {
    take_call(s.max_exec + p);
  }
  if (minmax_reset && n >= 1 && s.min_exec < s.max_exec) take_call(s.min_exec + p);
  if (n <= 0) return;
  if (!minmax_reset) {
    estimate_spread(e, n, s1, s2, hist);
    return;
  }
  // The other calls lay between this interval's min and max.
  Histogram spread;
  estimate_spread(e, n, s1, s2, spread);
  hist.add_clamped(spread, n, (s.min_exec + p) * kMs, (s.max_exec + p) * kMs);
}

// Steps 2 and 3 of the estimator (docs/latency.md): the `n` calls of an interval with time sums
// `s1` and `s2` (ms, ms²) that no exact value accounts for.
void LatencyEstimator::estimate_spread(Entry& e, double n, double s1, double s2, Histogram& hist) {
  s1 = std::max(s1, 1e-9 * n);
  s2 = std::max(s2, s1 * s1 / n);
  const double m = s1 / n;
  const double v = std::max(s2 / n - m * m, 0.0);

  // 2. The entry's body, learnt from its own pooled history.
  push_pool(e, n, s1, s2);

  // 3. Explain an excess over the body as k calls at one value x (a stall tail).
  if (n >= 2 && e.body_ok && m > 0 && e.m_b > 0) {
    const double m_b = e.m_b;
    const double v_b = e.cv2_b * m_b * m_b;
    const double s_b = std::sqrt(std::log1p(e.cv2_b));
    const double a = s1 - n * m_b;
    const double b = s2 - n * (m_b * m_b + v_b);
    if (a > 0 && b > 0) {
      const double c = b - 2 * m_b * a;
      const double dx = (c + std::sqrt(c * c + 4 * a * a * v_b)) / (2 * a);
      const double k = a / dx;
      const double x = m_b + dx;
      if (k <= kKMax * n && x >= m_b * std::exp(kZ99 * s_b - s_b * s_b / 2)) {
        if (e.two_speed && add_slow_mode(e, n, a, b, k, x, hist)) return;
        hist.add_lognormal((n - k), m_b * kMs, v_b * kMs * kMs);
        hist.add_point(k, x * kMs);
        return;
      }
    }
    if (a <= 0) {
      const double sigma = std::sqrt(std::log1p(v / (m * m)));
      hist.add_lognormal_sigma(n, m * kMs, std::min(sigma, s_b));
      return;
    }
  }
  hist.add_lognormal(n, m * kMs, v * kMs * kMs);
}

void LatencyEstimator::push_pool(Entry& e, double n, double s1, double s2) {
  e.acc_n += n;
  e.acc_s1 += s1;
  e.acc_s2 += s2;
  if (e.acc_n < kPool) return;
  const double pm = e.acc_s1 / e.acc_n;
  const double pv = std::max(e.acc_s2 / e.acc_n - pm * pm, 0.0);
  if (pm > 0) {
    e.pool_mean.push(static_cast<float>(pm));
    e.pool_cv2.push(static_cast<float>(pv / (pm * pm)));
    // After a lasting change (an index dropped or added) the old pools would hold the body for up
    // to kHist pools, and every interval's excess would be booked as stalls: forget them.
    if (e.pool_mean.shifted(kShiftPools)) {
      e.pool_mean.keep_last(kShiftPools);
      e.pool_cv2.keep_last(kShiftPools);
    }
  }
  e.acc_n = e.acc_s1 = e.acc_s2 = 0;
  e.body_ok = e.pool_mean.size >= kMinPools;
  if (e.body_ok) {
    e.m_b = e.pool_mean.quantile(kQMean);
    e.cv2_b = e.pool_cv2.quantile(kQCv2);
    two_speed_body(e);
  }
}

// A two-speed entry (one SQL shape, two regimes: a hub context with many more rows, a cold cache)
// has its slow calls in every pool, so pool quantiles put the body between the speeds. Pools of
// such an entry lie on a line in (mean, E[x²]): every pool mixes the same two modes, only the share
// of slow calls varies. Where that line meets E[x²] = m²(1 + cv²) are the modes' means; the lower
// one is the body. Two moments cannot tell a mode's width from its mean, so the body gets a prior
// width (kTwoSpeedCv2), used only when its own pools claim more.
void LatencyEstimator::two_speed_body(Entry& e) {
  e.two_speed = false;
  if (e.pool_mean.size < kTwoSpeedPools) return;
  double sm = 0, sq = 0, smm = 0, smq = 0, sqq = 0;
  const double w = static_cast<double>(e.pool_mean.size);
  for (std::size_t i = 0; i < e.pool_mean.size; ++i) {
    const double m = e.pool_mean.values[i], q = m * m * (1 + e.pool_cv2.values[i]);
    sm += m / w;
    sq += q / w;
    smm += m * m / w;
    smq += m * q / w;
    sqq += q * q / w;
  }
  const double var_m = smm - sm * sm, var_q = sqq - sq * sq, cov = smq - sm * sq;
  if (!(var_m > 0) || !(var_q > 0) || cov / std::sqrt(var_m * var_q) < kTwoSpeedCorr) return;
  const double beta = cov / var_m, alpha = sq - beta * sm;
  const double a = 1 + kTwoSpeedCv2;
  const double disc = beta * beta + 4 * a * alpha;
  if (!(alpha < 0) || !(disc > 0)) return;
  const double fast = (beta - std::sqrt(disc)) / (2 * a), slow = (beta + std::sqrt(disc)) / (2 * a);
  if (!(fast > 0) || slow < kTwoSpeedRatio * fast || fast >= e.m_b) return;
  e.m_b = fast;
  e.cv2_b = std::min(e.cv2_b, kTwoSpeedCv2);
  e.two_speed = true;
}

// The slow calls of a two-speed entry are a mode of their own, often wide (hubs of many sizes) and
// skewed: booked at one point per interval, their median came out at their mean (class p95 +23 to
// +44 % at scale 0.2). Each interval's point x is the mean of its k slow calls, so the k-weighted
// spread of successive points measures the mode's variance: v ≈ Σ k (x − x̄)² / intervals (sums
// decay 1 % per interval). Once known, the interval's two moment equations are solved again for k
// calls from a log-normal of that width. False (nothing added) until enough intervals are seen.
bool LatencyEstimator::add_slow_mode(Entry& e, double n, double a, double b, double k, double x,
                                     Histogram& hist) {
  SlowMode& sm = e.slow;
  sm.k = kSlowDecay * sm.k + k;
  sm.kx = kSlowDecay * sm.kx + k * x;
  sm.kxx = kSlowDecay * sm.kxx + k * x * x;
  sm.intervals = kSlowDecay * sm.intervals + 1;
  if (sm.intervals < kSlowMinIntervals) return false;
  const double mean = sm.kx / sm.k;
  const double cv2 = std::clamp((sm.kxx - sm.kx * mean) / sm.intervals / (mean * mean), 0.0, 1.0);
  const double m_b = e.m_b, v_b = e.cv2_b * m_b * m_b;
  // a = k (x − m_b), b = k (x²(1 + cv²) − m_b² − v_b): a quadratic in x, its larger root.
  const double disc = b * b - 4 * a * (1 + cv2) * (b * m_b - a * (m_b * m_b + v_b));
  if (!(cv2 > 0) || !(disc > 0)) return false;
  const double xs = (b + std::sqrt(disc)) / (2 * a * (1 + cv2));
  const double ks = xs > m_b ? a / (xs - m_b) : n;
  if (ks > kKMax * n) return false;
  hist.add_lognormal(n - ks, m_b * kMs, v_b * kMs * kMs);
  hist.add_lognormal(ks, xs * kMs, cv2 * xs * xs * kMs * kMs);
  return true;
}

std::vector<EntryKey> LatencyEstimator::busiest(std::size_t max, double min_calls) {
  std::vector<std::pair<double, EntryKey>> ranked;
  for (auto& [key, e] : entries_) {
    if (e.present && e.recent_calls >= min_calls) ranked.emplace_back(e.recent_calls, key);
    e.recent_calls = 0;
  }
  const auto keep = std::min(max, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep),
                    ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<EntryKey> keys;
  for (std::size_t i = 0; i < keep; ++i) keys.push_back(ranked[i].second);
  return keys;
}

void LatencyEstimator::end() {
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (!partial_ && e.present && e.last_seen != full_samples_) {
      lost_calls_ += 0.5 * e.last_calls;
      e.present = false;
    }
    // A re-created entry keeps its body, but not forever.
    if (full_samples_ - e.last_seen > static_cast<std::uint64_t>(forget_after_)) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  baseline_ = false;
  full_reset_ = false;
}

}  // namespace pge::latency
