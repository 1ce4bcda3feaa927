// Tumbling-window arithmetic and event fields (the processor's behaviour
// is in shard_processor_test.cc).
#include "functions/tumbling_window.h"

#include <gtest/gtest.h>

#include "json/json.h"

namespace riffle::functions {
namespace {

TEST(TumblingWindowTest, WindowsAlignToTheirLength) {
  // 2020-07-30T17:02:03.456Z in a 5-minute window: 17:00 to 17:05.
  const int64_t t = 1596128523456;
  WindowBounds w = WindowOf(t, 300);
  EXPECT_EQ(WindowTimestamp(w.start_ms), "2020-07-30T17:00:00Z");
  EXPECT_EQ(WindowTimestamp(w.end_ms), "2020-07-30T17:05:00Z");
  EXPECT_EQ(WindowOf(w.start_ms, 300).start_ms, w.start_ms);  // inclusive
  EXPECT_EQ(WindowOf(w.end_ms, 300).start_ms, w.end_ms);      // exclusive
  EXPECT_EQ(WindowOf(w.end_ms - 1, 300).start_ms, w.start_ms);
  WindowBounds one = WindowOf(t, 1);
  EXPECT_EQ(one.end_ms - one.start_ms, 1000);
  EXPECT_EQ(WindowOf(-1, 10).start_ms, -10000);
}

TEST(TumblingWindowTest, EventFields) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject().Key("Records").BeginArray().EndArray();
  WriteWindowFields(
      w, {WindowOf(1596128523456, 300), R"({"n":3})", "shardId-000000000006",
          "arn:aws:kinesis:us-east-1:0:stream/s", true, false});
  w.EndObject();
  Result<json::Value> v = json::Parse(out);
  ASSERT_TRUE(v.ok()) << out;
  EXPECT_EQ(v->Find("window")->Find("start")->text(), "2020-07-30T17:00:00Z");
  EXPECT_EQ(v->Find("window")->Find("end")->text(), "2020-07-30T17:05:00Z");
  EXPECT_EQ(v->Find("state")->Find("n")->text(), "3");
  EXPECT_EQ(v->Find("shardId")->text(), "shardId-000000000006");
  EXPECT_EQ(v->Find("eventSourceARN")->text(),
            "arn:aws:kinesis:us-east-1:0:stream/s");
  EXPECT_TRUE(v->Find("isFinalInvokeForWindow")->bool_value());
  EXPECT_FALSE(v->Find("isWindowTerminatedEarly")->bool_value());
}

TEST(TumblingWindowTest, StateOfReply) {
  EXPECT_EQ(StateOfReply(R"({"state": {"a": 1}, "batchItemFailures": []})"),
            R"({"a":1})");
  EXPECT_EQ(StateOfReply(R"({"batchItemFailures": []})"), "{}");
  EXPECT_EQ(StateOfReply(R"({"state": [1]})"), "{}");
  EXPECT_EQ(StateOfReply("null"), "{}");
  EXPECT_EQ(StateOfReply("not json"), "{}");
}

}  // namespace
}  // namespace riffle::functions
