#include "http/aws_input.h"

#include <gtest/gtest.h>

namespace riffle::http {
namespace {

json::Value Body(std::string_view text) { return json::Parse(text).value(); }

TEST(AwsInput, CollectsViolationsInAwsWording) {
  json::Value body = Body(R"({"StreamName": "bad name!", "ShardCount": 0})");
  AwsInput in(body);
  const std::string* name = in.String("StreamName");
  in.Pattern("StreamName", name, "[a-zA-Z0-9_.-]+", MatchesNamePattern);
  in.Range("ShardCount", in.Int("ShardCount"), 1, 100);
  in.Required("Tags", in.Map("Tags") != nullptr);
  auto error = in.Error();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->type, "ValidationException");
  EXPECT_EQ(
      error->message,
      "3 validation errors detected: Value 'bad name!' at 'streamName' failed "
      "to "
      "satisfy constraint: Member must satisfy regular expression pattern: "
      "[a-zA-Z0-9_.-]+; Value '0' at 'shardCount' failed to satisfy "
      "constraint: "
      "Member must have value greater than or equal to 1; Value null at 'tags' "
      "failed to satisfy constraint: Member must not be null");
}

TEST(AwsInput, WrongTypeIsASerializationErrorThatWins) {
  json::Value body = Body(R"({"StreamName": 5, "Limit": 0})");
  AwsInput in(body);
  in.Length("StreamName", in.String("StreamName"), 1, 128);
  in.Range("Limit", in.Int("Limit"), 1, 10);
  auto error = in.Error();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->type, "SerializationException");
  EXPECT_TRUE(error->capitalized_message_key);
  EXPECT_EQ(error->message,
            "class java.math.BigDecimal can not be converted to an String");
}

TEST(AwsInput, BlobsAreDecodedAndMeasured) {
  json::Value body = Body(R"({"Data": "aGVsbG8=", "Bad": "abc"})");
  AwsInput in(body);
  auto data = in.Blob("Data");
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(*data, "hello");
  in.BlobLength("Data", data, 0, 4);
  EXPECT_NE(in.Error()->message.find(
                "'java.nio.HeapByteBuffer[pos=0 lim=5 cap=5]' at 'data'"),
            std::string::npos);
  AwsInput bad(body);
  bad.Blob("Bad");
  EXPECT_EQ(bad.Error()->type, "SerializationException");
}

TEST(AwsInput, NestedPathsAndJavaRendering) {
  json::Value body = Body(R"({"Records": [], "Child": {"Key": ""}})");
  AwsInput in(body);
  in.ListLength("Records", in.List("Records"), 1, 500);
  AwsInput child = in.Child(*in.Struct("Child"), "records.1.member");
  child.Length("Key", child.String("Key"), 1, 256);
  EXPECT_EQ(
      in.Error()->message,
      "2 validation errors detected: Value '[]' at 'records' failed to satisfy "
      "constraint: Member must have length greater than or equal to 1; Value "
      "'' at "
      "'records.1.member.key' failed to satisfy constraint: Member must have "
      "length "
      "greater than or equal to 1");
}

TEST(AwsInput, Patterns) {
  EXPECT_TRUE(MatchesDecimalPattern("0", 39));
  EXPECT_TRUE(
      MatchesDecimalPattern("340282366920938463463374607431768211455", 39));
  EXPECT_FALSE(MatchesDecimalPattern("01", 39));
  EXPECT_FALSE(
      MatchesDecimalPattern("1234567890123456789012345678901234567890", 39));
  EXPECT_FALSE(MatchesNamePattern(""));
  EXPECT_TRUE(MatchesNamePattern("a.b-c_9"));
}

}  // namespace
}  // namespace riffle::http
