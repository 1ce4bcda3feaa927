// tables::Service: DynamoDB's table and item operations as a plain C++
// interface over kv::Store, protocol-free (the wire adapter translates
// DynamoDB JSON to these calls and Status to DynamoDB's errors).
//
// Status codes, and the DynamoDB error each maps to:
//   InvalidArgument     ValidationException (message as AWS words it)
//   NotFound            ResourceNotFoundException
//   AlreadyExists       ResourceInUseException
//   FailedPrecondition  ResourceInUseException (table busy, index exists)
//   QuotaExceeded       LimitExceededException
//   Aborted             ConditionalCheckFailedException
//   Unavailable/others  InternalServerError (retry)
//
// Layout in the store: docs/formats/tables.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
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

// The values reach disk (table descriptions) as their names.
enum class ProjectionType { kAll, kKeysOnly, kInclude };
std::string_view ProjectionTypeName(ProjectionType type);

// A global or local secondary index.
struct IndexSpec {
  std::string name;
  bool local = false;  // LSI: same partition key as the table
  KeySchema key;
  ProjectionType projection = ProjectionType::kAll;
  std::vector<std::string> non_key_attributes;  // kInclude
  int64_t read_capacity = 0;
  int64_t write_capacity = 0;
  // Assigned by the service from the table id counter; never reused.
  uint64_t id = 0;
};

struct TableSpec {
  std::string name;
  KeySchema key;
  // AttributeDefinitions as given (every key attribute of table and
  // indexes, checked by the adapter).
  std::vector<KeyElement> attributes;
  std::string billing_mode = "PROVISIONED";  // or PAY_PER_REQUEST
  int64_t read_capacity = 0;
  int64_t write_capacity = 0;
  std::vector<IndexSpec> indexes;
  // StreamSpecification: accepted and kept (no stream is produced yet).
  bool stream_enabled = false;
  std::string stream_view_type;
  std::map<std::string, std::string> tags;
  std::string table_class;  // "" = STANDARD
  bool deletion_protection = false;
};

struct TimeToLive {
  bool enabled = false;
  std::string attribute;
};

struct TableDescription {
  TableSpec spec;
  uint64_t id = 0;  // internal; never reused
  int64_t created_ms = 0;
  int64_t billing_changed_ms = 0;  // last switch to PAY_PER_REQUEST
  std::string status = "ACTIVE";
  TimeToLive ttl;

  const IndexSpec* FindIndex(std::string_view name) const;
};

// Counted on demand by DescribeTable (AWS refreshes them every ~6 hours).
struct TableStats {
  int64_t item_count = 0;
  int64_t size_bytes = 0;
  std::map<std::string, std::pair<int64_t, int64_t>> indexes;  // count, bytes
};

enum class ReturnValues { kNone, kAllOld, kUpdatedOld, kAllNew, kUpdatedNew };

// Capacity units by DynamoDB's rules
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html):
// writes ceil(KB) of the larger of the old and new item, reads ceil(4 KB)
// (half for eventually consistent reads), and per index the writes of its
// entries (a changed index key costs a delete and a put).
struct Capacity {
  double table = 0;
  std::map<std::string, double> indexes;
  double total() const {
    double t = table;
    for (const auto& [k, v] : indexes) t += v;
    return t;
  }
};

struct WriteResult {
  // The item as ReturnValues asked (empty for NONE or when there was none).
  std::optional<Item> attributes;
  Capacity capacity;
};

struct ConditionalWrite {
  std::optional<Condition> condition;  // parsed ConditionExpression
  ReturnValues return_values = ReturnValues::kNone;
  // ReturnValuesOnConditionCheckFailure=ALL_OLD: a failed condition then
  // carries the item in WriteFailure.
  bool return_old_on_failure = false;
};

