// The client interfaces through which functions reach other services
// (DESIGN.md: functions see tables and the registry only through clients
// with an in-process and a remote implementation). local_clients.h has the
// in-process ones; remote ones (HTTP to any DynamoDB endpoint or Confluent
// registry) are what `riffle worker` will plug in here.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "avro/schema.h"
#include "core/status.h"
#include "tables/attribute_value.h"

namespace riffle::functions {

// Looks writer schemas up by the id a message carries. Thread-safe. Calls
// may block (a remote client asks over HTTP): callers cache.
class SchemaClient {
 public:
  virtual ~SchemaClient() = default;
  // The Avro schema registered under Confluent id `id`. NotFound when the
  // registry has none; FailedPrecondition when it is not an Avro schema;
  // Unavailable when the registry cannot be reached (retry later).
  virtual Result<std::shared_ptr<const avro::Schema>> GetAvroSchemaById(
      int id) = 0;
  // The Avro schema of an AWS Glue schema version id (the UUID of the Glue
  // header). NotFound when the registry does not know it.
  virtual Result<std::shared_ptr<const avro::Schema>> GetAvroSchemaByGlueId(
      const std::array<uint8_t, 16>& schema_version_id) = 0;
};

// The key attributes of a table: its partition key and, when it has one, its
// sort key.
struct TableKey {
  std::string hash;
  std::optional<std::string> range;
};

// DynamoDB-style access to tables. Thread-safe.
class TablesClient {
 public:
  virtual ~TablesClient() = default;
  // The key attributes of `table`; NotFound when there is no such table.
  // May block (remote): callers cache.
  virtual Result<TableKey> DescribeKey(const std::string& table) = 0;

  using PutCallback = std::function<void(std::vector<Status>)>;
  // Writes every item of `items` as an unconditional PutItem (the whole item
  // replaced), all at once, and calls `done` once, from any thread, with one
  // status per item in order, when every write is durable or has failed.
  // Items must have distinct keys (the order of two writes of one key is
  // not defined). Does not block.
  virtual void PutItems(const std::string& table,
                        std::vector<tables::Item> items, PutCallback done) = 0;
};

}  // namespace riffle::functions
