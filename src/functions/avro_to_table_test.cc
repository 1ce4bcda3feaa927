// riffle:avro-to-table against fake registry and tables clients: the Avro ->
// item mapping, framing and decode failures as per-record statuses, schema
// caching, one write per key, and the poison-record path through a
// ShardProcessor (ReportBatchItemFailures and bisect).
#include "functions/avro_to_table.h"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "avro/framing.h"
#include "avro/json_codec.h"
#include "functions/shard_processor.h"
#include "json/json.h"

namespace riffle::functions {
namespace {

using tables::AttributeType;
using tables::AttributeValue;
using tables::Item;
using tables::Number;

constexpr char kPayment[] = R"({
  "type": "record", "name": "Payment", "namespace": "shop",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "amount_cents", "type": "long"},
    {"name": "fee", "type": "double"},
    {"name": "ratio", "type": "float"},
    {"name": "paid", "type": "boolean"},
    {"name": "currency", "type": {"type": "enum", "name": "Currency",
                                  "symbols": ["EUR", "USD"]}},
    {"name": "memo", "type": ["null", "string"]},
    {"name": "raw", "type": "bytes"},
    {"name": "digest", "type": {"type": "fixed", "name": "D", "size": 2}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "meta", "type": {"type": "map", "values": "long"}},
    {"name": "payer", "type": {"type": "record", "name": "Payer",
      "fields": [{"name": "name", "type": "string"},
                 {"name": "vip", "type": ["null", "boolean"]}]}},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal",
                               "precision": 10, "scale": 2}},
    {"name": "ts", "type": {"type": "long",
                            "logicalType": "timestamp-millis"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "big", "type": "long"}
  ]})";

constexpr char kPaymentJson[] = R"({
  "id": "p-1", "amount_cents": 1250, "fee": 0.1, "ratio": 1.5,
  "paid": true, "currency": "USD", "memo": null, "raw": "AP8=",
  "digest": "AQI=", "tags": ["a", "b"], "meta": {"k": 7},
  "payer": {"name": "Ann", "vip": true}, "price": "-123.45",
  "ts": "2023-11-14T22:13:20.123Z", "day": "2022-01-08",
  "uid": "123e4567-e89b-12d3-a456-426614174000",
  "big": 9223372036854775807})";

std::shared_ptr<const avro::Schema> Parse(const char* text) {
  auto s = avro::Schema::Parse(text);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return *s;
}

