#include "core/clock.h"

#include <fmt/format.h>

#include <ctime>

namespace riffle {

namespace {

// `millis` as broken-down UTC time and its 0-999 fraction. Floor division,
// so that times before 1970 keep a 0-999 fraction.
std::tm UtcTime(int64_t millis, int* fraction_ms) {
  int64_t secs = millis / 1000;
  int ms = static_cast<int>(millis % 1000);
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  if (fraction_ms) *fraction_ms = ms;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

}  // namespace

std::string FormatUtc(int64_t millis, const char* pattern) {
  std::tm tm = UtcTime(millis, nullptr);
  char out[128];
  size_t n = std::strftime(out, sizeof out, pattern, &tm);
  return std::string(out, n);
}

std::string FormatUtc(int64_t millis, FractionDigits fraction,
                      std::string_view suffix) {
  int ms = 0;
  std::tm tm = UtcTime(millis, &ms);
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
