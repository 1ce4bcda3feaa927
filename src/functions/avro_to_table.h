// riffle:avro-to-table, the built-in function of the case study: each record
// is an Avro datum framed with the id of its writer schema; it is decoded
// and stored as one item of a table, whose key attributes are fields of the
// record.
//
// Per record: read the framing (Confluent: 0x00 + 4-byte schema id; AWS
// Glue: 0x03 header with a schema version UUID), fetch the writer schema
// through the SchemaClient (cached, with its compiled decoder, for the life
// of the engine: a schema id never changes meaning), decode, turn the datum
// into an item (AvroToItem below) and write every item of the batch at once
// through the TablesClient as PutItems of the whole item. A PutItem of the
// same item is idempotent, so replaying a batch after a crash changes
// nothing.
//
// A record that cannot be stored (bad framing, unknown schema, a datum that
// does not decode, no key field, a write the table refuses) gets a failed
// Status of its own; the invoker turns those into Lambda's partial-failure
// reply or a function error, so they follow the mapping's failure rules
// (docs/functions.md) and are never dropped silently.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "avro/codec.h"
#include "avro/schema.h"
#include "avro/value.h"
#include "functions/clients.h"
#include "tables/attribute_value.h"

namespace riffle::functions {

// The Avro -> DynamoDB mapping, following the plain-JSON projection of
// docs/avro.md with DynamoDB's own types where they keep more:
//   null -> NULL; boolean -> BOOL; int, long -> N (exact);
//   float, double -> N (shortest round-trip digits); NaN, ±Infinity and
//     magnitudes DynamoDB cannot hold -> S as the plain projection writes them;
//   string, enum, uuid -> S; bytes, fixed -> B;
//   decimal -> N (exact, scale kept), or S when it has more than 38
//     significant digits or is out of DynamoDB's range;
//   date, time-*, timestamp-*, local-timestamp-* -> S (ISO-8601, as the
//     plain projection; N when the value has no ISO form);
//   duration -> M {months, days, millis: N};
//   record -> M (fields by name); map -> M; array -> L;
//   union -> the value of its branch.
// InvalidArgument when `value` does not fit `node`.
Result<tables::AttributeValue> AvroToAttribute(const avro::Node& node,
                                               const avro::Value& value);
// A record datum (or a union whose branch is a record) as an item: one
// attribute per field. InvalidArgument for any other datum.
Result<tables::Item> AvroToItem(const avro::Node& node,
                                const avro::Value& value);

// One record of a batch: its bytes, and the name a partial-failure reply
// uses for it (the Kinesis sequence number).
struct BuiltinRecord {
  std::string_view data;
  std::string_view id;
};

// The engine: caches of decoders (by schema id) and table keys, and the
// batch write. Borrows both clients, which must outlive it. Thread-safe:
// the shards of every mapping share one engine.
class AvroToTable {
 public:
  AvroToTable(SchemaClient& schemas, TablesClient& tables)
      : schemas_(schemas), tables_(tables) {}

  using Done = std::function<void(std::vector<Status>)>;
  // Stores every message of `messages` in `table`. `done` runs once, from
  // any thread, with one Status per message, in order: Ok once that item is
  // durable. Decoding runs on the calling thread; the writes do not block
  // it. Two messages with the same key: only the later one is written (the
  // earlier one would be overwritten anyway) and both get its Status.
  void Process(const std::string& table,
               const std::vector<std::string_view>& messages, Done done);

  // One message as an item of a table keyed by `key` (the synchronous half
  // of Process, public for tests).
  Result<tables::Item> MessageToItem(std::string_view message,
                                     const TableKey& key);

 private:
  Result<std::shared_ptr<const avro::Decoder>> DecoderForId(uint32_t id);
  Result<std::shared_ptr<const avro::Decoder>> DecoderForGlue(
      const std::array<uint8_t, 16>& uuid);
  Result<TableKey> KeyOf(const std::string& table);
  void ForgetTable(const std::string& table);

  SchemaClient& schemas_;
  TablesClient& tables_;
  std::mutex mu_;  // guards the caches; never held across a client call
  std::map<uint32_t, std::shared_ptr<const avro::Decoder>> by_id_;
  std::map<std::array<uint8_t, 16>, std::shared_ptr<const avro::Decoder>>
      by_glue_;
  std::map<std::string, TableKey, std::less<>> keys_;
};

// What the function returns, in Lambda's terms. With `report_item_failures`
// (the mapping's FunctionResponseTypes has ReportBatchItemFailures, and
// always through the Invoke API) failed records are listed as
// {"batchItemFailures": [{"itemIdentifier": id}]} in a successful reply;
// without it any failed record fails the whole invocation ("Unhandled"), as
// a handler that throws would, so that retries and bisection find it.
struct BuiltinOutcome {
  std::string payload;
  std::string function_error;  // "" or "Unhandled"
  size_t failed = 0;
};
BuiltinOutcome SummarizeBuiltin(const std::vector<BuiltinRecord>& records,
                                const std::vector<Status>& statuses,
                                bool report_item_failures);

}  // namespace riffle::functions
