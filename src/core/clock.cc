#include "core/clock.h"

#include <fmt/format.h>

#include <ctime>

namespace riffle {

std::string FormatUtc(int64_t millis, FractionDigits fraction,
                      std::string_view suffix) {
  // Floor division, so that times before 1970 keep a 0-999 fraction.
  int64_t secs = millis / 1000;
  int ms = static_cast<int>(millis % 1000);
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::string out =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (fraction == FractionDigits::kMillis ||
      (fraction == FractionDigits::kMillisIfAny && ms != 0)) {
    out += fmt::format(".{:03}", ms);
  }
  out += suffix;
  return out;
}

}  // namespace riffle
