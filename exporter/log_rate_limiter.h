// Holds back repeated log lines so that a flood of one event (hostile clients failing TLS
// handshakes by the thousand) cannot flood the log: at most `lines_per_window` lines of one kind
// are written per window, the rest are counted, and once a window has ended its held-back count is
// handed out once so the caller can log it. Every event is also counted in a total per kind, for a
// counter metric. Time is passed in, so tests control it. Any thread may call every method (one
// internal mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pge {

class LogRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  struct HeldBack {
    std::string kind;
    std::uint64_t lines;
  };

  LogRateLimiter(int lines_per_window, Clock::duration window);

  // Counts one event of this kind at `now`; true when its line may be written.
  bool admit(std::string_view kind, Clock::time_point now);

  // The kinds whose window has ended by `now` with lines held back, each reported once.
  std::vector<HeldBack> ended_windows(Clock::time_point now);

  // Events of this kind admitted or held back since construction.
  std::uint64_t total(std::string_view kind) const;

 private:
  struct Window {
    Clock::time_point start;
    int written = 0;
    std::uint64_t held = 0;        // in the current window
    std::uint64_t unreported = 0;  // held back in windows that have ended, not yet handed out
    std::uint64_t total = 0;
  };

  void roll_if_ended(Window& w, Clock::time_point now) const;

  const int lines_per_window_;
  const Clock::duration window_;
  mutable std::mutex mu_;  // guards windows_
  std::map<std::string, Window, std::less<>> windows_;
};

}  // namespace pge
