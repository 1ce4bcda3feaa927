// The few Confluent Schema Registry REST calls the command-line tools make,
// over http::Client: look a subject's latest schema up, register a schema,
// fetch a schema by id (cached: an id never changes meaning).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "avro/schema.h"
#include "core/status.h"
#include "http/client.h"

namespace riffle::app {

struct RegisteredSchema {
  uint32_t id = 0;
  std::shared_ptr<const avro::Schema> schema;
};

// Owns its connection and its cache; not thread-safe.
class CliRegistryClient {
 public:
  explicit CliRegistryClient(http::Url url);

  // GET /subjects/{subject}/versions/latest. NotFound when the subject has
  // no schema.
  Result<RegisteredSchema> Latest(const std::string& subject);
  // POST /subjects/{subject}/versions: registers `schema_text` (or finds
  // it, when the subject already holds it) and returns its id.
  Result<RegisteredSchema> Register(const std::string& subject,
                                    const std::string& schema_text);
  // GET /schemas/ids/{id}, cached.
  Result<std::shared_ptr<const avro::Schema>> ById(uint32_t id);

 private:
  // Sends a request; a non-2xx status becomes a Status carrying the
  // registry's message (NotFound for 404).
  Result<std::string> Call(std::string_view method, const std::string& target,
                           std::string_view body);

  http::Client http_;
  std::map<uint32_t, std::shared_ptr<const avro::Schema>> by_id_;
};

}  // namespace riffle::app
