#include "json/json.h"

#include <gtest/gtest.h>

#include "json/writer.h"

namespace riffle::json {
namespace {

TEST(Json, ParsesAndSerializesRoundTrip) {
  auto v = Parse(
      R"( {"a": [1, -2.5e3, true, null], "b": "x\"\u00e9\ud83d\ude00", "c": {}} )");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->Find("a")->items().size(), 4u);
  EXPECT_EQ(v->Find("a")->items()[1].text(), "-2.5e3");
  EXPECT_EQ(v->Find("b")->text(), "x\"\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(Serialize(*v),
            "{\"a\":[1,-2.5e3,true,null],\"b\":"
            "\"x\\\"\xc3\xa9\xf0\x9f\x98\x80\",\"c\":{}}");
}

TEST(Json, KeepsBigNumbersExactly) {
  auto v = Parse("340282366920938463463374607431768211455");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->text(), "340282366920938463463374607431768211455");
  EXPECT_FALSE(v->AsInt64().has_value());
  EXPECT_EQ(Parse("42")->AsInt64(), 42);
  EXPECT_EQ(Parse("1e2")->AsInt64(), 100);
  EXPECT_FALSE(Parse("1.5")->AsInt64().has_value());
}

TEST(Json, RejectsMalformed) {
  for (const char* bad :
       {"", "{", "[1,]", "{\"a\" 1}", "01", "1.", "tru", "\"abc", "\"\\x\"",
        "{} x", "\"\\ud800\"", "-", "[1 2]", "\"a\nb\""}) {
    EXPECT_FALSE(Parse(bad).ok()) << bad;
  }
  std::string deep(1000, '[');
  EXPECT_FALSE(Parse(deep).ok());
}

TEST(Json, DuplicateNamesLastWinsAndManyMembersStayLinear) {
  auto v = Parse(R"({"a": 1, "a": 2})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->Find("a")->text(), "2");
  std::string big = "{";
  for (int i = 0; i < 200000; ++i)
    big += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  big += "}";
  auto parsed = Parse(big);  // would take minutes if each member were checked
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->members().size(), 200000u);
}

TEST(Json, WriterBuildsNestedDocuments) {
  std::string out;
  Writer w(&out);
  w.BeginObject()
      .Key("a")
      .Int(1)
      .Key("b")
      .BeginArray()
      .String("x")
      .Null()
      .BeginObject()
      .EndObject()
      .EndArray()
      .Key("c")
      .Bool(false)
      .Key("d")
      .Base64("hi")
      .Key("e")
      .Int(2)
      .EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":["x",null,{}],"c":false,"d":"aGk=","e":2})");
}

}  // namespace
}  // namespace riffle::json
