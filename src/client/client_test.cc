// Unit tests of src/client against small in-test HTTP servers
// (http/test_util.h's TestServer) that play Kinesis, DynamoDB, Lambda and
// the registry: just enough of each protocol for the case at hand.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "avro/framing.h"
#include "client/avro_serde.h"
#include "client/aws_clients.h"
#include "client/aws_error.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "client/registry_client.h"
#include "core/base64.h"
#include "http/sigv4.h"
#include "http/test_util.h"
#include "json/json.h"

namespace riffle::client {
namespace {

using http::Request;
using http::Responder;
using http::Response;

http::Url UrlOf(const http::test::TestServer& ts) {
  return *http::ParseUrl("http://127.0.0.1:" + std::to_string(ts.port()));
}

AwsEndpoint EndpointOf(const http::test::TestServer& ts) {
  AwsEndpoint e;
  e.url = UrlOf(ts);
  e.credentials = {"AKID", "secret", "", "eu-west-1"};
  return e;
}

Response Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.SetHeader("content-type", "application/x-amz-json-1.1");
  r.body = std::move(body);
  return r;
}

TEST(StatusFromAwsError, MapsTypesToWhatTheCallerShouldDo) {
  struct Case {
    int http;
    std::string type;
    StatusCode code;
  } cases[] = {
      {400, "ResourceNotFoundException", StatusCode::kNotFound},
      {400, "ProvisionedThroughputExceededException",
       StatusCode::kResourceExhausted},
      {400, "com.amazonaws.dynamodb.v20120810#ThrottlingException",
       StatusCode::kResourceExhausted},
      {400, "LimitExceededException", StatusCode::kResourceExhausted},
      {400, "RequestLimitExceeded", StatusCode::kResourceExhausted},
      {429, "TooManyRequestsException", StatusCode::kResourceExhausted},
      {400, "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
       StatusCode::kAborted},
      {400, "TransactionCanceledException", StatusCode::kAborted},
      {400, "ResourceInUseException", StatusCode::kFailedPrecondition},
      {409, "ResourceConflictException", StatusCode::kAlreadyExists},
      {400, "ExpiredIteratorException", StatusCode::kDeadlineExceeded},
      {400, "ValidationException", StatusCode::kInvalidArgument},
      {400, "SerializationException", StatusCode::kInvalidArgument},
      {400, "InvalidArgumentException", StatusCode::kInvalidArgument},
      {400, "InvalidParameterValueException", StatusCode::kInvalidArgument},
      {403, "UnrecognizedClientException", StatusCode::kFailedPrecondition},
      {500, "InternalFailure", StatusCode::kUnavailable},
      {503, "ServiceUnavailable", StatusCode::kUnavailable},
      // Unknown types fall back on the HTTP status.
      {503, "SomethingNew", StatusCode::kUnavailable},
      {429, "", StatusCode::kResourceExhausted},
      {404, "", StatusCode::kNotFound},
      {400, "", StatusCode::kInvalidArgument},
      {502, "", StatusCode::kUnavailable},
  };
  for (const Case& c : cases) {
    Status s = StatusFromAwsError(c.http, c.type, "why");
    EXPECT_EQ(s.code(), c.code) << c.type << " " << s.ToString();
    EXPECT_EQ(AwsErrorType(s), std::string(BareAwsErrorType(c.type)))
        << s.message();
  }
  EXPECT_EQ(BareAwsErrorType("ResourceNotFoundException:http://x/y"),
            "ResourceNotFoundException");
  EXPECT_EQ(AwsErrorType(NotFound("registry 40401: no")), "");
  EXPECT_EQ(AwsErrorType(Status::Ok()), "");
}

TEST(AwsJsonClient, SignsTargetsAndParsesReplies) {
  std::mutex mu;
  std::vector<Request> seen;
  http::test::TestServer ts([&](Request req, Responder respond) {
    {
      std::lock_guard lock(mu);
      seen.push_back(req);
    }
    respond(Json(200, R"({"StreamNames":["a","b"]})"));
  });
  auto kinesis = NewKinesisClient(EndpointOf(ts));
  json::Value request = json::Value::Object();
  request.Set("Limit", json::Value::Number(int64_t{10}));
  auto r = kinesis->Call("ListStreams", request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_NE(r->Find("StreamNames"), nullptr);
  EXPECT_EQ(r->Find("StreamNames")->items().size(), 2u);

  auto dynamo = NewDynamoDbClient(EndpointOf(ts));
  ASSERT_TRUE(dynamo->Call("ListTables", json::Value::Object()).ok());

  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(*seen[0].FindHeader("x-amz-target"),
            "Kinesis_20131202.ListStreams");
  EXPECT_EQ(*seen[0].FindHeader("content-type"), "application/x-amz-json-1.1");
  EXPECT_EQ(seen[0].body, R"({"Limit":10})");
  auto auth =
      http::ParseSigV4Authorization(*seen[0].FindHeader("authorization"));
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ(auth->service, "kinesis");
  EXPECT_EQ(auth->region, "eu-west-1");
  EXPECT_EQ(auth->access_key_id, "AKID");
  EXPECT_EQ(*seen[1].FindHeader("x-amz-target"),
            "DynamoDB_20120810.ListTables");
  EXPECT_EQ(*seen[1].FindHeader("content-type"), "application/x-amz-json-1.0");
}

TEST(AwsJsonClient, ErrorRepliesBecomeStatusWithTheirType) {
  http::test::TestServer ts([](Request req, Responder respond) {
    const std::string& target = *req.FindHeader("x-amz-target");
    if (target.ends_with("DescribeStream")) {
      respond(Json(400, R"({"__type":"ResourceNotFoundException",)"
                        R"("message":"Stream s under account 1 not found."})"));
    } else if (target.ends_with("PutItem")) {
      respond(Json(400,
                   R"({"__type":"com.amazonaws.dynamodb.v20120810#)"
                   R"(ConditionalCheckFailedException","Message":"failed"})"));
    } else if (target.ends_with("GetRecords")) {
      respond(Json(500, "not json"));
    } else {
      respond(Json(200, "not json either"));
    }
  });
  auto kinesis = NewKinesisClient(EndpointOf(ts));
  auto r = kinesis->Call("DescribeStream", json::Value::Object());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(AwsErrorType(r.status()), "ResourceNotFoundException");
  EXPECT_NE(r.status().message().find("Stream s under account 1 not found."),
            std::string::npos);

  r = kinesis->Call("PutItem", json::Value::Object());
  EXPECT_EQ(r.status().code(), StatusCode::kAborted);
  EXPECT_EQ(AwsErrorType(r.status()), "ConditionalCheckFailedException");

  r = kinesis->Call("GetRecords", json::Value::Object());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);

  r = kinesis->Call("ListShards", json::Value::Object());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST(AwsJsonClient, UnreachableEndpointIsUnavailable) {
  AwsEndpoint e = *ParseAwsEndpoint("http://127.0.0.1:1");
  AwsJsonClient c(e, kKinesisProtocol);
  auto r = c.Call("ListStreams", json::Value::Object());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(ParseAwsEndpoint("https://kinesis.amazonaws.com").ok());
}

TEST(AwsJsonClient, ManyThreadsShareOneClient) {
  std::atomic<int> calls{0};
  http::test::TestServer ts([&](Request, Responder respond) {
    calls.fetch_add(1);
    respond(Json(200, "{}"));
  });
  auto kinesis = NewKinesisClient(EndpointOf(ts));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (kinesis->Call("ListStreams", json::Value::Object()).ok()) {
          ok.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(calls.load(), 100);
}

TEST(LambdaClient, RestPathsAndErrorHeader) {
  std::mutex mu;
  std::vector<Request> seen;
  http::test::TestServer ts([&](Request req, Responder respond) {
    {
      std::lock_guard lock(mu);
      seen.push_back(req);
    }
    Response r;
    if (req.method == "GET") {
      r.status = 404;
      r.SetHeader("x-amzn-errortype", "ResourceNotFoundException:http://x/");
      r.body = R"({"Type":"User","Message":"Function not found: f"})";
    } else if (req.method == "DELETE") {
      r.status = 204;
    } else {
      r.status = 201;
      r.body = R"({"FunctionName":"f"})";
    }
    respond(std::move(r));
  });
  LambdaClient lambda(EndpointOf(ts));
  json::Value create = json::Value::Object();
  create.Set("FunctionName", json::Value::String("f"));
  auto r = lambda.Call("POST", "/2015-03-31/functions", create);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Find("FunctionName")->text(), "f");
  r = lambda.Call("GET", "/2015-03-31/functions/f");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(AwsErrorType(r.status()), "ResourceNotFoundException");
  EXPECT_NE(r.status().message().find("Function not found: f"),
            std::string::npos);
  r = lambda.Call("DELETE", "/2015-03-31/functions/f");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->is_null());
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].target, "/2015-03-31/functions");
  EXPECT_EQ(*seen[0].FindHeader("content-type"), "application/json");
  auto auth =
      http::ParseSigV4Authorization(*seen[1].FindHeader("authorization"));
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ(auth->service, "lambda");
}

