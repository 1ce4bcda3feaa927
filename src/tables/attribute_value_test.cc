#include "tables/attribute_value.h"

#include <gtest/gtest.h>

#include "tables/attribute_json.h"
#include "tables/item_codec.h"

namespace riffle::tables {
namespace {

AttributeValue FromJson(std::string_view text, WireErrorKind* kind = nullptr) {
  auto j = json::Parse(text);
  EXPECT_TRUE(j.ok()) << text;
  auto v = AttributeValueFromJson(*j, kind);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().ToString();
  return v.ok() ? *v : AttributeValue();
}

TEST(AttributeJsonTest, RoundTrips) {
  struct Case {
    std::string_view in, out;
  } cases[] = {
      {R"({"S":"hello"})", R"({"S":"hello"})"},
      {R"({"S":""})", R"({"S":""})"},
      {R"({"N":"001.50"})", R"({"N":"1.5"})"},
      {R"({"B":"aGk="})", R"({"B":"aGk="})"},
      {R"({"BOOL":false})", R"({"BOOL":false})"},
      {R"({"BOOL":"yes"})", R"({"BOOL":true})"},
      {R"({"NULL":true})", R"({"NULL":true})"},
      {R"({"SS":["b","a",""]})", R"({"SS":["","a","b"]})"},
      {R"({"NS":["10","-1","2.50"]})", R"({"NS":["-1","2.5","10"]})"},
      {R"({"BS":["Yg==","YQ=="]})", R"({"BS":["YQ==","Yg=="]})"},
      {R"({"L":[{"S":"x"},{"N":"1"},{"L":[]}]})",
       R"({"L":[{"S":"x"},{"N":"1"},{"L":[]}]})"},
      {R"({"M":{"b":{"N":"2"},"a":{"M":{}}}})",
       R"({"M":{"a":{"M":{}},"b":{"N":"2"}}})"},
      // Null members and unknown members are ignored, as Coral does.
      {R"({"S":"x","N":null})", R"({"S":"x"})"},
      {R"({"S":"x","X":"y"})", R"({"S":"x"})"},
  };
  for (const auto& c : cases) {
    AttributeValue v = FromJson(c.in);
    EXPECT_EQ(AttributeValueToJson(v), c.out) << c.in;
    // And through the stored encoding.
    std::string stored;
    EncodeValue(v, &stored);
    std::string_view in = stored;
    AttributeValue back;
    ASSERT_TRUE(DecodeValue(&in, &back)) << c.in;
    EXPECT_TRUE(in.empty());
    EXPECT_EQ(back, v) << c.in;
  }
}

TEST(AttributeJsonTest, ValidationErrors) {
  const std::string invalid = "One or more parameter values were invalid: ";
  struct Case {
    std::string_view in;
    std::string message;
  } cases[] = {
      {R"({})",
       "Supplied AttributeValue is empty, must contain exactly one of the "
       "supported datatypes"},
      {R"({"S":null})",
       "Supplied AttributeValue is empty, must contain exactly one of the "
       "supported datatypes"},
      {R"({"S":"a","N":"1"})",
       "Supplied AttributeValue has more than one datatypes set, must contain "
       "exactly one of "
       "the supported datatypes"},
      {R"({"N":"x"})",
       "The parameter cannot be converted to a numeric value: x"},
      {R"({"N":""})", "The parameter cannot be converted to a numeric value"},
      {R"({"N":"1e126"})",
       "Number overflow. Attempting to store a number with magnitude larger "
       "than supported "
       "range"},
      {R"({"NULL":false})",
       invalid + "Null attribute value types must have the value of true"},
      {R"({"SS":[]})", invalid + "An string set  may not be empty"},
      {R"({"NS":[]})", invalid + "An number set  may not be empty"},
      {R"({"BS":[]})", invalid + "Binary sets should not be empty"},
      {R"({"SS":["a","b","a"]})",
       invalid + "Input collection [a, b, a] contains duplicates."},
      {R"({"NS":["1","1.0"]})", "Input collection contains duplicates"},
      {R"({"BS":["YQ==","YQ=="]})",
       invalid +
           "Input collection [YQ==, YQ==]of type BS contains duplicates."},
      {R"({"NS":["1","x"]})",
       "The parameter cannot be converted to a numeric value: x"},
      {R"({"L":[{"S":"a"},{}]})",
       "Supplied AttributeValue is empty, must contain exactly one of the "
       "supported datatypes"},
      {R"({"M":{"a":{"NS":[]}}})", invalid + "An number set  may not be empty"},
  };
  for (const auto& c : cases) {
    auto j = json::Parse(c.in);
    ASSERT_TRUE(j.ok());
    WireErrorKind kind = WireErrorKind::kSerialization;
    auto v = AttributeValueFromJson(*j, &kind);
    ASSERT_FALSE(v.ok()) << c.in;
    EXPECT_EQ(kind, WireErrorKind::kValidation) << c.in;
    EXPECT_EQ(v.status().message(), c.message) << c.in;
  }
}

TEST(AttributeJsonTest, SerializationErrors) {
  const std::string big =
      "class com.amazon.coral.value.json.numbers.TruncatingBigNumber";
  struct Case {
    std::string_view in;
    std::string message;
  } cases[] = {
      {R"({"S":5})", big + " can not be converted to an String"},
      {R"({"S":true})",
       "class java.lang.Boolean can not be converted to an String"},
      {R"({"S":[]})", "Start of list found where not expected"},
      {R"({"S":{}})", "Start of structure or map found where not expected."},
      {R"({"N":1})", big + " can not be converted to an String"},
      {R"({"BOOL":"maybe"})", "'MAYBE' can not be converted to an Boolean"},
      {R"({"NULL":1})", big + " can not be converted to an Boolean"},
      {R"({"B":"abc"})",
       "'abc' can not be converted to a Blob: Base64 encoded length is "
       "expected a multiple of "
       "4 bytes but found: 3"},
      {R"({"B":"ab!d"})",
       "'ab!d' can not be converted to a Blob: Invalid Base64 character: '!'"},
      {R"({"B":"YR=="})",
       "'YR==' can not be converted to a Blob: Invalid last non-pad Base64 "
       "character dectected"},
      {R"({"SS":"a"})", "Expected list or null"},
      {R"({"SS":{}})", "Start of structure or map found where not expected."},
      {R"({"SS":[1]})", big + " can not be converted to an String"},
      {R"({"M":[]})", "Start of list found where not expected"},
      {R"({"M":"x"})", "Expected map or null"},
      {R"({"L":[5]})", "Expected null"},
      {R"({"L":[[]]})", "Start of list found where not expected"},
      {R"([])", "Start of list found where not expected"},
      // Shape errors win over validation errors anywhere in the value.
      {R"({"L":[{"NS":[]},{"S":1}]})",
       big + " can not be converted to an String"},
  };
  for (const auto& c : cases) {
    auto j = json::Parse(c.in);
    ASSERT_TRUE(j.ok());
    WireErrorKind kind = WireErrorKind::kValidation;
    auto v = AttributeValueFromJson(*j, &kind);
    ASSERT_FALSE(v.ok()) << c.in;
    EXPECT_EQ(kind, WireErrorKind::kSerialization) << c.in;
    EXPECT_EQ(v.status().message(), c.message) << c.in;
  }
}

TEST(AttributeJsonTest, Items) {
  auto j = json::Parse(
      R"({"pk":{"S":"a"},"n":{"N":"1"},"m":{"M":{"x":{"BOOL":true}}}})");
  ASSERT_TRUE(j.ok());
  auto item = ItemFromJson(*j);
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->size(), 3u);
  EXPECT_EQ(ItemToJson(*item),
            R"({"m":{"M":{"x":{"BOOL":true}}},"n":{"N":"1"},"pk":{"S":"a"}})");

