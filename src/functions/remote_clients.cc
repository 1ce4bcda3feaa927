#include "functions/remote_clients.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "avro/framing.h"
#include "core/base64.h"
#include "json/writer.h"
#include "tables/attribute_json.h"

namespace riffle::functions {

namespace {

const std::string* StringMember(const json::Value& v, std::string_view key) {
  const json::Value* m = v.Find(key);
  return m && m->is_string() ? &m->text() : nullptr;
}

json::Value ItemValue(const tables::Item& item) {
  // Items arrive in DynamoDB's JSON form; reparsing keeps one writer of it.
  return json::Parse(tables::ItemToJson(item)).value();
}

Result<tables::Item> ItemOf(const json::Value& v) {
  if (!v.is_object()) return Unavailable("malformed item in a reply");
  return tables::ItemFromJson(v);
}

}  // namespace

// ---- Kinesis ----

Result<std::vector<ShardInfo>> RemoteRecordSource::ListShards() {
  std::vector<ShardInfo> out;
  std::string next;
  do {
    json::Value request = json::Value::Object();
    // With a NextToken the stream must not be named again (AWS's rule).
    if (next.empty()) {
      request.Set("StreamName", json::Value::String(stream_));
    } else {
      request.Set("NextToken", json::Value::String(next));
    }
    ASSIGN_OR_RETURN(json::Value reply, kinesis_.Call("ListShards", request));
    const json::Value* shards = reply.Find("Shards");
    if (!shards || !shards->is_array())
      return Unavailable("ListShards reply without Shards");
    for (const json::Value& s : shards->items()) {
      const std::string* id = StringMember(s, "ShardId");
      if (!id) continue;
      ShardInfo info;
      info.shard_id = *id;
      if (const std::string* p = StringMember(s, "ParentShardId"))
        info.parents.push_back(*p);
      if (const std::string* p = StringMember(s, "AdjacentParentShardId"))
        info.parents.push_back(*p);
      out.push_back(std::move(info));
    }
    const std::string* token = StringMember(reply, "NextToken");
    next = token ? *token : "";
  } while (!next.empty());
  return out;
}

Result<std::string> RemoteRecordSource::GetIterator(
    const std::string& shard_id, IteratorStart start,
    const std::string& sequence_number, int64_t timestamp_ms) {
  json::Value request = json::Value::Object();
  request.Set("StreamName", json::Value::String(stream_));
  request.Set("ShardId", json::Value::String(shard_id));
  switch (start) {
    case IteratorStart::kTrimHorizon:
      request.Set("ShardIteratorType", json::Value::String("TRIM_HORIZON"));
      break;
    case IteratorStart::kAtTimestamp:
      request.Set("ShardIteratorType", json::Value::String("AT_TIMESTAMP"));
      // Epoch seconds with a fraction, as the SDKs send it.
      request.Set("Timestamp",
                  json::Value::NumberText(fmt::format(
                      "{}.{:03d}", timestamp_ms / 1000, timestamp_ms % 1000)));
      break;
    case IteratorStart::kAfterSequence:
      request.Set("ShardIteratorType",
                  json::Value::String("AFTER_SEQUENCE_NUMBER"));
      request.Set("StartingSequenceNumber",
                  json::Value::String(sequence_number));
      break;
  }
  ASSIGN_OR_RETURN(json::Value reply,
                   kinesis_.Call("GetShardIterator", request));
  const std::string* it = StringMember(reply, "ShardIterator");
  if (!it) return Unavailable("GetShardIterator reply without ShardIterator");
  return *it;
}

Result<ReadResult> RemoteRecordSource::Read(const std::string& iterator,
                                            int limit) {
  json::Value request = json::Value::Object();
  request.Set("ShardIterator", json::Value::String(iterator));
  request.Set("Limit", json::Value::Number(int64_t{limit}));
  ASSIGN_OR_RETURN(json::Value reply, kinesis_.Call("GetRecords", request));
  ReadResult out;
  if (const json::Value* records = reply.Find("Records");
      records && records->is_array()) {
    out.records.reserve(records->items().size());
    for (const json::Value& r : records->items()) {
      SourceRecord rec;
      const std::string* seq = StringMember(r, "SequenceNumber");
      const std::string* data = StringMember(r, "Data");
      if (!seq || !data) return Unavailable("malformed record in GetRecords");
      rec.sequence_number = *seq;
      if (const std::string* key = StringMember(r, "PartitionKey"))
        rec.partition_key = *key;
      std::optional<std::string> bytes = base64::Decode(*data);
      if (!bytes) return Unavailable("record data is not base64");
      rec.data = std::move(*bytes);
      if (const json::Value* t = r.Find("ApproximateArrivalTimestamp")) {
        if (std::optional<double> s = t->AsDouble())
          rec.arrival_ms = static_cast<int64_t>(std::llround(*s * 1000));
      }
      out.records.push_back(std::move(rec));
    }
  }
  // A closed shard read to its end has no next iterator (null or absent).
  if (const std::string* next = StringMember(reply, "NextShardIterator"))
    out.next_iterator = *next;
  return out;
}

Status RemoteFailureDestination::Send(const std::string& record) {
  json::Value request = json::Value::Object();
  request.Set("StreamName", json::Value::String(stream_));
  request.Set("PartitionKey", json::Value::String("riffle-on-failure"));
  request.Set("Data", json::Value::String(base64::Encode(record)));
  return kinesis_.Call("PutRecord", request).status();
}

// ---- DynamoDB ----

Result<TableKey> RemoteTablesClient::DescribeKey(const std::string& table) {
  json::Value request = json::Value::Object();
  request.Set("TableName", json::Value::String(table));
  ASSIGN_OR_RETURN(json::Value reply, dynamodb_.Call("DescribeTable", request));
  const json::Value* t = reply.Find("Table");
  const json::Value* schema = t ? t->Find("KeySchema") : nullptr;
  if (!schema || !schema->is_array())
    return Unavailable("DescribeTable reply without KeySchema");
  TableKey key;
  for (const json::Value& k : schema->items()) {
    const std::string* name = StringMember(k, "AttributeName");
    const std::string* type = StringMember(k, "KeyType");
    if (!name || !type) continue;
    if (*type == "HASH") key.hash = *name;
    if (*type == "RANGE") key.range = *name;
  }
  if (key.hash.empty()) return Unavailable("table without a HASH key");
  return key;
}

void RemoteTablesClient::PutItems(const std::string& table,
                                  std::vector<tables::Item> items,
                                  PutCallback done) {
  std::vector<Status> statuses(items.size());
  constexpr size_t kBatch = 25;  // BatchWriteItem's limit
  for (size_t from = 0; from < items.size(); from += kBatch) {
    const size_t to = std::min(items.size(), from + kBatch);
    // Unprocessed items come back as written; they are matched to their
    // slots by their serialized form.
    std::map<std::string, size_t> slot;
    std::string requests;
    for (size_t i = from; i < to; ++i) {
      std::string item = tables::ItemToJson(items[i]);
      if (!requests.empty()) requests += ',';
      requests += "{\"PutRequest\":{\"Item\":" + item + "}}";
      slot[std::move(item)] = i;
    }
    for (int attempt = 0;; ++attempt) {
      std::string body;
      json::Writer w(&body);
      w.BeginObject()
          .Key("RequestItems")
          .BeginObject()
          .Key(table)
          .Raw("[" + requests + "]")
          .EndObject()
          .EndObject();
      Result<std::string> reply = dynamodb_.CallText("BatchWriteItem", body);
      if (!reply.ok()) {
        for (const auto& [item, i] : slot) statuses[i] = reply.status();
        break;
      }
      Result<json::Value> parsed = json::Parse(*reply);
      const json::Value* unprocessed =
          parsed.ok() ? parsed->Find("UnprocessedItems") : nullptr;
      const json::Value* left = unprocessed && unprocessed->is_object()
                                    ? unprocessed->Find(table)
                                    : nullptr;
      if (!left || !left->is_array() || left->items().empty()) break;
      if (attempt >= 8) {
        for (const json::Value& r : left->items()) {
          const json::Value* put = r.Find("PutRequest");
          const json::Value* item = put ? put->Find("Item") : nullptr;
          if (!item) continue;
          Result<tables::Item> back = ItemOf(*item);
          if (!back.ok()) continue;
          auto it = slot.find(tables::ItemToJson(*back));
          if (it != slot.end())
            statuses[it->second] = ResourceExhausted(
                "BatchWriteItem left the item unprocessed after retries");
        }
        break;
      }
      requests.clear();
      for (const json::Value& r : left->items()) {
        if (!requests.empty()) requests += ',';
        requests += json::Serialize(r);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20 << attempt));
    }
  }
  done(std::move(statuses));
}

