// Fixed-width and varint encodings, little- and big-endian, over std::string
// buffers and byte views. Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace riffle::bytes {

inline void PutFixed32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 4);
}
inline void PutFixed64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 8);
}
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}
inline void EncodeFixed32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void EncodeFixed64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void PutBigEndian32(std::string* out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
               static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 4);
}
inline uint32_t DecodeBigEndian32(const char* p) {
  return uint32_t{static_cast<uint8_t>(p[0])} << 24 |
         uint32_t{static_cast<uint8_t>(p[1])} << 16 |
         uint32_t{static_cast<uint8_t>(p[2])} << 8 |
         uint32_t{static_cast<uint8_t>(p[3])};
}

// Unsigned LEB128 varint.
void PutVarint64(std::string* out, uint64_t v);
// Reads a varint from the front of `*in` and advances it; nullopt when the
// input ends early or the varint is longer than 10 bytes.
std::optional<uint64_t> GetVarint64(std::string_view* in);

// Length-prefixed (varint) byte string.
void PutLengthPrefixed(std::string* out, std::string_view s);
std::optional<std::string_view> GetLengthPrefixed(std::string_view* in);

}  // namespace riffle::bytes