// A registry that knows one subject, "s", holding one schema with id 7.
constexpr std::string_view kSchema =
    R"({"type":"record","name":"R","fields":[{"name":"a","type":"long"},)"
    R"({"name":"b","type":"string"}]})";

class FakeRegistry {
 public:
  FakeRegistry()
      : server_([this](Request req, Responder respond) {
          by_id_calls.fetch_add(req.path.starts_with("/schemas/ids/") ? 1 : 0);
          respond(Handle(req));
        }) {}
  http::Url url() const { return UrlOf(server_); }
  std::atomic<int> by_id_calls{0};

 private:
  static Response Reply(int status, std::string body) {
    Response r;
    r.status = status;
    r.SetHeader("content-type", "application/vnd.schemaregistry.v1+json");
    r.body = std::move(body);
    return r;
  }
  static std::string SchemaJson() {
    std::string out;
    json::AppendQuoted(kSchema, &out);
    return out;
  }
  Response Handle(const Request& req) {
    if (req.method == "POST" && req.path == "/subjects/s/versions") {
      auto j = json::Parse(req.body);
      if (!j.ok() || j->Find("schema") == nullptr) {
        return Reply(422, R"({"error_code":42201,"message":"Invalid schema"})");
      }
      if (j->Find("schema")->text() != kSchema) {
        return Reply(409, R"({"error_code":409,"message":"incompatible"})");
      }
      return Reply(200, R"({"id":7})");
    }
    if (req.method == "POST" && req.path == "/subjects/s") {
      return Reply(200, R"({"subject":"s","id":7,"version":1,"schema":)" +
                            SchemaJson() + "}");
    }
    if (req.method == "GET" && req.path == "/subjects/s/versions/latest") {
      return Reply(200, R"({"subject":"s","id":7,"version":1,"schema":)" +
                            SchemaJson() + "}");
    }
    if (req.method == "GET" && req.path == "/schemas/ids/7") {
      return Reply(200, R"({"schema":)" + SchemaJson() + "}");
    }
    if (req.method == "GET" && req.path == "/schemas/ids/8") {
      return Reply(200, R"({"schemaType":"PROTOBUF","schema":"syntax"})");
    }
    if (req.method == "GET" && req.path == "/config") {
      return Reply(200, R"({"compatibilityLevel":"BACKWARD"})");
    }
    if (req.method == "PUT" && req.path == "/config/s") {
      return Reply(200, req.body);
    }
    if (req.path == "/config/s") {
      return Reply(404, R"({"error_code":40408,"message":"no config"})");
    }
    if (req.path.starts_with("/subjects/")) {
      return Reply(404,
                   R"({"error_code":40401,"message":"Subject not found"})");
    }
    return Reply(404, R"({"error_code":40403,"message":"Schema not found"})");
  }