Status RemoteTablesClient::CreateTableIfMissing(const std::string& table,
                                                const std::string& hash_key) {
  json::Value request = json::Value::Object();
  request.Set("TableName", json::Value::String(table));
  json::Value attribute = json::Value::Object();
  attribute.Set("AttributeName", json::Value::String(hash_key));
  attribute.Set("AttributeType", json::Value::String("S"));
  json::Value key = json::Value::Object();
  key.Set("AttributeName", json::Value::String(hash_key));
  key.Set("KeyType", json::Value::String("HASH"));
  json::Value attributes = json::Value::Array();
  attributes.items().push_back(std::move(attribute));
  json::Value schema = json::Value::Array();
  schema.items().push_back(std::move(key));
  request.Set("AttributeDefinitions", std::move(attributes));
  request.Set("KeySchema", std::move(schema));
  request.Set("BillingMode", json::Value::String("PAY_PER_REQUEST"));
  Result<json::Value> created = dynamodb_.Call("CreateTable", request);
  // ResourceInUseException: it exists (maybe another worker just made it).
  if (!created.ok() &&
      created.status().code() != StatusCode::kFailedPrecondition &&
      created.status().code() != StatusCode::kAlreadyExists)
    return created.status();
  // AWS creates tables asynchronously: wait until ACTIVE.
  json::Value describe = json::Value::Object();
  describe.Set("TableName", json::Value::String(table));
  for (int i = 0; i < 600; ++i) {
    ASSIGN_OR_RETURN(json::Value reply,
                     dynamodb_.Call("DescribeTable", describe));
    const json::Value* t = reply.Find("Table");
    const std::string* status = t ? StringMember(*t, "TableStatus") : nullptr;
    if (status && *status == "ACTIVE") return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Unavailable("table " + table + " did not become ACTIVE");
}

Result<std::optional<tables::Item>> RemoteTablesClient::GetItem(
    const std::string& table, const tables::Item& key) {
  json::Value request = json::Value::Object();
  request.Set("TableName", json::Value::String(table));
  request.Set("Key", ItemValue(key));
  request.Set("ConsistentRead", json::Value::Bool(true));
  ASSIGN_OR_RETURN(json::Value reply, dynamodb_.Call("GetItem", request));
  const json::Value* item = reply.Find("Item");
  if (!item) return std::optional<tables::Item>();
  ASSIGN_OR_RETURN(tables::Item out, ItemOf(*item));
  return std::optional<tables::Item>(std::move(out));
}

Result<std::vector<tables::Item>> RemoteTablesClient::ScanAll(
    const std::string& table) {
  std::vector<tables::Item> out;
  std::optional<json::Value> start;
  do {
    json::Value request = json::Value::Object();
    request.Set("TableName", json::Value::String(table));
    request.Set("ConsistentRead", json::Value::Bool(true));
    if (start) request.Set("ExclusiveStartKey", std::move(*start));
    start.reset();
    ASSIGN_OR_RETURN(json::Value reply, dynamodb_.Call("Scan", request));
    if (const json::Value* items = reply.Find("Items");
        items && items->is_array()) {
      for (const json::Value& v : items->items()) {
        ASSIGN_OR_RETURN(tables::Item item, ItemOf(v));
        out.push_back(std::move(item));
      }
    }
    if (const json::Value* last = reply.Find("LastEvaluatedKey");
        last && last->is_object())
      start = *last;
  } while (start);
  return out;
}

namespace {

void SetExpressions(const TablesClient::Expressions& e, json::Value* request) {
  if (!e.condition.empty())
    request->Set("ConditionExpression", json::Value::String(e.condition));
  if (!e.update.empty())
    request->Set("UpdateExpression", json::Value::String(e.update));
  if (!e.names.empty()) {
    json::Value names = json::Value::Object();
    for (const auto& [k, v] : e.names) names.Set(k, json::Value::String(v));
    request->Set("ExpressionAttributeNames", std::move(names));
  }
  if (!e.values.empty()) {
    tables::Item values(e.values.begin(), e.values.end());
    request->Set("ExpressionAttributeValues", ItemValue(values));
  }
}

}  // namespace

Status RemoteTablesClient::PutItem(const std::string& table, tables::Item item,
                                   const Expressions& expressions) {
  json::Value request = json::Value::Object();
  request.Set("TableName", json::Value::String(table));
  request.Set("Item", ItemValue(item));
  SetExpressions(expressions, &request);
  return dynamodb_.Call("PutItem", request).status();
}

Status RemoteTablesClient::UpdateItem(const std::string& table,
                                      tables::Item key,
                                      const Expressions& expressions) {
  json::Value request = json::Value::Object();
  request.Set("TableName", json::Value::String(table));
  request.Set("Key", ItemValue(key));
  SetExpressions(expressions, &request);
  return dynamodb_.Call("UpdateItem", request).status();
}

// ---- registry ----

Result<std::shared_ptr<const avro::Schema>>
RemoteSchemaClient::GetAvroSchemaById(int id) {
  if (id < 0) return NotFound("schema ids are not negative");
  return registry_.GetById(static_cast<uint32_t>(id));
}

Result<std::shared_ptr<const avro::Schema>>
RemoteSchemaClient::GetAvroSchemaByGlueId(
    const std::array<uint8_t, 16>& schema_version_id) {
  return NotFound("Glue schema version " +
                  avro::UuidToString(schema_version_id) +
                  " cannot be looked up in a Confluent registry");
}

}  // namespace riffle::functions
