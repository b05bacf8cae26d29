#include "exporter/log_rate_limiter.h"

namespace pge {

LogRateLimiter::LogRateLimiter(int lines_per_window, Clock::duration window)
    : lines_per_window_(lines_per_window), window_(window) {}

// A window starts at the first event after the previous one ended (or when its held-back lines are
// reported), so the first line of a new burst is always written.
void LogRateLimiter::roll_if_ended(Window& w, Clock::time_point now) const {
  if (now - w.start < window_) return;
  w.unreported += w.held;
  w.held = 0;
  w.written = 0;
  w.start = now;
}

bool LogRateLimiter::admit(std::string_view kind, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = windows_.find(kind);
  if (it == windows_.end()) it = windows_.emplace(std::string(kind), Window{now}).first;
  Window& w = it->second;
  roll_if_ended(w, now);
  ++w.total;
  if (w.written < lines_per_window_) {
    ++w.written;
    return true;
  }
  ++w.held;
  return false;
}

std::vector<LogRateLimiter::HeldBack> LogRateLimiter::ended_windows(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<HeldBack> out;
  for (auto& [kind, w] : windows_) {
    if (w.held > 0) roll_if_ended(w, now);
    if (w.unreported == 0) continue;
    out.push_back({kind, w.unreported});
    w.unreported = 0;
  }
  return out;
}

std::uint64_t LogRateLimiter::total(std::string_view kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = windows_.find(kind);
  return it == windows_.end() ? 0 : it->second.total;
}

}  // namespace pge