  std::string stored;
  EncodeItem(*item, &stored);
  auto back = DecodeItem(stored);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *item);

  // Every truncation of a record is rejected, never misread.
  for (size_t n = 0; n < stored.size(); ++n) {
    EXPECT_FALSE(DecodeItem(std::string_view(stored).substr(0, n)).ok()) << n;
  }
  EXPECT_FALSE(DecodeItem(stored + "x").ok());
}

TEST(AttributeValueTest, EqualityIsDynamoDbs) {
  EXPECT_EQ(FromJson(R"({"N":"1"})"), FromJson(R"({"N":"1.00"})"));
  EXPECT_EQ(FromJson(R"({"SS":["a","b"]})"), FromJson(R"({"SS":["b","a"]})"));
  EXPECT_NE(FromJson(R"({"S":"1"})"), FromJson(R"({"N":"1"})"));
  EXPECT_NE(FromJson(R"({"L":[{"S":"a"},{"S":"b"}]})"),
            FromJson(R"({"L":[{"S":"b"},{"S":"a"}]})"));
  AttributeValue m = FromJson(R"({"M":{"a":{"L":[{"N":"1"}]}}})");
  AttributeValue copy = m;  // deep copy
  copy.map()["a"].list().push_back(AttributeValue::Null());
  EXPECT_NE(copy, m);
  EXPECT_EQ(m.map().at("a").list().size(), 1u);
}

