// The remote backend against a scripted AWS endpoint that behaves as AWS
// does and riffle does not: resources pass through CREATING/UPDATING and
// Pending before they are usable, and UpdateShardCount scales by at most a
// factor of two per call. Apply must wait and step accordingly.
#include "app/remote_stack_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>

#include "gtest/gtest.h"
#include "http/test_util.h"
#include "json/json.h"

namespace riffle::app {
namespace {

// A Kinesis and Lambda endpoint whose every change takes `busy_polls`
// describes to settle. Thread-safe (the server calls it from its pool).
class SlowAws {
 public:
  http::Response Handle(const http::Request& req) {
    std::lock_guard l(mu_);
    http::Response r;
    r.SetHeader("content-type", "application/json");
    const std::string* target = req.FindHeader("x-amz-target");
    std::string op = target ? target->substr(target->find('.') + 1)
                            : req.method + " " + req.path;
    calls.push_back(op);
    auto body = json::Parse(req.body.empty() ? "{}" : req.body);
    if (op == "CreateStream") {
      shards_ = static_cast<int>(*body->Find("ShardCount")->AsInt64());
      busy_ = kBusyPolls;
      r.body = "{}";
    } else if (op == "UpdateShardCount") {
      int target_count =
          static_cast<int>(*body->Find("TargetShardCount")->AsInt64());
      if (target_count > shards_ * 2 || target_count * 2 < shards_) {
        r.status = 400;
        r.body = R"({"__type":"ValidationException","message":"too far"})";
        return r;
      }
      if (busy_ > 0) {
        r.status = 400;
        r.body = R"({"__type":"ResourceInUseException","message":"busy"})";
        return r;
      }
      shards_ = target_count;
      busy_ = kBusyPolls;
      r.body = "{}";
    } else if (op == "DescribeStreamSummary") {
      std::string status = busy_ > 0 ? "UPDATING" : "ACTIVE";
      if (busy_ > 0) --busy_;
      r.body = fmt::format(
          R"({{"StreamDescriptionSummary":{{"StreamName":"s","StreamARN":"arn:s","StreamStatus":"{}","OpenShardCount":{},"RetentionPeriodHours":24,"StreamModeDetails":{{"StreamMode":"PROVISIONED"}}}}}})",
          status, shards_);
    } else if (op == "POST /2015-03-31/functions") {
      function_busy_ = kBusyPolls;
      r.status = 201;
      r.body = "{}";
    } else if (op == "GET /2015-03-31/functions/f/configuration") {
      std::string state = function_busy_ > 0 ? "Pending" : "Active";
      if (function_busy_ > 0) --function_busy_;
      r.body = fmt::format(
          R"({{"FunctionName":"f","State":"{}","LastUpdateStatus":"Successful"}})",
          state);
    } else if (op == "POST /2015-03-31/event-source-mappings" ||
               op == "PUT /2015-03-31/event-source-mappings/u-1") {
      mapping_bodies.push_back(req.body);
      // Lambda's own reply: every option, FilterCriteria as it was sent.
      json::Value m = *body;
      m.Set("UUID", json::Value::String("u-1"));
      m.Set("State", json::Value::String("Enabled"));
      m.Set("EventSourceArn", json::Value::String("arn:s"));
      mapping_ = json::Serialize(m);
      r.status = 202;
      r.body = mapping_;
    } else if (op == "GET /2015-03-31/event-source-mappings/u-1") {
      r.body = mapping_;
    } else if (op == "GET /2015-03-31/event-source-mappings") {
      r.body = R"({"EventSourceMappings":[)" + mapping_ + "]}";
    } else {
      r.status = 404;
      r.body = R"({"__type":"ResourceNotFoundException","message":"no"})";
    }
    return r;
  }

  static constexpr int kBusyPolls = 2;
  std::vector<std::string> calls;
  std::vector<std::string> mapping_bodies;  // Create-, then Update-

 private:
  std::mutex mu_;
  int shards_ = 0;
  int busy_ = 0;
  int function_busy_ = 0;
  std::string mapping_;  // the one mapping, as Get- shows it
};

class RemoteStackBackendTest : public ::testing::Test {
 protected:
  RemoteStackBackendTest()
      : server_([this](http::Request req, http::Responder respond) {
          respond(aws_.Handle(req));
        }) {}

  RemoteStackBackend Backend() {
    std::string url = "http://127.0.0.1:" + std::to_string(server_.port());
    RemoteTargets t;
    t.aws = *client::ParseAwsEndpoint(url);
    t.registry = *http::ParseUrl(url);
    t.http = *http::ParseUrl(url);
    t.aws_url = t.registry_url = t.http_url = url;
    t.wait_timeout = std::chrono::seconds(10);
    return RemoteStackBackend(std::move(t));
  }
  int Count(const std::string& op) {
    return static_cast<int>(
        std::count(aws_.calls.begin(), aws_.calls.end(), op));
  }