  http::test::TestServer server_;
};

TEST(RegistryClient, CallsAndErrorCodes) {
  FakeRegistry fake;
  RegistryClient registry(fake.url());
  auto latest = registry.Latest("s");
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(latest->id, 7u);
  EXPECT_EQ(latest->version, 1);
  EXPECT_EQ(latest->schema->root().name, "R");

  auto reg = registry.Register("s", std::string(kSchema));
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  EXPECT_EQ(reg->id, 7u);
  auto lookup = registry.Lookup("s", std::string(kSchema));
  ASSERT_TRUE(lookup.ok());
  EXPECT_EQ(lookup->version, 1);

  auto incompatible =
      registry.Register("s", R"({"type":"record","name":"R","fields":[]})");
  EXPECT_EQ(incompatible.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(registry.Register("s", "not a schema").status().code(),
            StatusCode::kFailedPrecondition);
  auto missing = registry.Latest("nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("40401"), std::string::npos);
  EXPECT_EQ(registry.GetById(9).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry.GetById(8).status().code(),
            StatusCode::kFailedPrecondition);

  EXPECT_EQ(*registry.GetCompatibility(""), "BACKWARD");
  EXPECT_EQ(registry.GetCompatibility("s").status().code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(registry.SetCompatibility("s", "FULL").ok());
}

TEST(RegistryClient, CachesSchemasById) {
  FakeRegistry fake;
  RegistryClient registry(fake.url());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) ASSERT_TRUE(registry.GetById(7).ok());
    });
  }
  for (auto& t : threads) t.join();
  // Threads racing on the first fetch may each fetch once; no more.
  EXPECT_GE(fake.by_id_calls.load(), 1);
  EXPECT_LE(fake.by_id_calls.load(), 4);
  // Latest() fills the cache too.
  RegistryClient second(fake.url());
  ASSERT_TRUE(second.Latest("s").ok());
  const int before = fake.by_id_calls.load();
  ASSERT_TRUE(second.GetById(7).ok());
  EXPECT_EQ(fake.by_id_calls.load(), before);
}