struct QueryRequest {
  std::string table;
  std::string index;                         // "" for the table
  std::vector<KeyCondition> key_conditions;  // from ExtractKeyConditions
  std::optional<Condition> filter;
  std::optional<std::vector<DocumentPath>> projection;
  bool forward = true;
  std::optional<int64_t> limit;
  std::optional<Item> exclusive_start_key;
  // Fetch whole items from the table for an LSI whose projection lacks
  // them (Select=ALL_ATTRIBUTES).
  bool fetch_table_items = false;
};

struct ScanRequest {
  std::string table;
  std::string index;
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
  // Bytes of every item read (before the filter), for capacity.
  size_t bytes_read = 0;
};

// One action of TransactWriteItems.
struct TransactWriteAction {
  enum class Kind { kConditionCheck, kPut, kUpdate, kDelete };
  Kind kind = Kind::kPut;
  std::string table;
  Item item;  // kPut: the item; others: the key
  std::optional<UpdateExpression> update;
  std::optional<Condition> condition;
  bool return_old_on_failure = false;
};

// Why one action of a cancelled transaction failed ("None" when it did not).
struct CancellationReason {
  std::string code = "None";  // ConditionalCheckFailed, ValidationError
  std::string message;
  std::optional<Item> item;  // ReturnValuesOnConditionCheckFailure=ALL_OLD
};

struct TransactWriteResult {
  bool cancelled = false;
  std::vector<CancellationReason> reasons;   // one per action when cancelled
  std::map<std::string, Capacity> capacity;  // per table
};

struct GetRequest {
  std::string table;
  Item key;
  std::optional<std::vector<DocumentPath>> projection;
};

// Thread-safe. Owns nothing but its catalogue cache and key locks; `store`
// must outlive it. Metadata calls (CreateTable...) block on a durable
// write: call them from a blocking pool. Item writes are asynchronous and
// group-committed; reads run on the calling thread against the store's
// memory and cache.
//
// Conditional writes are serializable per item: each write holds its key's
// lock from the read of the old item until the new one is durable, and a
// write that finds the key locked is queued behind it (continuations run
// on the thread that releases the lock), so no thread waits. A transaction
// takes the locks of all its keys in key order (so two transactions never
// deadlock), and writes everything in one atomic batch. Index entries are
// written in the same batch as their item.
class Service {
 public:
  using WriteCallback = std::function<void(Result<WriteResult>)>;
  // A failed condition with ReturnValuesOnConditionCheckFailure=ALL_OLD:
  // the old item, when there was one, for the exception.
  struct WriteFailure {
    std::optional<Item> item;
  };
  using FailureSink = std::shared_ptr<WriteFailure>;

  explicit Service(kv::Store& store);
  ~Service();

  // Assigns index ids. AlreadyExists when the table exists.
  Result<TableDescription> CreateTable(const TableSpec& spec);
  Result<TableDescription> DescribeTable(const std::string& name);
  Result<TableStats> CountTable(const std::string& name);
  // Names in order, from after `exclusive_start` (exclusive), at most
  // `limit`; `*last` is set when more remain.
  Result<std::vector<std::string>> ListTables(
      const std::string& exclusive_start, int limit,
      std::optional<std::string>* last);
  Result<TableDescription> DeleteTable(const std::string& name);

  // UpdateTable. Each optional member changes what it names.
  struct TableUpdate {
    std::optional<std::string> billing_mode;
    std::optional<std::pair<int64_t, int64_t>> throughput;
    std::vector<IndexSpec> create_indexes;  // GSIs, backfilled
    std::vector<std::string> delete_indexes;
    std::map<std::string, std::pair<int64_t, int64_t>> index_throughput;
    std::vector<KeyElement> attributes;  // new AttributeDefinitions
    std::optional<std::pair<bool, std::string>> stream;
    std::optional<bool> deletion_protection;
    std::optional<std::string> table_class;
  };
  // Creates GSIs by backfilling them from the table before it returns
  // (blocking: call from a blocking pool).
  Result<TableDescription> UpdateTable(const std::string& name,
                                       const TableUpdate& update);
  Result<TableDescription> UpdateTags(
      const std::string& name, const std::map<std::string, std::string>& add,
      const std::vector<std::string>& remove);
  Result<TimeToLive> UpdateTimeToLive(const std::string& name,
                                      const TimeToLive& ttl);