std::string Confluent(uint32_t id, const avro::Schema& schema,
                      std::string_view json) {
  std::string out;
  avro::AppendConfluentHeader(id, &out);
  Status s = avro::JsonToBinary(schema, json, avro::JsonFormat::kPlain, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

class FakeSchemas : public SchemaClient {
 public:
  std::map<int, std::shared_ptr<const avro::Schema>> schemas;
  int lookups = 0;
  Result<std::shared_ptr<const avro::Schema>> GetAvroSchemaById(
      int id) override {
    ++lookups;
    auto it = schemas.find(id);
    if (it == schemas.end()) return NotFound("no schema " + std::to_string(id));
    return it->second;
  }
  Result<std::shared_ptr<const avro::Schema>> GetAvroSchemaByGlueId(
      const std::array<uint8_t, 16>&) override {
    ++lookups;
    if (glue) return glue;
    return NotFound("no such Glue schema version");
  }
  std::shared_ptr<const avro::Schema> glue;
};

// Stores puts in a map; `refuse` makes the put of a given id fail.
class FakeTables : public TablesClient {
 public:
  TableKey key{"id", std::nullopt};
  std::map<std::string, Item> items;  // by the "id" attribute
  std::vector<size_t> put_calls;      // items per call
  std::string refuse;
  Result<TableKey> DescribeKey(const std::string& table) override {
    if (table != "payments") return NotFound("no table " + table);
    return key;
  }
  void PutItems(const std::string&, std::vector<Item> batch,
                PutCallback done) override {
    put_calls.push_back(batch.size());
    std::vector<Status> out;
    for (Item& item : batch) {
      const std::string& id = item.at("id").bytes();
      if (id == refuse) {
        out.push_back(InvalidArgument("refused"));
        continue;
      }
      items[id] = std::move(item);
      out.push_back(Status::Ok());
    }
    done(std::move(out));
  }
};

std::vector<Status> RunSync(AvroToTable& engine, const std::string& table,
                            const std::vector<std::string>& messages) {
  std::vector<std::string_view> views(messages.begin(), messages.end());
  std::vector<Status> out;
  bool called = false;
  engine.Process(table, views, [&](std::vector<Status> s) {
    out = std::move(s);
    called = true;
  });
  EXPECT_TRUE(called);
  return out;
}

TEST(AvroToItemTest, MapsEveryTypeAsDocumented) {
  auto schema = Parse(kPayment);
  auto json = json::Parse(kPaymentJson);
  ASSERT_TRUE(json.ok());
  auto value =
      avro::JsonToValue(schema->root(), *json, avro::JsonFormat::kPlain);
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  auto item = AvroToItem(schema->root(), *value);
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  const Item& i = *item;
  auto n = [](const char* text) {
    return AttributeValue::N(*Number::Parse(text));
  };
  EXPECT_EQ(i.at("id"), AttributeValue::S("p-1"));
  EXPECT_EQ(i.at("amount_cents"), n("1250"));
  EXPECT_EQ(i.at("fee"), n("0.1"));  // shortest digits, exact as written
  EXPECT_EQ(i.at("ratio"), n("1.5"));
  EXPECT_EQ(i.at("paid"), AttributeValue::Bool(true));
  EXPECT_EQ(i.at("currency"), AttributeValue::S("USD"));
  EXPECT_EQ(i.at("memo"), AttributeValue::Null());
  EXPECT_EQ(i.at("raw"), AttributeValue::B(std::string("\x00\xff", 2)));
  EXPECT_EQ(i.at("digest"), AttributeValue::B("\x01\x02"));
  EXPECT_EQ(i.at("tags"), AttributeValue::L({AttributeValue::S("a"),
                                             AttributeValue::S("b")}));
  EXPECT_EQ(i.at("meta"), AttributeValue::M({{"k", n("7")}}));
  EXPECT_EQ(i.at("payer"),
            AttributeValue::M({{"name", AttributeValue::S("Ann")},
                               {"vip", AttributeValue::Bool(true)}}));
  EXPECT_EQ(i.at("price"), n("-123.45"));
  EXPECT_EQ(i.at("ts"), AttributeValue::S("2023-11-14T22:13:20.123Z"));
  EXPECT_EQ(i.at("day"), AttributeValue::S("2022-01-08"));
  EXPECT_EQ(i.at("uid"),
            AttributeValue::S("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_EQ(i.at("big").number().ToString(), "9223372036854775807");
  EXPECT_EQ(i.size(), 17u);
}

TEST(AvroToItemTest, ValuesDynamoDbCannotHoldAsNumbersStayStrings) {
  auto schema = Parse(R"({"type": "record", "name": "R", "fields": [
      {"name": "nan", "type": "double"}, {"name": "huge", "type": "double"},
      {"name": "s", "type": "string"}]})");
  avro::Value v = avro::Value::Record({avro::Value::Double(std::nan("")),
                                       avro::Value::Double(1e300),
                                       avro::Value::String("a\xff"
                                                           "b")});
  auto item = AvroToItem(schema->root(), v);
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  EXPECT_EQ(item->at("nan"), AttributeValue::S("NaN"));
  EXPECT_TRUE(item->at("huge").is(AttributeType::kS));
  EXPECT_EQ(item->at("s"), AttributeValue::S("a\xef\xbf\xbd"
                                             "b"));  // U+FFFD
}

TEST(AvroToItemTest, NonRecordSchemaIsRefused) {
  auto schema = Parse(R"("string")");
  auto item = AvroToItem(schema->root(), avro::Value::String("x"));
  EXPECT_EQ(item.status().code(), StatusCode::kInvalidArgument);
}

class AvroToTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema = Parse(kPayment);
    schemas.schemas[7] = schema;
  }
  std::string Payment(const std::string& id, int64_t cents = 100) {
    std::string json = kPaymentJson;
    json.replace(json.find("\"p-1\""), 5, "\"" + id + "\"");
    json.replace(json.find("1250"), 4, std::to_string(cents));
    return Confluent(7, *schema, json);
  }

  std::shared_ptr<const avro::Schema> schema;
  FakeSchemas schemas;
  FakeTables tables;
  AvroToTable engine{schemas, tables};
};

TEST_F(AvroToTableTest, StoresABatchInOneWriteAndCachesTheSchema) {
  std::vector<std::string> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(Payment("p" + std::to_string(i)));
  auto statuses = RunSync(engine, "payments", batch);
  ASSERT_EQ(statuses.size(), 5u);
  for (const Status& s : statuses) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(tables.items.size(), 5u);
  EXPECT_EQ(tables.put_calls, std::vector<size_t>{5});
  RunSync(engine, "payments", batch);  // a replay: same items again
  EXPECT_EQ(tables.items.size(), 5u);
  EXPECT_EQ(schemas.lookups, 1);  // the decoder is cached by id
}

