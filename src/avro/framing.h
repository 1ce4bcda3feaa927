// Message framings that carry an Avro datum with the identity of its
// schema. Stateless and thread-safe.
//
//  - Confluent wire format: 0x00, schema id (4 bytes, big-endian), datum.
//    https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/index.html#wire-format
//  - AWS Glue Schema Registry: 0x03 (header version), compression (0x00 none,
//    0x05 zlib), schema version id (16-byte UUID), datum (zlib-compressed
//    when the compression byte says so).
//  - Avro single-object encoding: 0xC3 0x01, CRC-64-AVRO fingerprint of the
//    schema's canonical form (8 bytes, little-endian), datum.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace riffle::avro {

enum class Framing { kUnknown, kConfluent, kGlue, kSingleObject };

// Guesses the framing from the first bytes.
Framing DetectFraming(std::string_view message);

struct ConfluentMessage {
  uint32_t schema_id = 0;
  std::string_view payload;  // points into the message
};
void AppendConfluentHeader(uint32_t schema_id, std::string* out);
Result<ConfluentMessage> ParseConfluent(std::string_view message);

struct GlueMessage {
  std::array<uint8_t, 16> schema_version_id{};
  bool compressed = false;
  std::string payload;  // decompressed
};
// `max_payload` bounds the decompressed size.
Result<GlueMessage> ParseGlue(std::string_view message,
                              size_t max_payload = 64 << 20);
// Writes a Glue message (for tests and producers); `compress` uses zlib.
Status AppendGlueMessage(const std::array<uint8_t, 16>& schema_version_id,
                         std::string_view payload, bool compress,
                         std::string* out);
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
std::string UuidToString(const std::array<uint8_t, 16>& uuid);

struct SingleObjectMessage {
  uint64_t fingerprint = 0;
  std::string_view payload;  // points into the message
};
void AppendSingleObjectHeader(uint64_t fingerprint, std::string* out);
Result<SingleObjectMessage> ParseSingleObject(std::string_view message);

}  // namespace riffle::avro