  // `failure`, when given, receives the old item of a failed condition.
  void PutItem(const std::string& table, Item item, ConditionalWrite options,
               WriteCallback done, FailureSink failure = nullptr);
  void DeleteItem(const std::string& table, Item key, ConditionalWrite options,
                  WriteCallback done, FailureSink failure = nullptr);
  void UpdateItem(const std::string& table, Item key, UpdateExpression update,
                  ConditionalWrite options, WriteCallback done,
                  FailureSink failure = nullptr);

  // NotFound for a missing table; an absent item is an empty optional.
  // `*bytes` (when given) gets the size of the item read.
  Result<std::optional<Item>> GetItem(
      const std::string& table, const Item& key,
      const std::optional<std::vector<DocumentPath>>& projection,
      size_t* bytes = nullptr);

  Result<ReadResult> Query(const QueryRequest& request);
  Result<ReadResult> Scan(const ScanRequest& request);

  // TransactWriteItems: all actions or none. Validation errors of a single
  // action (bad key, item too large) cancel the transaction with a
  // ValidationError reason; a missing table fails the call (NotFound).
  void TransactWrite(std::vector<TransactWriteAction> actions,
                     std::function<void(Result<TransactWriteResult>)> done);
  // TransactGetItems and BatchGetItem: every item from one snapshot.
  Result<std::vector<std::optional<Item>>> GetItems(
      const std::vector<GetRequest>& requests, std::vector<size_t>* bytes);

  // Deletes items whose TTL attribute (epoch seconds) is at or before
  // `now_seconds` (and not more than five years before it, as DynamoDB),
  // in tables with TTL enabled. Returns how many it deleted. Blocking.
  int64_t ExpireItems(int64_t now_seconds);

  // A response page stops once this many bytes of items were read.
  static constexpr size_t kPageBytes = 1 << 20;

  class KeyLocks;
  struct Catalog;

 private:
  Result<std::shared_ptr<const TableDescription>> Table(
      const std::string& name);
  Result<TableDescription> LoadTable(const std::string& name);
  Status StoreTable(const TableDescription& t, kv::WriteBatch batch);
  void WriteItem(
      const std::string& table, Item key, ConditionalWrite options,
      std::vector<DocumentPath> touched,
      std::function<Result<std::optional<Item>>(const std::optional<Item>& old)>
          compute_new,
      WriteCallback done, FailureSink failure);
  Result<ReadResult> ScanIndex(
      const TableDescription& t, const IndexSpec* index, std::string lower,
      std::string upper, bool forward, const std::optional<Item>& start,
      const std::optional<Condition>& filter,
      const std::optional<std::vector<DocumentPath>>& projection,
      std::optional<int64_t> limit, bool fetch);

  kv::Store& store_;
  std::mutex catalog_mu_;  // serializes catalogue changes
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<KeyLocks> locks_;
};

// The encoded storage key of an item of `table` (the primary key
// attributes of `key` only); InvalidArgument with DynamoDB's message when
// `key` does not match the schema. Exposed for tests and the format doc.
Result<std::string> EncodeItemKey(const TableDescription& table,
                                  const Item& key, bool from_full_item);

// Whether `item` may be stored in `table` as a whole: its size and its
// secondary index keys (type, not empty), with DynamoDB's messages.
// BatchWriteItem checks every put with it before writing any, since
// DynamoDB rejects the whole batch when one request is invalid.
Status CheckItemForPut(const TableDescription& table, const Item& item);

// The attributes of `item` an index stores (its projection).
Item ProjectForIndex(const TableDescription& table, const IndexSpec& index,
                     const Item& item);

// DynamoDB's write units for an item of `bytes` (at least 1).
double WriteUnits(size_t bytes);
// Read units for `bytes` read (at least 1 for a single item read; 0.5 for
// an eventually consistent one).
double ReadUnits(size_t bytes, bool consistent);

}  // namespace riffle::tables
