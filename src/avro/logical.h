// Text forms shared by the decoders and the JSON codecs: JSON string
// escaping, numbers, and the plain-JSON forms of logical types (decimal
// strings, ISO-8601 dates and times, UUIDs). Internal to src/avro. Stateless
// and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace riffle::avro::internal {

// Raw writers for the decoder's output buffer: each writes at `dst`, which
// must have room for the stated bound, and returns the bytes written.
constexpr size_t JsonStringBound(size_t n) { return 2 + 6 * n; }
constexpr size_t Base64StringBound(size_t n) { return 2 + 4 * ((n + 2) / 3); }
constexpr size_t kNumberBound = 32;
size_t WriteJsonString(std::string_view s, char* dst);
size_t WriteLatin1String(std::string_view bytes, char* dst);  // JsonStringBound
size_t WriteBase64String(std::string_view bytes, char* dst);
size_t WriteInt(int64_t v, char* dst);
size_t WriteFloat(float v, char* dst);
size_t WriteDouble(double v, char* dst);

// A quoted JSON string. Invalid UTF-8 becomes U+FFFD, so the output is
// always valid JSON.
void AppendJsonString(std::string_view s, std::string* out);
// Avro's JSON form of bytes and fixed: a string whose code points U+0000 to
// U+00FF are the bytes.
void AppendLatin1String(std::string_view bytes, std::string* out);
// The inverse; nullopt when a code point is above U+00FF.
std::optional<std::string> Latin1ToBytes(std::string_view utf8);
void AppendBase64String(std::string_view bytes, std::string* out);

void AppendInt(int64_t v, std::string* out);
// Shortest round-tripping text; NaN and the infinities as the strings
// "NaN", "Infinity", "-Infinity" (what Java's Avro JSON encoder writes).
void AppendFloat(float v, std::string* out);
void AppendDouble(double v, std::string* out);

// Decimal: big-endian two's-complement unscaled value -> "-123.45" (quoted).
void AppendDecimal(std::string_view unscaled, int scale, std::string* out);
// "-123.45" at `scale` -> minimal big-endian two's complement. nullopt when
// the text is not a decimal or has more fraction digits than `scale`.
std::optional<std::string> DecimalToUnscaled(std::string_view text, int scale);
// Sign-extends a minimal two's-complement value to `size` bytes; nullopt if
// it does not fit.
std::optional<std::string> SignExtend(std::string_view unscaled, size_t size);

enum class TimeUnit { kMillis, kMicros, kNanos };
// Quoted ISO-8601 forms; false (nothing appended) when out of the range a
// four-digit year or a 24-hour day can show, so the caller writes the number.
bool AppendDate(int64_t days, std::string* out);
bool AppendTimeOfDay(int64_t value, TimeUnit unit, std::string* out);
bool AppendTimestamp(int64_t value, TimeUnit unit, bool utc, std::string* out);
void AppendUuid(std::string_view sixteen_bytes, std::string* out);

std::optional<int64_t> ParseDate(std::string_view text);
std::optional<int64_t> ParseTimeOfDay(std::string_view text, TimeUnit unit);
std::optional<int64_t> ParseTimestamp(std::string_view text, TimeUnit unit);
std::optional<std::string> ParseUuid(std::string_view text);

}  // namespace riffle::avro::internal
