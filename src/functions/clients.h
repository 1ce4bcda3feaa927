// The client interfaces through which functions reach other services
// (DESIGN.md: functions see tables and the registry only through clients
// with an in-process and a remote implementation). local_clients.h has the
// in-process ones; remote ones (HTTP to any DynamoDB endpoint or Confluent
// registry) are what `riffle worker` will plug in here.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
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

  // What the lease table (lease_table.h) needs: small, blocking, strongly
  // consistent calls. They block the calling thread (a remote client waits
  // for the HTTP reply): call them from a mapping's own threads, never from
  // a network thread. The defaults answer Unimplemented, so that clients
  // that only store items need not provide them.

  // Creates `table` (partition key `hash_key` of type S, on-demand billing)
  // unless it exists, and returns once it is ACTIVE. A table that exists
  // with another key schema is not checked (its first write fails).
  virtual Status CreateTableIfMissing(const std::string& table,
                                      const std::string& hash_key) {
    (void)table;
    (void)hash_key;
    return Unimplemented("this tables client cannot create tables");
  }
  // Deletes `table` with its items; Ok when there is no such table. Items
  // written afterwards fail with NotFound until someone creates it again.
  virtual Status DeleteTableIfExists(const std::string& table) {
    (void)table;
    return Unimplemented("this tables client cannot delete tables");
  }
  // The item with key `key` (a strongly consistent read); an empty optional
  // when there is none; NotFound when the table does not exist.
  virtual Result<std::optional<tables::Item>> GetItem(const std::string& table,
                                                      const tables::Item& key) {
    (void)table;
    (void)key;
    return Unimplemented("this tables client cannot read items");
  }
  // Every item of `table` (all pages of a Scan). Meant for small tables.
  virtual Result<std::vector<tables::Item>> ScanAll(const std::string& table) {
    (void)table;
    return Unimplemented("this tables client cannot scan");
  }
  // A ConditionExpression and/or UpdateExpression in DynamoDB's syntax, with
  // the ExpressionAttributeNames and ExpressionAttributeValues both use.
  struct Expressions {
    std::string condition;  // empty: unconditional
    std::string update;     // UpdateItem only
    std::map<std::string, std::string> names;
    std::map<std::string, tables::AttributeValue> values;
  };
  // PutItem and UpdateItem, durable when they return. A condition that does
  // not hold is Aborted (ConditionalCheckFailedException), distinct from
  // every other failure: the caller lost a race and should re-read, not
  // retry. Unavailable / ResourceExhausted: retry later.
  virtual Status PutItem(const std::string& table, tables::Item item,
                         const Expressions& expressions) {
    (void)table;
    (void)item;
    (void)expressions;
    return Unimplemented("this tables client cannot write single items");
  }
  virtual Status UpdateItem(const std::string& table, tables::Item key,
                            const Expressions& expressions) {
    (void)table;
    (void)key;
    (void)expressions;
    return Unimplemented("this tables client cannot update items");
  }
};

}  // namespace riffle::functions
