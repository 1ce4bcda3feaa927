// tables::Service: DynamoDB's table and item operations as a plain C++
// interface over kv::Store, protocol-free (the wire adapter translates
// DynamoDB JSON to these calls and Status to DynamoDB's errors).
//
// Status codes, and the DynamoDB error each maps to:
//   InvalidArgument     ValidationException (message as AWS words it)
//   NotFound            ResourceNotFoundException
//   AlreadyExists       ResourceInUseException
//   Aborted             ConditionalCheckFailedException
//   Unavailable/others  InternalServerError (retry)
//
// Layout in the store: docs/formats/tables.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/kv/kv.h"
#include "tables/attribute_value.h"
#include "tables/expressions.h"

namespace riffle::tables {

struct KeyElement {
  std::string name;
  AttributeType type = AttributeType::kS;  // S, N or B
};

struct KeySchema {
  KeyElement hash;
  std::optional<KeyElement> range;
};

struct TableSpec {
  std::string name;
  KeySchema key;
  std::string billing_mode = "PROVISIONED";  // or PAY_PER_REQUEST
  int64_t read_capacity = 0;
  int64_t write_capacity = 0;
};

struct TableDescription {
  TableSpec spec;
  uint64_t id = 0;  // internal; never reused
  int64_t created_ms = 0;
  std::string status = "ACTIVE";
};

enum class ReturnValues { kNone, kAllOld, kUpdatedOld, kAllNew, kUpdatedNew };

struct WriteResult {
  // The item as ReturnValues asked (empty for NONE or when there was none).
  std::optional<Item> attributes;
};

struct ConditionalWrite {
  std::optional<Condition> condition;  // parsed ConditionExpression
  ReturnValues return_values = ReturnValues::kNone;
  // ReturnValuesOnConditionCheckFailure=ALL_OLD.
  bool return_old_on_failure = false;
};

struct QueryRequest {
  std::string table;
  std::vector<KeyCondition> key_conditions;  // from ExtractKeyConditions
  std::optional<Condition> filter;
  std::optional<std::vector<DocumentPath>> projection;
  bool forward = true;
  std::optional<int64_t> limit;
  std::optional<Item> exclusive_start_key;
};

struct ScanRequest {
  std::string table;
  std::optional<Condition> filter;
  std::optional<std::vector<DocumentPath>> projection;
  std::optional<int64_t> limit;
  std::optional<Item> exclusive_start_key;
  int segment = 0;
  int total_segments = 1;
};

struct ReadResult {
  std::vector<Item> items;
  int64_t scanned_count = 0;
  std::optional<Item> last_evaluated_key;
};

// Thread-safe. Owns nothing but its key locks; `store` must outlive it.
// Metadata calls (CreateTable...) block on a durable write: call them from
// a blocking pool. Item writes are asynchronous and group-committed; reads
// run on the calling thread against the store's memory and cache.
//
// Conditional writes are serializable per item: each write holds its key's
// lock from the read of the old item until the new one is durable, and a
// write that finds the key locked is queued behind it (continuations run
// on the thread that releases the lock), so no thread waits.
class Service {
 public:
  using WriteCallback = std::function<void(Result<WriteResult>)>;

  explicit Service(kv::Store& store);
  ~Service();

  Result<TableDescription> CreateTable(const TableSpec& spec);
  Result<TableDescription> DescribeTable(const std::string& name);
  // Names in order, from after `exclusive_start` (exclusive), at most
  // `limit`; `*last` is set when more remain.
  Result<std::vector<std::string>> ListTables(
      const std::string& exclusive_start, int limit,
      std::optional<std::string>* last);
  Result<TableDescription> DeleteTable(const std::string& name);

  void PutItem(const std::string& table, Item item, ConditionalWrite options,
               WriteCallback done);
  void DeleteItem(const std::string& table, Item key, ConditionalWrite options,
                  WriteCallback done);
  void UpdateItem(const std::string& table, Item key, UpdateExpression update,
                  ConditionalWrite options, WriteCallback done);

  // NotFound for a missing table; an absent item is an empty optional.
  Result<std::optional<Item>> GetItem(
      const std::string& table, const Item& key,
      const std::optional<std::vector<DocumentPath>>& projection);

  Result<ReadResult> Query(const QueryRequest& request);
  Result<ReadResult> Scan(const ScanRequest& request);

  // A response page stops once this many bytes of items were read.
  static constexpr size_t kPageBytes = 1 << 20;

  class KeyLocks;

 private:
  Result<TableDescription> LoadTable(const std::string& name);
  void WriteItem(
      const std::string& table, Item key, ConditionalWrite options,
      std::set<std::string> touched,
      std::function<Result<std::optional<Item>>(const std::optional<Item>& old)>
          compute_new,
      WriteCallback done);

  kv::Store& store_;
  std::mutex catalog_mu_;  // serializes CreateTable/DeleteTable
  std::unique_ptr<KeyLocks> locks_;
};

// The encoded storage key of an item of `table` (the primary key
// attributes of `key` only); InvalidArgument with DynamoDB's message when
// `key` does not match the schema. Exposed for tests and the format doc.
Result<std::string> EncodeItemKey(const TableDescription& table,
                                  const Item& key, bool from_full_item);

}  // namespace riffle::tables
