#include "core/duration.h"

#include <cstdlib>
#include <regex>

namespace pge {

std::optional<Seconds> parse_duration(const std::string& text) {
  static const std::regex full("^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+$");
  if (!std::regex_match(text, full)) return std::nullopt;
  static const std::regex part("([0-9]+(?:\\.[0-9]+)?)(ms|s|m|h|d)");
  double total = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), part); it != std::sregex_iterator();
       ++it) {
    double v = std::strtod((*it)[1].str().c_str(), nullptr);
    const std::string unit = (*it)[2];
    total += unit == "ms"  ? v / 1000
             : unit == "s" ? v
             : unit == "m" ? v * 60
             : unit == "h" ? v * 3600
                           : v * 86400;
  }
  return Seconds{total};
}

}  // namespace pge
