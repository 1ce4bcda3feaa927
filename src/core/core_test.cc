#include <gtest/gtest.h>

#include <ctime>

#include "core/base64.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "core/crc32c.h"
#include "core/metrics.h"
#include "core/status.h"

namespace riffle {
namespace {

TEST(Crc32c, KnownVectors) {
  // RFC 3720 B.4 test vectors.
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c::Value(zeros), 0x8A9136AAu);
  std::string ones(32, '\xff');
  EXPECT_EQ(crc32c::Value(ones), 0x62A8AB43u);
  EXPECT_EQ(crc32c::Value(std::string_view("123456789")), 0xE3069283u);
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string s = "hello, world of logs and batches";
  uint32_t part = crc32c::Value(s.substr(0, 7));
  EXPECT_EQ(crc32c::Extend(part, s.data() + 7, s.size() - 7), crc32c::Value(s));
}

TEST(Base64, RoundTripAndRejects) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(base64::Decode(base64::Encode(s)).value(), s);
  }
  EXPECT_EQ(base64::Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64::Encode("fo"), "Zm8=");
  EXPECT_FALSE(base64::Decode("Zm8").has_value());
  EXPECT_FALSE(base64::Decode("Z=m8").has_value());
  EXPECT_FALSE(base64::Decode("Zm!=").has_value());
  EXPECT_EQ(base64::DecodedSize("Zm8="), 2u);
}

TEST(Bytes, VarintRoundTrip) {
  std::string buf;
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, ~0ull}) {
    bytes::PutVarint64(&buf, v);
  }
  std::string_view in = buf;
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, ~0ull}) {
    EXPECT_EQ(bytes::GetVarint64(&in), v);
  }
  EXPECT_TRUE(in.empty());
  std::string_view truncated("\x80\x80", 2);
  EXPECT_FALSE(bytes::GetVarint64(&truncated).has_value());
}

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("odd");
  return x / 2;
}
Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(Status, Macros) {
  EXPECT_EQ(Quarter(8).value(), 2);
  EXPECT_EQ(Quarter(6).status().code(), StatusCode::kInvalidArgument);
}

TEST(Metrics, RendersPrometheusText) {
  metrics::Registry r;
  r.GetCounter("riffle_requests_total", {{"op", "PutRecord"}}, "Requests")
      .Add(3);
  r.GetHistogram("riffle_latency_seconds", {}).Observe(0.002);
  std::string text = r.RenderText();
  EXPECT_NE(text.find("riffle_requests_total{op=\"PutRecord\"} 3"),
            std::string::npos);
  EXPECT_NE(text.find("riffle_latency_seconds_bucket{le=\"+Inf\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE riffle_latency_seconds histogram"),
            std::string::npos);
}

TEST(Metrics, GaugesGoUpAndDown) {
  metrics::Registry r;
  metrics::Gauge& g =
      r.GetGauge("riffle_age_ms", {{"shard", "s-0"}}, "Age of the oldest");
  g.Set(250);
  g.Add(-50);
  EXPECT_EQ(g.value(), 200);
  // The same series comes back for the same name and labels.
  EXPECT_EQ(&r.GetGauge("riffle_age_ms", {{"shard", "s-0"}}), &g);
  r.GetGauge("riffle_age_ms", {{"shard", "s-1"}}).Set(-3);
  std::string text = r.RenderText();
  EXPECT_NE(text.find("# TYPE riffle_age_ms gauge"), std::string::npos);
  EXPECT_NE(text.find("riffle_age_ms{shard=\"s-0\"} 200"), std::string::npos);
  EXPECT_NE(text.find("riffle_age_ms{shard=\"s-1\"} -3"), std::string::npos);
}

// Every month's name, zero-padded days and hours, the epoch, a leap day,
// and a time before 1970 (floor: the second before).
TEST(Clock, FormatUtcWithAPattern) {
  const char* kClf = "%d/%b/%Y:%H:%M:%S +0000";
  EXPECT_EQ(FormatUtc(1583348638390, kClf), "04/Mar/2020:19:03:58 +0000");
  EXPECT_EQ(FormatUtc(0, kClf), "01/Jan/1970:00:00:00 +0000");
  EXPECT_EQ(FormatUtc(951782400000, kClf), "29/Feb/2000:00:00:00 +0000");
  EXPECT_EQ(FormatUtc(-1, kClf), "31/Dec/1969:23:59:59 +0000");
  const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int m = 0; m < 12; ++m) {
    std::tm tm{};
    tm.tm_year = 2026 - 1900;
    tm.tm_mon = m;
    tm.tm_mday = 9;
    tm.tm_hour = 5;
    tm.tm_min = 7;
    tm.tm_sec = 3;
    int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000 + 999;
    EXPECT_EQ(FormatUtc(ms, kClf),
              std::string("09/") + kMonths[m] + "/2026:05:07:03 +0000");
  }
  EXPECT_EQ(FormatUtc(1421889722000, "%a %b %d %H:%M:%S UTC %Y"),
            "Thu Jan 22 01:22:02 UTC 2015");
  EXPECT_EQ(FormatUtc(0, ""), "");
}

TEST(Clock, FormatUtc) {
  int64_t t = 1714564800123;  // 2024-05-01T12:00:00.123Z
  EXPECT_EQ(FormatUtc(t, FractionDigits::kMillis), "2024-05-01T12:00:00.123");
  EXPECT_EQ(FormatUtc(t, FractionDigits::kNone, "Z"), "2024-05-01T12:00:00Z");
  EXPECT_EQ(FormatUtc(t, FractionDigits::kMillisIfAny, "Z"),
            "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(FormatUtc(t - 123, FractionDigits::kMillisIfAny, "Z"),
            "2024-05-01T12:00:00Z");
  EXPECT_EQ(FormatUtc(5, FractionDigits::kMillis, "+0000"),
            "1970-01-01T00:00:00.005+0000");
  // Before the epoch the fraction still counts up from the second before.
  EXPECT_EQ(FormatUtc(-1, FractionDigits::kMillis), "1969-12-31T23:59:59.999");
}

}  // namespace
}  // namespace riffle
