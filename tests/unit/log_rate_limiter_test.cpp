#include "exporter/log_rate_limiter.h"

#include <gtest/gtest.h>

namespace pge {
namespace {

using std::chrono::seconds;
using Clock = LogRateLimiter::Clock;

// How many of `events` lines of one kind, all at `at`, the limiter lets through.
int admitted(LogRateLimiter& limiter, std::string_view kind, int events, Clock::time_point at) {
  int n = 0;
  for (int i = 0; i < events; ++i) n += limiter.admit(kind, at);
  return n;
}

TEST(LogRateLimiter, AFloodWritesAtMostTheLimitPerWindowAndCountsEveryEvent) {
  LogRateLimiter limiter(10, seconds(60));
  const Clock::time_point t0{};
  EXPECT_EQ(admitted(limiter, "tls_handshake", 10'000, t0 + seconds(1)), 10);
  EXPECT_EQ(admitted(limiter, "tls_handshake", 10'000, t0 + seconds(59)), 0);
  EXPECT_EQ(limiter.total("tls_handshake"), 20'000u);
}

TEST(LogRateLimiter, TheHeldBackCountIsReportedOnceWhenTheWindowEnds) {
  LogRateLimiter limiter(10, seconds(60));
  const Clock::time_point t0{};
  admitted(limiter, "tls_handshake", 25, t0);
  EXPECT_TRUE(limiter.ended_windows(t0 + seconds(59)).empty()) << "the window has not ended yet";

  const auto held = limiter.ended_windows(t0 + seconds(60));
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].kind, "tls_handshake");
  EXPECT_EQ(held[0].lines, 15u);
  EXPECT_TRUE(limiter.ended_windows(t0 + seconds(61)).empty()) << "reported twice";
}

TEST(LogRateLimiter, ANewWindowWritesAgainAndKeepsTheLastWindowsCount) {
  LogRateLimiter limiter(10, seconds(60));
  const Clock::time_point t0{};
  admitted(limiter, "tls_handshake", 12, t0);
  EXPECT_EQ(admitted(limiter, "tls_handshake", 12, t0 + seconds(60)), 10);

  const auto held = limiter.ended_windows(t0 + seconds(61));
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].lines, 2u) << "only the ended window's count; the open one holds 2 more";
  EXPECT_EQ(limiter.ended_windows(t0 + seconds(120)).at(0).lines, 2u);
}

TEST(LogRateLimiter, KindsHaveTheirOwnLimit) {
  LogRateLimiter limiter(10, seconds(60));
  const Clock::time_point t0{};
  admitted(limiter, "tls_handshake", 1000, t0);
  EXPECT_EQ(admitted(limiter, "other", 3, t0), 3);
  EXPECT_EQ(limiter.total("other"), 3u);
  EXPECT_EQ(limiter.total("never_seen"), 0u);
  const auto held = limiter.ended_windows(t0 + seconds(60));
  ASSERT_EQ(held.size(), 1u) << "a kind with nothing held back has nothing to report";
  EXPECT_EQ(held[0].kind, "tls_handshake");
}

}  // namespace
}  // namespace pge
