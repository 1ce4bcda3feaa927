// CRC-32C (Castagnoli), as used by the log's record batches. Uses the SSE4.2
// instruction when the CPU has it and a table otherwise; both give the same
// values. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace riffle::crc32c {

// Extends `crc` (the CRC of earlier bytes, 0 for none) over `data`.
uint32_t Extend(uint32_t crc, const void* data, size_t size);

inline uint32_t Value(const void* data, size_t size) {
  return Extend(0, data, size);
}
inline uint32_t Value(std::string_view s) {
  return Extend(0, s.data(), s.size());
}

}  // namespace riffle::crc32c
