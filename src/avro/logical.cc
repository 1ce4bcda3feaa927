#include "avro/logical.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

namespace riffle::avro::internal {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of a valid UTF-8 sequence at p (at most n bytes), or 0.
size_t Utf8SequenceLength(const unsigned char* p, size_t n) {
  unsigned char c = p[0];
  auto cont = [&](size_t i) { return i < n && (p[i] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3 || !cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;
    if (c == 0xED && p[1] > 0x9F) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4 || !cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;
    if (c == 0xF4 && p[1] > 0x8F) return 0;
    return 4;
  }
  return 0;
}

inline bool NeedsAttention(uint64_t w) {
  constexpr uint64_t k01 = 0x0101010101010101ULL;
  constexpr uint64_t k80 = 0x8080808080808080ULL;
  uint64_t lt20 = (w - 0x20 * k01) & ~w;
  uint64_t q = w ^ (0x22 * k01);
  uint64_t bs = w ^ (0x5C * k01);
  return ((lt20 | ((q - k01) & ~q) | ((bs - k01) & ~bs)) & k80) != 0 ||
         (w & k80) != 0;
}

void AppendPadded(int64_t v, int width, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  for (int n = static_cast<int>(end - buf); n < width; ++n) out->push_back('0');
  out->append(buf, end);
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Howard Hinnant's days_from_civil / civil_from_days.
void CivilFromDays(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  int64_t era = FloorDiv(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  int64_t era = FloorDiv(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int64_t UnitsPerSecond(TimeUnit unit) {
  switch (unit) {
    case TimeUnit::kMillis:
      return 1000;
    case TimeUnit::kMicros:
      return 1000000;
    case TimeUnit::kNanos:
      return 1000000000;
  }
  return 1000;
}
int UnitDigits(TimeUnit unit) {
  return unit == TimeUnit::kMillis ? 3 : unit == TimeUnit::kMicros ? 6 : 9;
}

// Small cursor for the ISO parsers.
struct Scan {
  std::string_view s;
  size_t i = 0;
  bool Digits(int n, int64_t* v) {
    if (s.size() - i < static_cast<size_t>(n)) return false;
    int64_t r = 0;
    for (int k = 0; k < n; ++k) {
      char c = s[i + k];
      if (c < '0' || c > '9') return false;
      r = r * 10 + (c - '0');
    }
    i += n;
    *v = r;
    return true;
  }
  bool Char(char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  bool done() const { return i == s.size(); }
};

bool DaysInMonthOk(int64_t y, int64_t m, int64_t d) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int max = kDays[m - 1] + (m == 2 && leap ? 1 : 0);
  return d <= max;
}

// "HH:MM:SS[.fraction]" -> units since midnight.
bool ParseClock(Scan* sc, TimeUnit unit, int64_t* out) {
  int64_t h, m, s;
  if (!sc->Digits(2, &h) || !sc->Char(':') || !sc->Digits(2, &m) ||
      !sc->Char(':') || !sc->Digits(2, &s)) {
    return false;
  }
  if (h > 23 || m > 59 || s > 59) return false;
  int64_t frac = 0;
  int digits = UnitDigits(unit);
  if (sc->Char('.')) {
    int n = 0;
    while (sc->i < sc->s.size() && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9') {
      if (n >= digits) return false;  // finer than the unit holds
      frac = frac * 10 + (sc->s[sc->i] - '0');
      ++sc->i;
      ++n;
    }
    if (n == 0) return false;
    for (; n < digits; ++n) frac *= 10;
  }
  *out = ((h * 60 + m) * 60 + s) * UnitsPerSecond(unit) + frac;
  return true;
}

}  // namespace

size_t WriteJsonString(std::string_view sv, char* dst) {
  const auto* p = reinterpret_cast<const unsigned char*>(sv.data());
  size_t n = sv.size();
  char* d = dst;
  *d++ = '"';
  size_t i = 0;
  while (i < n) {
    if (n - i >= 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (!NeedsAttention(w)) {
        std::memcpy(d, &w, 8);
        d += 8;
        i += 8;
        continue;
      }
    }
    unsigned char c = p[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      *d++ = static_cast<char>(c);
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t len = Utf8SequenceLength(p + i, n - i);
      if (len != 0) {
        std::memcpy(d, p + i, len);
        d += len;
        i += len;
      } else {
        std::memcpy(d, "\\ufffd", 6);
        d += 6;
        ++i;
      }
      continue;
    }
    *d++ = '\\';
    switch (c) {
      case '"':
        *d++ = '"';
        break;
      case '\\':
        *d++ = '\\';
        break;
      case '\n':
        *d++ = 'n';
        break;
      case '\r':
        *d++ = 'r';
        break;
      case '\t':
        *d++ = 't';
        break;
      case '\b':
        *d++ = 'b';
        break;
      case '\f':
        *d++ = 'f';
        break;
      default:
        *d++ = 'u';
        *d++ = '0';
        *d++ = '0';
        *d++ = kHex[c >> 4];
        *d++ = kHex[c & 15];
    }
    ++i;
  }
  *d++ = '"';
  return static_cast<size_t>(d - dst);
}

size_t WriteLatin1String(std::string_view bytes, char* dst) {
  char* d = dst;
  *d++ = '"';
  for (unsigned char c : bytes) {
    if (c >= 0x80) {
      *d++ = static_cast<char>(0xC0 | (c >> 6));
      *d++ = static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x20 || c == '"' || c == '\\') {
      *d++ = '\\';
      if (c == '"' || c == '\\') {
        *d++ = static_cast<char>(c);
      } else {
        *d++ = 'u';
        *d++ = '0';
        *d++ = '0';
        *d++ = kHex[c >> 4];
        *d++ = kHex[c & 15];
      }
    } else {
      *d++ = static_cast<char>(c);
    }
  }
  *d++ = '"';
  return static_cast<size_t>(d - dst);
}

size_t WriteBase64String(std::string_view bytes, char* dst) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size(), i = 0;
  char* d = dst;
  *d++ = '"';
  for (; i + 3 <= n; i += 3) {
    uint32_t v = uint32_t{p[i]} << 16 | uint32_t{p[i + 1]} << 8 | p[i + 2];
    *d++ = kAlphabet[v >> 18];
    *d++ = kAlphabet[(v >> 12) & 63];
    *d++ = kAlphabet[(v >> 6) & 63];
    *d++ = kAlphabet[v & 63];
  }
  if (i < n) {
    uint32_t v =
        uint32_t{p[i]} << 16 | (i + 1 < n ? uint32_t{p[i + 1]} << 8 : 0);
    *d++ = kAlphabet[v >> 18];
    *d++ = kAlphabet[(v >> 12) & 63];
    *d++ = i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    *d++ = '=';
  }
  *d++ = '"';
  return static_cast<size_t>(d - dst);
}

size_t WriteInt(int64_t v, char* dst) {
  return static_cast<size_t>(std::to_chars(dst, dst + kNumberBound, v).ptr -
                             dst);
}

namespace {
template <typename T>
size_t WriteFloating(T v, char* dst) {
  if (!std::isfinite(v)) {
    std::string_view s = std::isnan(v) ? "\"NaN\""
                         : v > 0       ? "\"Infinity\""
                                       : "\"-Infinity\"";
    std::memcpy(dst, s.data(), s.size());
    return s.size();
  }
  return static_cast<size_t>(std::to_chars(dst, dst + kNumberBound, v).ptr -
                             dst);
}

template <typename F>
void AppendWith(std::string* out, size_t bound, F&& write) {
  size_t old = out->size();
  out->resize(old + bound);
  out->resize(old + write(out->data() + old));
}
}  // namespace

size_t WriteFloat(float v, char* dst) { return WriteFloating(v, dst); }
size_t WriteDouble(double v, char* dst) { return WriteFloating(v, dst); }

void AppendJsonString(std::string_view s, std::string* out) {
  AppendWith(out, JsonStringBound(s.size()),
             [&](char* d) { return WriteJsonString(s, d); });
}

void AppendLatin1String(std::string_view bytes, std::string* out) {
  AppendWith(out, JsonStringBound(bytes.size()),
             [&](char* d) { return WriteLatin1String(bytes, d); });
}

std::optional<std::string> Latin1ToBytes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size() &&
               (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) {
      out.push_back(static_cast<char>(
          ((c & 0x03) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F)));
      ++i;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

void AppendBase64String(std::string_view bytes, std::string* out) {
  AppendWith(out, Base64StringBound(bytes.size()),
             [&](char* d) { return WriteBase64String(bytes, d); });
}

void AppendInt(int64_t v, std::string* out) {
  char buf[kNumberBound];
  out->append(buf, WriteInt(v, buf));
}

void AppendFloat(float v, std::string* out) {
  char buf[kNumberBound];
  out->append(buf, WriteFloat(v, buf));
}

void AppendDouble(double v, std::string* out) {
  char buf[kNumberBound];
  out->append(buf, WriteDouble(v, buf));
}

void AppendDecimal(std::string_view unscaled, int scale, std::string* out) {
  bool negative =
      !unscaled.empty() && (static_cast<unsigned char>(unscaled[0]) & 0x80);
  std::vector<uint8_t> mag(unscaled.begin(), unscaled.end());
  if (negative) {  // two's complement negate: invert and add one
    for (auto& b : mag) b = static_cast<uint8_t>(~b);
    for (size_t i = mag.size(); i-- > 0;) {
      if (++mag[i] != 0) break;
    }
  }
  // Repeated division by 10^9 of the base-256 magnitude; quadratic, which is
  // why callers bound the length.
  std::vector<uint32_t> chunks;
  size_t start = 0;
  while (start < mag.size() && mag[start] == 0) ++start;
  while (start < mag.size()) {
    uint64_t rem = 0;
    for (size_t i = start; i < mag.size(); ++i) {
      uint64_t cur = (rem << 8) | mag[i];
      mag[i] = static_cast<uint8_t>(cur / 1000000000);
      rem = cur % 1000000000;
    }
    chunks.push_back(static_cast<uint32_t>(rem));
    while (start < mag.size() && mag[start] == 0) ++start;
  }
  std::string digits;
  if (chunks.empty()) {
    digits = "0";
  } else {
    digits = std::to_string(chunks.back());
    for (size_t i = chunks.size() - 1; i-- > 0;) {
      std::string c = std::to_string(chunks[i]);
      digits.append(9 - c.size(), '0');
      digits += c;
    }
  }
  out->push_back('"');
  if (negative) out->push_back('-');
  if (scale > 0) {
    if (digits.size() <= static_cast<size_t>(scale)) {
      digits.insert(0, static_cast<size_t>(scale) + 1 - digits.size(), '0');
    }
    out->append(digits, 0, digits.size() - scale);
    out->push_back('.');
    out->append(digits, digits.size() - scale, std::string::npos);
  } else {
    out->append(digits);
  }
  out->push_back('"');
}

std::optional<std::string> DecimalToUnscaled(std::string_view text, int scale) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
    negative = text[i] == '-';
    ++i;
  }
  std::string digits;
  int frac = 0;
  bool point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.' && !point) {
      point = true;
    } else if (c >= '0' && c <= '9') {
      digits.push_back(c);
      if (point) ++frac;
    } else {
      return std::nullopt;
    }
  }
  if (digits.empty() || frac > scale) return std::nullopt;
  digits.append(static_cast<size_t>(scale - frac), '0');
  // Base-10 -> base-256 magnitude, little-endian while building.
  std::vector<uint8_t> mag;
  for (char c : digits) {
    uint32_t carry = static_cast<uint32_t>(c - '0');
    for (auto& b : mag) {
      uint32_t cur = b * 10u + carry;
      b = static_cast<uint8_t>(cur);
      carry = cur >> 8;
    }
    while (carry) {
      mag.push_back(static_cast<uint8_t>(carry));
      carry >>= 8;
    }
  }
  while (!mag.empty() && mag.back() == 0) mag.pop_back();
  mag.push_back(0);  // room for the sign bit
  if (negative) {
    for (auto& b : mag) b = static_cast<uint8_t>(~b);
    for (auto& b : mag) {
      if (++b != 0) break;
    }
  }
  // Drop redundant sign bytes to keep the encoding minimal.
  while (mag.size() > 1) {
    uint8_t top = mag.back(), next = mag[mag.size() - 2];
    if ((top == 0 && !(next & 0x80)) || (top == 0xFF && (next & 0x80))) {
      mag.pop_back();
    } else {
      break;
    }
  }
  return std::string(mag.rbegin(), mag.rend());
}

std::optional<std::string> SignExtend(std::string_view unscaled, size_t size) {
  if (unscaled.size() > size) return std::nullopt;
  char fill =
      (!unscaled.empty() && (static_cast<unsigned char>(unscaled[0]) & 0x80))
          ? static_cast<char>(0xFF)
          : 0;
  std::string out(size - unscaled.size(), fill);
  out.append(unscaled);
  return out;
}

bool AppendDate(int64_t days, std::string* out) {
  int64_t y;
  int m, d;
  if (days < -719528 || days > 2932896) return false;  // years 0000..9999
  CivilFromDays(days, &y, &m, &d);
  out->push_back('"');
  AppendPadded(y, 4, out);
  out->push_back('-');
  AppendPadded(m, 2, out);
  out->push_back('-');
  AppendPadded(d, 2, out);
  out->push_back('"');
  return true;
}

bool AppendTimeOfDay(int64_t value, TimeUnit unit, std::string* out) {
  int64_t per_second = UnitsPerSecond(unit);
  if (value < 0 || value >= 86400 * per_second) return false;
  int64_t secs = value / per_second, frac = value % per_second;
  out->push_back('"');
  AppendPadded(secs / 3600, 2, out);
  out->push_back(':');
  AppendPadded(secs / 60 % 60, 2, out);
  out->push_back(':');
  AppendPadded(secs % 60, 2, out);
  out->push_back('.');
  AppendPadded(frac, UnitDigits(unit), out);
  out->push_back('"');
  return true;
}

bool AppendTimestamp(int64_t value, TimeUnit unit, bool utc, std::string* out) {
  int64_t per_second = UnitsPerSecond(unit);
  int64_t secs = FloorDiv(value, per_second);
  // The floor remainder, without multiplying back: secs * per_second
  // overflows for the most negative values (INT64_MIN millis).
  int64_t frac = value % per_second;
  if (frac < 0) frac += per_second;
  int64_t days = FloorDiv(secs, 86400);
  int64_t sod = secs - days * 86400;
  if (days < -719528 || days > 2932896) return false;
  int64_t y;
  int m, d;
  CivilFromDays(days, &y, &m, &d);
  out->push_back('"');
  AppendPadded(y, 4, out);
  out->push_back('-');
  AppendPadded(m, 2, out);
  out->push_back('-');
  AppendPadded(d, 2, out);
  out->push_back('T');
  AppendPadded(sod / 3600, 2, out);
  out->push_back(':');
  AppendPadded(sod / 60 % 60, 2, out);
  out->push_back(':');
  AppendPadded(sod % 60, 2, out);
  out->push_back('.');
  AppendPadded(frac, UnitDigits(unit), out);
  if (utc) out->push_back('Z');
  out->push_back('"');
  return true;
}

void AppendUuid(std::string_view b, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < b.size() && i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out->push_back('-');
    unsigned char c = b[i];
    out->push_back(kHex[c >> 4]);
    out->push_back(kHex[c & 15]);
  }
  out->push_back('"');
}

