// Schema fingerprints over the Parsing Canonical Form (Avro spec, "Schema
// Fingerprints"): CRC-64-AVRO (the Rabin fingerprint used by single-object
// encoding), MD5 and SHA-256. Stateless and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "avro/schema.h"

namespace riffle::avro {

// CRC-64-AVRO of `data`; for a schema pass its CanonicalForm().
uint64_t Crc64Avro(std::string_view data);
std::array<uint8_t, 16> Md5(std::string_view data);
std::array<uint8_t, 32> Sha256(std::string_view data);

inline uint64_t Fingerprint64(const Schema& schema) {
  return Crc64Avro(schema.CanonicalForm());
}

}  // namespace riffle::avro