  SlowAws aws_;
  http::test::TestServer server_;
};

TEST_F(RemoteStackBackendTest, WaitsForStreamsAndStepsShardCounts) {
  RemoteStackBackend backend = Backend();
  StackStream s;
  s.name = "s";
  s.shards = 2;
  ASSERT_TRUE(backend.CreateStream(s).ok());
  // Polled until ACTIVE: two UPDATING answers, then ACTIVE.
  EXPECT_EQ(Count("DescribeStreamSummary"), SlowAws::kBusyPolls + 1);
  // 2 -> 10 goes 4, 8, 10, each step waited for (the endpoint refuses a
  // change while one is in progress, and more than doubling).
  Status st = backend.UpdateShardCount("s", 10);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Count("UpdateShardCount"), 3);
  auto d = backend.DescribeStream("s");
  ASSERT_TRUE(d.ok() && *d);
  EXPECT_EQ((*d)->open_shards, 10);
  // And down: 10 -> 3 goes 5, 3.
  ASSERT_TRUE(backend.UpdateShardCount("s", 3).ok());
  EXPECT_EQ(Count("UpdateShardCount"), 5);
}

TEST_F(RemoteStackBackendTest, WaitsForFunctionsToBecomeActive) {
  RemoteStackBackend backend = Backend();
  functions::FunctionConfig c;
  c.name = "f";
  c.runtime = "provided.al2";
  Status st = backend.CreateFunction(c, nullptr);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Count("GET /2015-03-31/functions/f/configuration"),
            SlowAws::kBusyPolls + 1);
}

// Every option a stack sets travels in Lambda's names, and FindMapping
// reads each back, so that a second apply compares like with like.
TEST_F(RemoteStackBackendTest, MappingOptionsGoAndComeBack) {
  RemoteStackBackend backend = Backend();
  functions::MappingConfig m;
  m.function_name = "f";
  m.event_source_arn = "arn:s";
  m.starting_position = functions::StartingPosition::kAtTimestamp;
  m.starting_position_timestamp_ms = 1714564800500;
  m.tumbling_window_seconds = 120;
  m.filter_patterns = {R"({"data":{"kind":["payment"]}})"};
  m.on_failure_destination = "arn:dlq";
  auto uuid = backend.CreateMapping(m);
  ASSERT_TRUE(uuid.ok()) << uuid.status().message();
  EXPECT_EQ(*uuid, "u-1");
  ASSERT_EQ(aws_.mapping_bodies.size(), 1u);
  auto sent = json::Parse(aws_.mapping_bodies[0]);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->Find("StartingPosition")->text(), "AT_TIMESTAMP");
  EXPECT_EQ(*sent->Find("StartingPositionTimestamp")->AsDouble(), 1714564800.5);
  EXPECT_EQ(*sent->Find("TumblingWindowInSeconds")->AsInt64(), 120);
  EXPECT_EQ(
      json::Serialize(*sent->Find("FilterCriteria")),
      R"({"Filters":[{"Pattern":"{\"data\":{\"kind\":[\"payment\"]}}"}]})");

  auto found = backend.FindMapping("f", "arn:s");
  ASSERT_TRUE(found.ok() && *found);
  EXPECT_EQ((*found)->uuid, "u-1");
  EXPECT_EQ((*found)->tumbling_window_seconds, 120);
  EXPECT_EQ((*found)->filter_patterns, m.filter_patterns);
  EXPECT_EQ((*found)->on_failure_destination, "arn:dlq");
  EXPECT_EQ((*found)->starting_position,
            functions::StartingPosition::kAtTimestamp);
  EXPECT_EQ((*found)->starting_position_timestamp_ms, 1714564800500);

  // An update without filters clears them the way Lambda takes it:
  // FilterCriteria {}.
  m.uuid = "u-1";
  m.filter_patterns.clear();
  m.tumbling_window_seconds = 0;
  ASSERT_TRUE(backend.UpdateMapping(m).ok());
  ASSERT_EQ(aws_.mapping_bodies.size(), 2u);
  auto update = json::Parse(aws_.mapping_bodies[1]);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(json::Serialize(*update->Find("FilterCriteria")), "{}");
  EXPECT_EQ(*update->Find("TumblingWindowInSeconds")->AsInt64(), 0);
  EXPECT_EQ(update->Find("StartingPosition"), nullptr);
  found = backend.FindMapping("f", "arn:s");
  ASSERT_TRUE(found.ok() && *found);
  EXPECT_TRUE((*found)->filter_patterns.empty());
}

TEST_F(RemoteStackBackendTest, AbsentIsNulloptNotAnError) {
  RemoteStackBackend backend = Backend();
  auto f = backend.GetFunction("nope");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_FALSE(f->has_value());
}

}  // namespace
}  // namespace riffle::app
