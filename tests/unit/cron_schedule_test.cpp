// The cron-expression parser against hand-checked calendars (UTC, as pg_cron 1.4 evaluates them).
#include "collectors/cron_schedule.h"

#include <gtest/gtest.h>

namespace pge {
namespace {

using namespace std::chrono;
using TP = CronSchedule::TimePoint;

// 2024-02-28 (a Wednesday, leap year) at hh:mm:ss UTC, plus `days_later` days.
TP at(int days_later, int hh, int mm, int ss = 0) {
  return TP{sys_days{year{2024} / February / 28} + days{days_later} + hours{hh} + minutes{mm} +
            seconds{ss}};
}

TP next(const std::string& expr, TP after) {
  std::string error;
  auto s = CronSchedule::parse(expr, &error);
  EXPECT_TRUE(s) << expr << ": " << error;
  auto n = s ? s->next_after(after) : std::nullopt;
  EXPECT_TRUE(n) << expr;
  return n.value_or(TP{});
}

TEST(CronSchedule, EveryMinuteRunsAtTheNextWholeMinute) {
  EXPECT_EQ(next("* * * * *", at(0, 10, 15, 30)), at(0, 10, 16));
  EXPECT_EQ(next("* * * * *", at(0, 10, 15, 0)), at(0, 10, 16));  // strictly after
}

TEST(CronSchedule, StepsRangesAndListsInMinuteAndHour) {
  EXPECT_EQ(next("*/5 * * * *", at(0, 10, 16)), at(0, 10, 20));
  EXPECT_EQ(next("*/5 * * * *", at(0, 23, 58)), at(1, 0, 0));
  EXPECT_EQ(next("10-20/5 * * * *", at(0, 10, 16)), at(0, 10, 20));
  EXPECT_EQ(next("10-20/5 * * * *", at(0, 10, 21)), at(0, 11, 10));
  EXPECT_EQ(next("5/20 * * * *", at(0, 10, 26)), at(0, 10, 45));
  EXPECT_EQ(next("0,30 9,17 * * *", at(0, 9, 30)), at(0, 17, 0));
  EXPECT_EQ(next("0,30 9,17 * * *", at(0, 17, 30)), at(1, 9, 0));
}

TEST(CronSchedule, DayOfMonthAndLeapDay) {
  EXPECT_EQ(next("0 3 29 2 *", at(0, 0, 0)), at(1, 3, 0));  // 2024-02-29 exists
  EXPECT_EQ(next("0 3 29 2 *", at(1, 3, 0)),                // next one: 2028-02-29
            TP{sys_days{year{2028} / February / 29} + hours{3}});
  EXPECT_EQ(next("0 0 1 * *", at(0, 12, 0)), at(2, 0, 0));  // 2024-03-01
}

TEST(CronSchedule, NamesForMonthsAndWeekdays) {
  // 2024-02-28 is a Wednesday: the next Monday is 2024-03-04.
  EXPECT_EQ(next("0 8 * * mon", at(0, 9, 0)), at(5, 8, 0));
  EXPECT_EQ(next("0 8 * * MON-FRI", at(0, 9, 0)), at(1, 8, 0));
  EXPECT_EQ(next("0 8 * * 7", at(0, 9, 0)), at(4, 8, 0));  // 7 = Sunday = 2024-03-03
  EXPECT_EQ(next("0 0 1 apr *", at(0, 0, 0)), TP{sys_days{year{2024} / April / 1}});
}

TEST(CronSchedule, RestrictedDayOfMonthAndWeekdayMatchEither) {
  // vixie cron reads "0 0 15 * 1" as "on the 15th or on Mondays": from Wed 28 Feb, Monday 4 March.
  EXPECT_EQ(next("0 0 15 * 1", at(0, 1, 0)), at(5, 0, 0));
  // With day-of-week '*' only the day of month counts.
  EXPECT_EQ(next("0 0 15 * *", at(0, 1, 0)), TP{sys_days{year{2024} / March / 15}});
}

TEST(CronSchedule, MacrosAndPgCronSecondsInterval) {
  EXPECT_EQ(next("@hourly", at(0, 10, 15)), at(0, 11, 0));
  EXPECT_EQ(next("@daily", at(0, 10, 15)), at(1, 0, 0));
  EXPECT_EQ(next("5 seconds", at(0, 10, 15, 3)), at(0, 10, 15, 8));
  EXPECT_EQ(next("1 second", at(0, 10, 15, 3)), at(0, 10, 15, 4));
  auto reboot = CronSchedule::parse("@reboot");
  ASSERT_TRUE(reboot);
  EXPECT_FALSE(reboot->next_after(at(0, 0, 0)));
}

TEST(CronSchedule, RejectsWhatPgCronRejects) {
  for (const char* bad : {"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
                          "* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "a * * * *",
                          "1,,2 * * * *", "1, * * * *", "0 seconds", "60 seconds", "* * * foo *"}) {
    std::string error;
    EXPECT_FALSE(CronSchedule::parse(bad, &error)) << "accepted: '" << bad << "'";
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(CronSchedule, ImpossibleCalendarHasNoNextRun) {
  auto s = CronSchedule::parse("0 0 30 2 *");
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->next_after(at(0, 0, 0)));
}

}  // namespace
}  // namespace pge
