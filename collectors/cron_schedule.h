// Cron schedules as pg_cron reads them, to tell how overdue a job is against its own schedule.
// A pure value type with no database access: parse once, then ask for the run expected after a
// given time. Accepts the five classic fields (minute hour day-of-month month day-of-week) with
// `*`, ranges, steps, lists and month/day names, the @hourly/@daily/... macros, and pg_cron's
// interval form "N seconds" (1..59). Times are UTC: pg_cron 1.4 evaluates schedules in GMT.
// Immutable after parsing; safe to share between threads.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>

namespace pge {

class CronSchedule {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // nullopt (and `error` set) when the text is not a schedule pg_cron would accept.
  static std::optional<CronSchedule> parse(const std::string& text, std::string* error = nullptr);

  // The first run time strictly after `after`. nullopt for @reboot and for calendars that never
  // match (e.g. 30 February) within the next eight years.
  std::optional<TimePoint> next_after(TimePoint after) const;

  bool is_interval() const { return interval_seconds_ > 0; }

 private:
  int interval_seconds_ = 0;
  bool reboot_ = false;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool days_star_ = false;
  bool weekdays_star_ = false;

  bool day_matches(std::chrono::sys_days day) const;
};

}  // namespace pge