TEST(AttributeValueTest, ItemSizeFollowsDynamoDbRules) {
  struct Case {
    std::string_view item;
    size_t size;
  } cases[] = {
      {R"({"a":{"S":"hello"}})", 1 + 5},
      {R"({"ab":{"N":"123"}})", 2 + 3},
      {R"({"a":{"B":"aGk="}})", 1 + 2},
      {R"({"a":{"BOOL":true},"b":{"NULL":true}})", 2 + 1 + 1},
      {R"({"a":{"SS":["x","yz"]}})", 1 + 3},
      {R"({"a":{"L":[]}})", 1 + 3},
      {R"({"a":{"L":[{"S":"xy"},{"N":"1"}]}})", 1 + 3 + (1 + 2) + (1 + 2)},
      {R"({"a":{"M":{"k":{"S":"v"}}}})", 1 + 3 + (1 + 1 + 1)},
      {R"({"é":{"S":"é"}})", 2 + 2},  // UTF-8 bytes
  };
  for (const auto& c : cases) {
    auto j = json::Parse(c.item);
    ASSERT_TRUE(j.ok());
    auto item = ItemFromJson(*j);
    ASSERT_TRUE(item.ok());
    EXPECT_EQ(ItemSize(*item), c.size) << c.item;
  }
}

// Key encodings sort exactly as DynamoDB orders key values, and they
// concatenate: (partition, sort) pairs sort by partition first.
TEST(KeyEncodingTest, OrderPreservingForStringsAndBinaries) {
  std::vector<std::string> ordered = {"",
                                      std::string("\0", 1),
                                      std::string("\0\0", 2),
                                      std::string("\0\x01", 2),
                                      "\x01",
                                      "a",
                                      std::string("a\0", 2),
                                      "a\x01",
                                      "ab",
                                      "b",
                                      "\x7f",
                                      "\x80",
                                      "\xc3\xa9",
                                      "\xff",
                                      "\xff\xff"};
  for (AttributeType type : {AttributeType::kS, AttributeType::kB}) {
    std::vector<std::string> enc;
    for (const auto& s : ordered) {
      AttributeValue v = type == AttributeType::kS ? AttributeValue::S(s)
                                                   : AttributeValue::B(s);
      std::string e;
      EncodeKeyValue(v, &e);
      std::string_view in = e;
      AttributeValue back;
      ASSERT_TRUE(DecodeKeyValue(&in, type, &back));
      EXPECT_TRUE(in.empty());
      EXPECT_EQ(back, v);
      enc.push_back(e);
    }
    for (size_t i = 0; i < enc.size(); ++i) {
      for (size_t j = 0; j < enc.size(); ++j) {
        EXPECT_EQ(enc[i] < enc[j], i < j) << i << " " << j;
        auto a = type == AttributeType::kS ? AttributeValue::S(ordered[i])
                                           : AttributeValue::B(ordered[i]);
        auto b = type == AttributeType::kS ? AttributeValue::S(ordered[j])
                                           : AttributeValue::B(ordered[j]);
        EXPECT_EQ(CompareKeyValues(a, b) < 0, i < j);
      }
    }
  }
}

TEST(KeyEncodingTest, CompositeKeysSortByPartitionThenSort) {
  std::vector<std::pair<std::string, std::string>> ordered = {
      {"a", "-5"},     {"a", "0"},  {"a", "7"},      {"a", "10"}, {"a", "1e20"},
      {"ab", "-1e20"}, {"ab", "1"}, {"b", "-0.001"}, {"b", "3"}};
  std::vector<std::string> enc;
  for (const auto& [p, s] : ordered) {
    std::string e;
    EncodeKeyValue(AttributeValue::S(p), &e);
    EncodeKeyValue(AttributeValue::N(*Number::Parse(s)), &e);
    enc.push_back(e);
  }
  for (size_t i = 1; i < enc.size(); ++i) EXPECT_LT(enc[i - 1], enc[i]) << i;
  // Decoding a composite key walks both parts.
  std::string_view in = enc[3];
  AttributeValue p, s;
  ASSERT_TRUE(DecodeKeyValue(&in, AttributeType::kS, &p));
  ASSERT_TRUE(DecodeKeyValue(&in, AttributeType::kN, &s));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(p.bytes(), "a");
  EXPECT_EQ(s.number().ToString(), "10");
}

TEST(ItemCodecTest, DeepNestingIsBoundedOnDecode) {
  std::string deep;
  for (int i = 0; i < 1000; ++i) {
    deep.push_back(static_cast<char>(AttributeType::kL));
    deep.push_back(1);
  }
  deep.push_back(static_cast<char>(AttributeType::kNull));
  std::string_view in = deep;
  AttributeValue v;
  EXPECT_FALSE(DecodeValue(&in, &v));
}

}  // namespace
}  // namespace riffle::tables
