// Avro with Confluent framing (magic byte 0, 4-byte big-endian schema id,
// Avro binary; avro/framing.h), the registry deciding the id: what a
// producer application writes and a consumer reads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "avro/codec.h"
#include "avro/schema.h"
#include "avro/value.h"
#include "client/registry_client.h"
#include "core/status.h"

namespace riffle::client {

// Encodes records with one schema of one subject. Immutable after Create;
// thread-safe. Does not keep the registry client.
class AvroSerializer {
 public:
  // With `schema_text` empty: the subject's latest schema (NotFound when it
  // has none). Otherwise registers `schema_text` under `subject` (or finds
  // it there) and uses it.
  static Result<std::unique_ptr<AvroSerializer>> Create(
      RegistryClient& registry, const std::string& subject,
      const std::string& schema_text = "");
  // Uses a schema whose id is already known (no registry call).
  AvroSerializer(uint32_t schema_id, std::shared_ptr<const avro::Schema> schema)
      : schema_id_(schema_id), schema_(std::move(schema)) {}

  uint32_t schema_id() const { return schema_id_; }
  const avro::Schema& schema() const { return *schema_; }

  // Appends the framed encoding of one plain-JSON record (docs/avro.md:
  // riffle's plain projection, as `riffle produce` reads it). On error
  // (InvalidArgument naming the offending field) `*out` is unchanged.
  Status SerializeJson(std::string_view json_text, std::string* out) const;
  // Appends the framed encoding of `value`; InvalidArgument when it does
  // not fit the schema, `*out` then unchanged.
  Status Serialize(const avro::Value& value, std::string* out) const;

 private:
  const uint32_t schema_id_;
  const std::shared_ptr<const avro::Schema> schema_;
};

// Decodes Confluent-framed records with the writer schema their id names,
// fetched through the registry (cached there) and compiled once per id.
// Owns its decoders; borrows `registry`, which must outlive it. Thread-safe.
class AvroDeserializer {
 public:
  explicit AvroDeserializer(RegistryClient* registry) : registry_(registry) {}

  // Appends the record as JSON text in `format` (no newline) to `*out`.
  // InvalidArgument when `message` is not Confluent-framed or its payload
  // does not decode; NotFound when the registry does not know its id;
  // Unavailable when the registry cannot be reached. `*out` is unchanged
  // on error. `*schema_id` (when not null) gets the id read.
  Status DecodeJson(std::string_view message, avro::JsonFormat format,
                    std::string* out, uint32_t* schema_id = nullptr);
  // Decodes into an avro::Value.
  Status Decode(std::string_view message, avro::Value* out,
                uint32_t* schema_id = nullptr);

 private:
  Result<std::shared_ptr<const avro::Decoder>> DecoderFor(uint32_t id);

  RegistryClient* const registry_;
  std::mutex mu_;
  std::map<uint32_t, std::shared_ptr<const avro::Decoder>>
      decoders_;  // guarded by mu_
};

}  // namespace riffle::client
