#include "core/base64.h"

#include <array>
#include <cstdint>

namespace riffle::base64 {
namespace {

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeReverse() {
  std::array<int8_t, 256> r{};
  for (auto& v : r) v = -1;
  for (int i = 0; i < 64; ++i) r[static_cast<uint8_t>(kAlphabet[i])] = i;
  return r;
}
constexpr auto kReverse = MakeReverse();

}  // namespace

void EncodeAppend(std::string_view data, std::string* out) {
  size_t start = out->size();
  out->resize(start + (data.size() + 2) / 3 * 4);
  char* o = out->data() + start;
  auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t i = 0, n = data.size();
  for (; i + 3 <= n; i += 3) {
    uint32_t v = p[i] << 16 | p[i + 1] << 8 | p[i + 2];
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = kAlphabet[(v >> 6) & 63];
    *o++ = kAlphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = p[i] << 16;
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = '=';
    *o++ = '=';
  } else if (n - i == 2) {
    uint32_t v = p[i] << 16 | p[i + 1] << 8;
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = kAlphabet[(v >> 6) & 63];
    *o++ = '=';
  }
}

std::string Encode(std::string_view data) {
  std::string out;
  EncodeAppend(data, &out);
  return out;
}

size_t DecodedSize(std::string_view text) {
  if (text.empty()) return 0;
  size_t pad = 0;
  if (text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  return text.size() / 4 * 3 - pad;
}

std::optional<std::string> Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  char* o = out.data();
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  size_t n = text.size();
  // Every quantum but the last has no padding: decode those without checks
  // for '='.
  size_t full = n == 0 ? 0 : n - 4;
  for (size_t i = 0; i < full; i += 4) {
    int a = kReverse[p[i]], b = kReverse[p[i + 1]], c = kReverse[p[i + 2]],
        d = kReverse[p[i + 3]];
    if ((a | b | c | d) < 0) return std::nullopt;
    uint32_t w = a << 18 | b << 12 | c << 6 | d;
    *o++ = static_cast<char>(w >> 16);
    *o++ = static_cast<char>(w >> 8);
    *o++ = static_cast<char>(w);
  }
  if (n > 0) {
    const uint8_t* q = p + full;
    int pad = (q[3] == '=') + (q[2] == '=' && q[3] == '=');
    int v[4];
    for (int k = 0; k < 4; ++k) {
      if (k >= 4 - pad) {
        v[k] = 0;
        continue;
      }
      v[k] = kReverse[q[k]];
      if (v[k] < 0) return std::nullopt;  // includes a misplaced '='
    }
    uint32_t w = v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
    *o++ = static_cast<char>(w >> 16);
    if (pad < 2) *o++ = static_cast<char>(w >> 8);
    if (pad < 1) *o++ = static_cast<char>(w);
  }
  out.resize(static_cast<size_t>(o - out.data()));
  return out;
}

}  // namespace riffle::base64