TEST(AvroSerde, RoundTripWithConfluentFraming) {
  FakeRegistry fake;
  RegistryClient registry(fake.url());
  auto serializer = AvroSerializer::Create(registry, "s");
  ASSERT_TRUE(serializer.ok()) << serializer.status().ToString();
  std::string framed;
  ASSERT_TRUE((*serializer)->SerializeJson(R"({"a":5,"b":"x"})", &framed).ok());
  EXPECT_EQ(framed.substr(0, 5), std::string("\0\0\0\0\x07", 5));
  const std::string before = framed;
  Status bad = (*serializer)->SerializeJson(R"({"a":"five"})", &framed);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(framed, before);  // unchanged on error

  AvroDeserializer deserializer(&registry);
  std::string json;
  uint32_t id = 0;
  ASSERT_TRUE(
      deserializer.DecodeJson(framed, avro::JsonFormat::kPlain, &json, &id)
          .ok());
  EXPECT_EQ(json, R"({"a":5,"b":"x"})");
  EXPECT_EQ(id, 7u);
  EXPECT_EQ(
      deserializer.DecodeJson("junk", avro::JsonFormat::kPlain, &json).code(),
      StatusCode::kInvalidArgument);
  std::string unknown;
  avro::AppendConfluentHeader(9, &unknown);
  EXPECT_EQ(
      deserializer.DecodeJson(unknown, avro::JsonFormat::kPlain, &json).code(),
      StatusCode::kNotFound);

  auto registering =
      AvroSerializer::Create(registry, "s", std::string(kSchema));
  ASSERT_TRUE(registering.ok());
  EXPECT_EQ((*registering)->schema_id(), 7u);
  EXPECT_EQ(AvroSerializer::Create(registry, "nope").status().code(),
            StatusCode::kNotFound);
}

// PutRecords that fails about a third of the records it is given (and
// whole calls now and then), storing the others in arrival order.
class FlakyKinesis {
 public:
  FlakyKinesis()
      : server_(
            [this](Request req, Responder respond) { respond(Handle(req)); }) {}
  AwsEndpoint endpoint() const { return EndpointOf(server_); }
  std::map<std::string, std::vector<std::string>> stored;  // by key
  int calls = 0;
  int max_records_per_key_in_a_call = 0;

 private:
  Response Handle(const Request& req) {
    std::lock_guard lock(mu_);
    ++calls;
    if (calls % 7 == 0) {
      return Json(400, R"({"__type":"ProvisionedThroughputExceededException",)"
                       R"("message":"Rate exceeded"})");
    }
    auto j = json::Parse(req.body);
    std::string out = R"({"FailedRecordCount":0,"Records":[)";
    std::map<std::string, int> per_key;
    bool first = true;
    for (const json::Value& r : j->Find("Records")->items()) {
      const std::string key = r.Find("PartitionKey")->text();
      max_records_per_key_in_a_call =
          std::max(max_records_per_key_in_a_call, ++per_key[key]);
      if (!first) out.push_back(',');
      first = false;
      if (rng_() % 3 == 0) {
        out.append(R"({"ErrorCode":"ProvisionedThroughputExceededException",)"
                   R"("ErrorMessage":"Rate exceeded for shard"})");
        continue;
      }
      stored[key].push_back(*base64::Decode(r.Find("Data")->text()));
      out.append(R"({"ShardId":"shardId-000000000000","SequenceNumber":")" +
                 std::to_string(++seq_) + "\"}");
    }
    out.append("]}");
    return Json(200, out);
  }

  std::mutex mu_;
  std::mt19937 rng_{42};
  int seq_ = 0;
  http::test::TestServer server_;
};

