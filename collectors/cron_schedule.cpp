#include "collectors/cron_schedule.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <regex>
#include <sstream>
#include <vector>

namespace pge {
namespace {

using namespace std::chrono;

struct FieldSpec {
  const char* what;
  int lo, hi;
  const char* const* names;  // names[i] stands for lo + i; nullptr when the field has none
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",  "jul",
                                       "aug", "sep", "oct", "nov", "dec", nullptr};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};

// Day of week accepts 7 for Sunday, as vixie cron (and so pg_cron) does; it is folded onto 0 later.
constexpr std::array<FieldSpec, 5> kFields{{{"minute", 0, 59, nullptr},
                                            {"hour", 0, 23, nullptr},
                                            {"day of month", 1, 31, nullptr},
                                            {"month", 1, 12, kMonthNames},
                                            {"day of week", 0, 7, kDayNames}}};

bool fail(std::string* error, const std::string& message) {
  if (error) *error = message;
  return false;
}

std::optional<int> parse_value(const std::string& s, const FieldSpec& f) {
  if (!s.empty() &&
      std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) {
    if (s.size() > 3) return std::nullopt;
    return std::stoi(s);
  }
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  for (int i = 0; f.names && f.names[i]; ++i) {
    if (lower == f.names[i]) return f.lo + i;
  }
  return std::nullopt;
}

// One comma-separated item: "*", "a", "a-b", each optionally followed by "/step" ("a/step" runs to
// the field's maximum, as in vixie cron).
bool parse_item(const std::string& item, const FieldSpec& f, std::bitset<64>& bits,
                std::string* error) {
  const auto slash = item.find('/');
  const std::string range = item.substr(0, slash);
  int step = 1;
  if (slash != std::string::npos) {
    const std::string s = item.substr(slash + 1);
    if (s.empty() || s.size() > 3 || !std::all_of(s.begin(), s.end(), ::isdigit) ||
        std::stoi(s) == 0) {
      return fail(error, std::string("bad step in ") + f.what + " field: " + item);
    }
    step = std::stoi(s);
  }
  int lo = f.lo, hi = f.hi;
  if (range != "*") {
    const auto dash = range.find('-');
    auto a = parse_value(range.substr(0, dash), f);
    auto b = dash == std::string::npos ? a : parse_value(range.substr(dash + 1), f);
    if (!a || !b || *a < f.lo || *b > f.hi || *a > *b) {
      return fail(error, std::string("bad ") + f.what + " field: " + item);
    }
    lo = *a;
    hi = (dash == std::string::npos && slash != std::string::npos) ? f.hi : *b;
  }
  for (int v = lo; v <= hi; v += step) bits.set(static_cast<std::size_t>(v));
  return true;
}

bool parse_field(const std::string& text, const FieldSpec& f, std::bitset<64>& bits, bool& star,
                 std::string* error) {
  star = text == "*" || text.rfind("*/", 0) == 0;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!parse_item(item, f, bits, error)) return false;
  }
  return text.empty() || text.back() == ',' ? fail(error, std::string("empty ") + f.what + " field")
                                            : true;
}

template <std::size_t N>
std::bitset<N> narrow(const std::bitset<64>& wide) {
  std::bitset<N> out;
  for (std::size_t i = 0; i < N; ++i) out[i] = wide[i];
  return out;
}

const std::array<std::pair<const char*, const char*>, 7> kMacros{{{"@yearly", "0 0 1 1 *"},
                                                                  {"@annually", "0 0 1 1 *"},
                                                                  {"@monthly", "0 0 1 * *"},
                                                                  {"@weekly", "0 0 * * 0"},
                                                                  {"@daily", "0 0 * * *"},
                                                                  {"@midnight", "0 0 * * *"},
                                                                  {"@hourly", "0 * * * *"}}};

}  // namespace

std::optional<CronSchedule> CronSchedule::parse(const std::string& raw, std::string* error) {
  CronSchedule s;
  static const std::regex interval_re(R"(^\s*([0-9]{1,2})\s+seconds?\s*$)", std::regex::icase);
  std::smatch m;
  if (std::regex_match(raw, m, interval_re)) {
    s.interval_seconds_ = std::stoi(m[1]);
    if (s.interval_seconds_ < 1 || s.interval_seconds_ > 59) {
      fail(error, "interval must be 1 to 59 seconds: " + raw);
      return std::nullopt;
    }
    return s;
  }
  std::string text = raw;
  text.erase(0, text.find_first_not_of(" \t"));
  text.erase(text.find_last_not_of(" \t") + 1);
  if (text == "@reboot") {
    s.reboot_ = true;
    return s;
  }
  for (const auto& [macro, expansion] : kMacros) {
    if (text == macro) text = expansion;
  }
  std::istringstream in(text);
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() != kFields.size()) {
    fail(error, "expected 5 fields (minute hour day-of-month month day-of-week): " + raw);
    return std::nullopt;
  }
  std::array<std::bitset<64>, 5> bits;
  std::array<bool, 5> star{};
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (!parse_field(fields[i], kFields[i], bits[i], star[i], error)) return std::nullopt;
  }
  if (bits[4][7]) bits[4].set(0);
  s.minutes_ = narrow<60>(bits[0]);
  s.hours_ = narrow<24>(bits[1]);
  s.days_ = narrow<32>(bits[2]);
  s.months_ = narrow<13>(bits[3]);
  s.weekdays_ = narrow<7>(bits[4]);
  s.days_star_ = star[2];
  s.weekdays_star_ = star[4];
  return s;
}

// vixie cron: when both day fields are restricted, a day matching either one runs the job.
bool CronSchedule::day_matches(sys_days day) const {
  const year_month_day ymd{day};
  if (!months_[static_cast<unsigned>(ymd.month())]) return false;
  const bool dom = days_[static_cast<unsigned>(ymd.day())];
  const bool dow = weekdays_[weekday{day}.c_encoding()];
  return (days_star_ || weekdays_star_) ? (dom && dow) : (dom || dow);
}

std::optional<CronSchedule::TimePoint> CronSchedule::next_after(TimePoint after) const {
  if (reboot_) return std::nullopt;
  if (interval_seconds_ > 0) return after + seconds{interval_seconds_};
  // Cron fires at whole minutes: start at the first minute boundary strictly after `after`.
  const auto start = floor<minutes>(after) + minutes{1};
  sys_days day = floor<days>(start);
  const auto first_minute = duration_cast<minutes>(start - day).count();
  constexpr int kSearchDays = 366 * 8;  // long enough for 29 February on a given weekday
  for (int d = 0; d < kSearchDays; ++d, day += days{1}) {
    if (!day_matches(day)) continue;
    for (long m = d == 0 ? first_minute : 0; m < 24 * 60; ++m) {
      if (hours_[static_cast<std::size_t>(m / 60)] && minutes_[static_cast<std::size_t>(m % 60)]) {
        return TimePoint{day + minutes{m}};
      }
    }
  }
  return std::nullopt;
}

}  // namespace pge
