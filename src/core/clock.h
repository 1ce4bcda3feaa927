// Wall-clock and monotonic time in the units riffle stores and sends.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace riffle {

// Milliseconds since the Unix epoch (wall clock): record timestamps, expiry.
inline int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Monotonic nanoseconds, for measuring durations only.
inline int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Whether FormatUtc writes the milliseconds.
enum class FractionDigits { kNone, kMillis, kMillisIfAny };

// `millis` since the epoch as "2024-01-31T12:00:00" in UTC, then ".123" as
// `fraction` says, then `suffix` ("Z", "+0000"): the shapes AWS writes
// times in.
std::string FormatUtc(int64_t millis, FractionDigits fraction,
                      std::string_view suffix = {});

// `millis` since the epoch in UTC as strftime writes `pattern` (at most 127
// bytes of output; "" beyond): for AWS's other shapes, such as API
// Gateway's Common Log Format time "%d/%b/%Y:%H:%M:%S +0000". The
// milliseconds are dropped (floor division, as above). Month and day names
// are English: riffle never leaves the "C" locale a program starts in.
std::string FormatUtc(int64_t millis, const char* pattern);

}  // namespace riffle