TEST(Producer, RetriesFailedRecordsAndKeepsEachKeysOrder) {
  FlakyKinesis fake;
  auto kinesis = NewKinesisClient(fake.endpoint());
  ProducerOptions options;
  options.stream = "s";
  options.max_batch_records = 50;
  options.initial_backoff = std::chrono::milliseconds(1);
  options.max_backoff = std::chrono::milliseconds(2);
  std::map<std::string, std::vector<uint64_t>> delivered;
  options.on_delivered = [&](const Delivery& d) {
    delivered[d.partition_key].push_back(d.tag);
  };
  Producer producer(kinesis.get(), options);
  constexpr int kRecords = 2000;
  for (int i = 0; i < kRecords; ++i) {
    const std::string key = "k" + std::to_string(i % 13);
    ASSERT_TRUE(producer.Put(key, "r" + std::to_string(i), i).ok());
  }
  ASSERT_TRUE(producer.Flush().ok());
  EXPECT_EQ(producer.delivered(), static_cast<uint64_t>(kRecords));
  EXPECT_EQ(producer.buffered(), 0u);
  EXPECT_GT(producer.retried(), 0u);
  EXPECT_EQ(fake.max_records_per_key_in_a_call, 1);
  size_t total = 0;
  for (const auto& [key, values] : fake.stored) {
    const int k = std::stoi(key.substr(1));
    ASSERT_EQ(values.size(), delivered[key].size());
    for (size_t n = 0; n < values.size(); ++n) {
      // Exactly the key's records, once each, in Put order.
      EXPECT_EQ(values[n], "r" + std::to_string(k + 13 * n));
      EXPECT_EQ(delivered[key][n], k + 13 * n);
    }
    total += values.size();
  }
  EXPECT_EQ(total, static_cast<size_t>(kRecords));
}

TEST(Producer, GivesUpWithAClearErrorAfterTheRetryBudget) {
  http::test::TestServer ts([](Request, Responder respond) {
    respond(Json(200, R"({"FailedRecordCount":1,"Records":[{"ErrorCode":)"
                      R"("ProvisionedThroughputExceededException",)"
                      R"("ErrorMessage":"Rate exceeded"}]})"));
  });
  auto kinesis = NewKinesisClient(EndpointOf(ts));
  ProducerOptions options;
  options.stream = "s";
  options.max_attempts = 3;
  options.initial_backoff = std::chrono::milliseconds(1);
  Producer producer(kinesis.get(), options);
  ASSERT_TRUE(producer.Put("k", "data", 41).ok());
  Status s = producer.Flush();
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("record 41"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("3 attempts"), std::string::npos);
  EXPECT_EQ(producer.Put("k", "more").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(producer.Put("", "x").code(), StatusCode::kResourceExhausted);
}

TEST(Producer, MissingStreamFailsAtOnceAndBadKeysAreRejected) {
  http::test::TestServer ts([](Request, Responder respond) {
    respond(Json(400, R"({"__type":"ResourceNotFoundException",)"
                      R"("message":"Stream s not found"})"));
  });
  auto kinesis = NewKinesisClient(EndpointOf(ts));
  ProducerOptions options;
  options.stream = "s";
  Producer producer(kinesis.get(), options);
  EXPECT_EQ(producer.Put("", "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(producer.Put(std::string(257, 'k'), "x").code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(producer.Put("k", "x").ok());
  EXPECT_EQ(producer.Flush().code(), StatusCode::kNotFound);
}

// A stream of three shards: 0 was split into 1 and 2. Shard 0 holds a0, a1;
// each child holds one record. GetRecords throttles the first read of
// shard 2 to show the backoff.
class ReshardedKinesis {
 public:
  ReshardedKinesis()
      : server_(
            [this](Request req, Responder respond) { respond(Handle(req)); }) {}
  AwsEndpoint endpoint() const { return EndpointOf(server_); }
  std::atomic<int> list_calls{0};

 private:
  Response Handle(const Request& req) {
    const std::string op = *req.FindHeader("x-amz-target");
    auto j = json::Parse(req.body);
    if (op.ends_with("ListShards")) {
      ++list_calls;
      // Two pages, to exercise NextToken.
      if (j->Find("NextToken") == nullptr) {
        return Json(200, R"({"Shards":[{"ShardId":"shardId-000000000000",)"
                         R"("SequenceNumberRange":{"StartingSequenceNumber":)"
                         R"("1","EndingSequenceNumber":"9"}}],)"
                         R"("NextToken":"page2"})");
      }
      return Json(
          200, R"({"Shards":[)"
               R"({"ShardId":"shardId-000000000001",)"
               R"("ParentShardId":"shardId-000000000000",)"
               R"("SequenceNumberRange":{"StartingSequenceNumber":"10"}},)"
               R"({"ShardId":"shardId-000000000002",)"
               R"("ParentShardId":"shardId-000000000000",)"
               R"("SequenceNumberRange":{"StartingSequenceNumber":"20"}}]})");
    }
    if (op.ends_with("GetShardIterator")) {
      return Json(
          200, R"({"ShardIterator":")" + j->Find("ShardId")->text() + "/0\"}");
    }
    // GetRecords: iterator "<shard>/<n>".
    const std::string it = j->Find("ShardIterator")->text();
    const std::string shard = it.substr(0, it.find('/'));
    const int n = std::stoi(it.substr(it.find('/') + 1));
    auto rec = [](std::string seq, std::string data) {
      std::string b64;
      base64::EncodeAppend(data, &b64);
      return R"({"SequenceNumber":")" + seq + R"(","Data":")" + b64 +
             R"(","PartitionKey":"k"})";
    };
    if (shard == "shardId-000000000000") {
      if (n == 0) {
        return Json(200,
                    R"({"Records":[)" + rec("1", "a0") +
                        R"(],"NextShardIterator":"shardId-000000000000/1",)"
                        R"("MillisBehindLatest":5})");
      }
      if (n == 1) {
        return Json(200,
                    R"({"Records":[)" + rec("2", "a1") +
                        R"(],"NextShardIterator":"shardId-000000000000/2"})");
      }
      return Json(200, R"({"Records":[]})");  // closed: no next iterator
    }
    if (shard == "shardId-000000000002" && throttle_once_.exchange(false)) {
      return Json(400, R"({"__type":"ProvisionedThroughputExceededException",)"
                       R"("message":"Rate exceeded"})");
    }
    if (n == 0) {
      const std::string data = shard == "shardId-000000000001" ? "b" : "c";
      return Json(200, R"({"Records":[)" + rec(shard.substr(8) + "1", data) +
                           R"(],"NextShardIterator":")" + shard + "/1\"}");
    }
    return Json(200, R"({"Records":[],"NextShardIterator":")" + shard +
                         "/1\",\"MillisBehindLatest\":0}");
  }

  std::atomic<bool> throttle_once_{true};
  http::test::TestServer server_;
};