TEST_F(AvroToTableTest, TheLastRecordOfAKeyWinsWithOneWrite) {
  auto statuses = RunSync(engine, "payments",
                          {Payment("a", 1), Payment("b", 2), Payment("a", 3)});
  for (const Status& s : statuses) EXPECT_TRUE(s.ok());
  EXPECT_EQ(tables.put_calls, std::vector<size_t>{2});
  EXPECT_EQ(tables.items.at("a").at("amount_cents").number().ToString(), "3");
}

TEST_F(AvroToTableTest, EachBadRecordFailsAloneWithAReason) {
  std::string truncated = Payment("t");
  truncated.resize(truncated.size() - 3);
  std::string trailing = Payment("u") + "x";
  auto no_key = Parse(R"({"type": "record", "name": "NoKey",
                         "fields": [{"name": "other", "type": "string"}]})");
  schemas.schemas[8] = no_key;
  std::vector<std::string> batch = {
      Payment("good1"),
      "garbage, not framed",
      std::string("\x00\x00\x00\x00\x63", 5) + "x",  // unknown id 99
      truncated,
      trailing,
      Confluent(8, *no_key, R"({"other": "x"})"),
      std::string("\x00\x00\x00", 3),  // a header cut short
      Payment("good2"),
  };
  auto statuses = RunSync(engine, "payments", batch);
  ASSERT_EQ(statuses.size(), batch.size());
  EXPECT_TRUE(statuses[0].ok());
  EXPECT_TRUE(statuses[7].ok());
  for (size_t i = 1; i < 7; ++i)
    EXPECT_FALSE(statuses[i].ok()) << "record " << i;
  EXPECT_NE(statuses[1].message().find("Confluent"), std::string::npos);
  EXPECT_EQ(statuses[2].code(), StatusCode::kNotFound);
  EXPECT_NE(statuses[5].message().find("'id'"), std::string::npos);
  EXPECT_EQ(tables.items.size(), 2u);
}

TEST_F(AvroToTableTest, GlueFramedRecordsResolveThroughTheClient) {
  std::array<uint8_t, 16> uuid{};
  uuid[15] = 1;
  std::string datum;
  ASSERT_TRUE(avro::JsonToBinary(*schema, kPaymentJson,
                                 avro::JsonFormat::kPlain, &datum)
                  .ok());
  std::string plain, compressed;
  ASSERT_TRUE(avro::AppendGlueMessage(uuid, datum, false, &plain).ok());
  ASSERT_TRUE(avro::AppendGlueMessage(uuid, datum, true, &compressed).ok());
  auto statuses = RunSync(engine, "payments", {plain});
  EXPECT_EQ(statuses[0].code(), StatusCode::kNotFound);
  schemas.glue = schema;
  statuses = RunSync(engine, "payments", {plain, compressed});
  EXPECT_TRUE(statuses[0].ok() && statuses[1].ok());
  EXPECT_EQ(tables.items.count("p-1"), 1u);
}

TEST_F(AvroToTableTest, TableProblemsFailEveryRecord) {
  auto statuses = RunSync(engine, "", {Payment("a")});
  EXPECT_EQ(statuses[0].code(), StatusCode::kFailedPrecondition);
  statuses = RunSync(engine, "nope", {Payment("a")});
  EXPECT_EQ(statuses[0].code(), StatusCode::kNotFound);
  tables.refuse = "b";
  statuses = RunSync(engine, "payments", {Payment("a"), Payment("b")});
  EXPECT_TRUE(statuses[0].ok());
  EXPECT_EQ(statuses[1].code(), StatusCode::kInvalidArgument);
}

TEST(SummarizeBuiltinTest, PartialFailuresOrAFunctionError) {
  std::vector<BuiltinRecord> records = {{"", "s1"}, {"", "s2"}, {"", "s3"}};
  std::vector<Status> statuses = {Status::Ok(), InvalidArgument("bad"),
                                  Status::Ok()};
  BuiltinOutcome partial = SummarizeBuiltin(records, statuses, true);
  EXPECT_EQ(partial.function_error, "");
  EXPECT_EQ(partial.payload,
            R"({"batchItemFailures":[{"itemIdentifier":"s2"}]})");
  BuiltinOutcome whole = SummarizeBuiltin(records, statuses, false);
  EXPECT_EQ(whole.function_error, "Unhandled");
  EXPECT_NE(whole.payload.find("s2"), std::string::npos);
  BuiltinOutcome ok = SummarizeBuiltin(
      records, {Status::Ok(), Status::Ok(), Status::Ok()}, false);
  EXPECT_EQ(ok.function_error, "");
  EXPECT_EQ(ok.payload, R"({"batchItemFailures":[]})");
}