std::optional<int64_t> ParseDate(std::string_view text) {
  Scan sc{text};
  int64_t y, m, d;
  if (!sc.Digits(4, &y) || !sc.Char('-') || !sc.Digits(2, &m) ||
      !sc.Char('-') || !sc.Digits(2, &d) || !sc.done() ||
      !DaysInMonthOk(y, m, d)) {
    return std::nullopt;
  }
  return DaysFromCivil(y, static_cast<int>(m), static_cast<int>(d));
}

std::optional<int64_t> ParseTimeOfDay(std::string_view text, TimeUnit unit) {
  Scan sc{text};
  int64_t v;
  if (!ParseClock(&sc, unit, &v) || !sc.done()) return std::nullopt;
  return v;
}

std::optional<int64_t> ParseTimestamp(std::string_view text, TimeUnit unit) {
  Scan sc{text};
  int64_t y, m, d, clock;
  if (!sc.Digits(4, &y) || !sc.Char('-') || !sc.Digits(2, &m) ||
      !sc.Char('-') || !sc.Digits(2, &d) || !DaysInMonthOk(y, m, d)) {
    return std::nullopt;
  }
  if (!sc.Char('T') && !sc.Char(' ')) return std::nullopt;
  if (!ParseClock(&sc, unit, &clock)) return std::nullopt;
  int64_t offset_minutes = 0;
  if (sc.Char('Z') || sc.Char('z')) {
  } else if (sc.i < text.size() && (text[sc.i] == '+' || text[sc.i] == '-')) {
    bool neg = text[sc.i] == '-';
    ++sc.i;
    int64_t oh, om;
    if (!sc.Digits(2, &oh) || !sc.Char(':') || !sc.Digits(2, &om)) {
      return std::nullopt;
    }
    offset_minutes = (oh * 60 + om) * (neg ? -1 : 1);
  }
  if (!sc.done()) return std::nullopt;
  int64_t per_second = UnitsPerSecond(unit);
  int64_t days = DaysFromCivil(y, static_cast<int>(m), static_cast<int>(d));
  // Years 0000..9999 in nanoseconds fit an int64 only near the epoch
  // (1677..2262); check before multiplying.
  __int128 total =
      static_cast<__int128>(days * 86400 - offset_minutes * 60) * per_second +
      clock;
  if (total > INT64_MAX || total < INT64_MIN) return std::nullopt;
  return static_cast<int64_t>(total);
}

std::optional<std::string> ParseUuid(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(text[i]), lo = hex(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
    i += 2;
  }
  return out;
}

}  // namespace riffle::avro::internal
