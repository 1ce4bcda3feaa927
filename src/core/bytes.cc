#include "core/bytes.h"

namespace riffle::bytes {

void PutVarint64(std::string* out, uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

std::optional<uint64_t> GetVarint64(std::string_view* in) {
  uint64_t result = 0;
  for (int shift = 0, i = 0; i < 10 && i < static_cast<int>(in->size());
       ++i, shift += 7) {
    uint64_t byte = static_cast<uint8_t>((*in)[i]);
    result |= (byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) {
      in->remove_prefix(i + 1);
      return result;
    }
  }
  return std::nullopt;
}

void PutLengthPrefixed(std::string* out, std::string_view s) {
  PutVarint64(out, s.size());
  out->append(s);
}

std::optional<std::string_view> GetLengthPrefixed(std::string_view* in) {
  std::string_view copy = *in;
  auto len = GetVarint64(&copy);
  if (!len || *len > copy.size()) return std::nullopt;
  std::string_view s = copy.substr(0, *len);
  copy.remove_prefix(*len);
  *in = copy;
  return s;
}

}  // namespace riffle::bytes