// The whole path with a ShardProcessor: the poison record goes to the
// failure destination, every other record is stored, the shard finishes.
class MemorySource : public RecordSource {
 public:
  std::vector<SourceRecord> records;
  Result<std::vector<ShardInfo>> ListShards() override {
    return std::vector<ShardInfo>{{"shardId-000000000000", {}}};
  }
  Result<std::string> GetIterator(const std::string&, IteratorStart start,
                                  const std::string& seq, int64_t) override {
    if (start == IteratorStart::kAfterSequence) {
      for (size_t i = 0; i < records.size(); ++i)
        if (records[i].sequence_number == seq) return std::to_string(i + 1);
    }
    return std::string("0");
  }
  Result<ReadResult> Read(const std::string& iterator, int limit) override {
    size_t i = std::stoul(iterator);
    ReadResult r;
    while (i < records.size() && static_cast<int>(r.records.size()) < limit)
      r.records.push_back(records[i++]);
    if (i < records.size()) r.next_iterator = std::to_string(i);
    return r;  // closed: no iterator once read out
  }
};

class EngineInvoker : public BatchInvoker {
 public:
  EngineInvoker(AvroToTable& engine, bool report)
      : engine_(engine), report_(report) {}
  BatchOutcome Invoke(const std::string&) override {
    ADD_FAILURE() << "the JSON event is not built for in-process functions";
    return {};
  }
  bool AcceptsRecords() override { return true; }
  BatchOutcome InvokeRecords(
      const std::vector<const SourceRecord*>& batch) override {
    std::vector<BuiltinRecord> refs;
    std::vector<std::string_view> data;
    for (const SourceRecord* r : batch) {
      refs.push_back({r->data, r->sequence_number});
      data.push_back(r->data);
    }
    BatchOutcome out;
    engine_.Process("payments", data, [&](std::vector<Status> s) {
      BuiltinOutcome o = SummarizeBuiltin(refs, s, report_);
      out.payload = o.payload;
      out.function_error = o.function_error;
    });
    ++invocations;
    return out;
  }
  int invocations = 0;

 private:
  AvroToTable& engine_;
  bool report_;
};

class Checkpoints : public CheckpointStore {
 public:
  std::map<std::string, ShardCheckpoint> saved;
  Result<std::map<std::string, ShardCheckpoint>> Load() override {
    return saved;
  }
  Status Save(const std::string& s, const ShardCheckpoint& cp) override {
    saved[s] = cp;
    return Status::Ok();
  }
};

class Destination : public FailureDestination {
 public:
  std::vector<json::Value> sent;
  Status Send(const std::string& record) override {
    sent.push_back(*json::Parse(record));
    return Status::Ok();
  }
};

class PoisonTest : public AvroToTableTest,
                   public ::testing::WithParamInterface<bool> {};

TEST_P(PoisonTest, PoisonRecordGoesToTheDestinationAndTheShardFlows) {
  const bool report = GetParam();
  MemorySource source;
  for (int i = 0; i < 10; ++i) {
    std::string seq = std::to_string(1000 + i);
    std::string data =
        i == 4 ? std::string("\x07garbage") : Payment("p" + std::to_string(i));
    source.records.push_back({seq, "pk", data, 1'000'000});
  }
  MappingConfig m;
  m.uuid = "m-1";
  m.batch_size = 10;
  m.maximum_retry_attempts = 1;
  // Either rule isolates the poison record: a partial-failure reply, or
  // halving a failing batch down to one record.
  m.report_batch_item_failures = report;
  m.bisect_batch_on_function_error = !report;
  ShardProcessorOptions o;
  o.mapping = m;
  o.shard_id = "shardId-000000000000";
  int64_t now = 2'000'000;
  o.now_ms = [&now] { return now; };
  EngineInvoker invoker(engine, report);
  Checkpoints checkpoints;
  Destination destination;
  ShardProcessor p(o, source, invoker, checkpoints, &destination, std::nullopt);
  for (int i = 0; i < 200; ++i) {
    StepResult r = p.Step();
    if (r == StepResult::kFinished) break;
    if (r == StepResult::kIdle) now = std::max(now + 1, p.next_step_ms());
  }
  EXPECT_EQ(tables.items.size(), 9u);
  ASSERT_EQ(destination.sent.size(), 1u);
  const json::Value* info = destination.sent[0].Find("KinesisBatchInfo");
  EXPECT_EQ(info->Find("startSequenceNumber")->text(), "1004");
  EXPECT_EQ(info->Find("endSequenceNumber")->text(), "1004");
  EXPECT_TRUE(checkpoints.saved["shardId-000000000000"].shard_end);
  EXPECT_EQ(checkpoints.saved["shardId-000000000000"].sequence_number, "1009");
}

INSTANTIATE_TEST_SUITE_P(ReportOrBisect, PoisonTest, ::testing::Bool());

}  // namespace
}  // namespace riffle::functions