TEST(Consumer, ReadsParentsBeforeChildrenAndBacksOff) {
  ReshardedKinesis fake;
  auto kinesis = NewKinesisClient(fake.endpoint());
  ConsumerOptions options;
  options.stream = "s";
  options.idle_interval = std::chrono::milliseconds(5);
  options.initial_backoff = std::chrono::milliseconds(5);
  Consumer consumer(kinesis.get(), options);
  std::vector<std::string> seen;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (seen.size() < 4 && std::chrono::steady_clock::now() < until) {
    auto got = consumer.Poll(std::chrono::milliseconds(100));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (const auto& r : *got) seen.push_back(r.shard_id + ":" + r.data);
  }
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0], "shardId-000000000000:a0");
  EXPECT_EQ(seen[1], "shardId-000000000000:a1");
  std::sort(seen.begin() + 2, seen.end());
  EXPECT_EQ(seen[2], "shardId-000000000001:b");
  EXPECT_EQ(seen[3], "shardId-000000000002:c");
  EXPECT_EQ(consumer.FinishedShards(),
            std::vector<std::string>{"shardId-000000000000"});
  auto positions = consumer.Positions();
  EXPECT_EQ(positions["shardId-000000000000"].sequence_number, "2");
  EXPECT_EQ(positions["shardId-000000000000"].at, StartAt::kAfterSequence);
  // Nothing new: Poll waits out its time and returns nothing.
  auto none = consumer.Poll(std::chrono::milliseconds(30));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(Consumer, MissingStreamIsNotFound) {
  http::test::TestServer ts([](Request, Responder respond) {
    respond(Json(400, R"({"__type":"ResourceNotFoundException",)"
                      R"("message":"Stream s not found"})"));
  });
  auto kinesis = NewKinesisClient(EndpointOf(ts));
  ConsumerOptions options;
  options.stream = "s";
  Consumer consumer(kinesis.get(), options);
  EXPECT_EQ(consumer.Poll(std::chrono::milliseconds(10)).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace riffle::client
