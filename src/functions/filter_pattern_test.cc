// FilterPattern: a table of patterns and records with the expected verdict,
// and the patterns Lambda refuses.
#include "functions/filter_pattern.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace riffle::functions {
namespace {

struct MatchCase {
  const char* pattern;
  const char* record;
  bool match;
};

// The record documents look like FilterView's (kinesis metadata, data).
const MatchCase kMatchCases[] = {
    // Exact values: strings, numbers by value, booleans, null.
    {R"({"data": {"type": ["payment"]}})", R"({"data": {"type": "payment"}})",
     true},
    {R"({"data": {"type": ["payment"]}})", R"({"data": {"type": "refund"}})",
     false},
    {R"({"data": {"type": ["payment", "refund"]}})",
     R"({"data": {"type": "refund"}})", true},
    {R"({"data": {"n": [5]}})", R"({"data": {"n": 5.0}})", true},
    {R"({"data": {"n": [5]}})", R"({"data": {"n": "5"}})", false},
    {R"({"data": {"ok": [true]}})", R"({"data": {"ok": true}})", true},
    {R"({"data": {"ok": [true]}})", R"({"data": {"ok": "true"}})", false},
    {R"({"data": {"v": [null]}})", R"({"data": {"v": null}})", true},
    {R"({"data": {"v": [null]}})", R"({"data": {}})", false},
    {R"({"data": {"v": [""]}})", R"({"data": {"v": ""}})", true},
    // Every key must match.
    {R"({"data": {"a": ["x"], "b": ["y"]}})",
     R"({"data": {"a": "x", "b": "y"}})", true},
    {R"({"data": {"a": ["x"], "b": ["y"]}})",
     R"({"data": {"a": "x", "b": "z"}})", false},
    // Arrays in the record: any element.
    {R"({"data": {"tags": ["red"]}})", R"({"data": {"tags": ["blue", "red"]}})",
     true},
    {R"({"data": {"tags": ["red"]}})", R"({"data": {"tags": ["blue"]}})",
     false},
    {R"({"data": {"items": {"sku": ["A1"]}}})",
     R"({"data": {"items": [{"sku": "B2"}, {"sku": "A1"}]}})", true},
    // prefix / suffix, also case-insensitive.
    {R"({"data": {"id": [{"prefix": "AB"}]}})", R"({"data": {"id": "AB123"}})",
     true},
    {R"({"data": {"id": [{"prefix": "AB"}]}})", R"({"data": {"id": "ab123"}})",
     false},
    {R"({"data": {"id": [{"prefix": {"equals-ignore-case": "AB"}}]}})",
     R"({"data": {"id": "ab123"}})", true},
    {R"({"data": {"id": [{"prefix": "AB"}]}})", R"({"data": {"id": 12}})",
     false},
    {R"({"data": {"f": [{"suffix": ".png"}]}})", R"({"data": {"f": "a.png"}})",
     true},
    {R"({"data": {"f": [{"suffix": ".png"}]}})", R"({"data": {"f": "a.jpg"}})",
     false},
    {R"({"data": {"f": [{"suffix": {"equals-ignore-case": ".PNG"}}]}})",
     R"({"data": {"f": "a.png"}})", true},
    // equals-ignore-case, wildcard.
    {R"({"data": {"c": [{"equals-ignore-case": "EUR"}]}})",
     R"({"data": {"c": "eur"}})", true},
    {R"({"data": {"c": [{"equals-ignore-case": "EUR"}]}})",
     R"({"data": {"c": "euro"}})", false},
    {R"({"data": {"k": [{"wildcard": "user-*-eu"}]}})",
     R"({"data": {"k": "user-42-eu"}})", true},
    {R"({"data": {"k": [{"wildcard": "user-*-eu"}]}})",
     R"({"data": {"k": "user-42-us"}})", false},
    // anything-but: a value, a list, a prefix; a missing field never.
    {R"({"data": {"s": [{"anything-but": "done"}]}})",
     R"({"data": {"s": "open"}})", true},
    {R"({"data": {"s": [{"anything-but": "done"}]}})",
     R"({"data": {"s": "done"}})", false},
    {R"({"data": {"s": [{"anything-but": ["done", "gone"]}]}})",
     R"({"data": {"s": "gone"}})", false},
    {R"({"data": {"s": [{"anything-but": {"prefix": "tmp"}}]}})",
     R"({"data": {"s": "tmp-1"}})", false},
    {R"({"data": {"s": [{"anything-but": {"prefix": "tmp"}}]}})",
     R"({"data": {"s": "keep"}})", true},
    {R"({"data": {"s": [{"anything-but": {"equals-ignore-case": ["A"]}}]}})",
     R"({"data": {"s": "a"}})", false},
    {R"({"data": {"s": [{"anything-but": "done"}]}})", R"({"data": {}})",
     false},
    {R"({"data": {"n": [{"anything-but": [1, 2]}]}})", R"({"data": {"n": 3}})",
     true},
    // numeric ranges: numbers only.
    {R"({"data": {"amount": [{"numeric": [">", 100]}]}})",
     R"({"data": {"amount": 150.5}})", true},
    {R"({"data": {"amount": [{"numeric": [">", 100]}]}})",
     R"({"data": {"amount": 100}})", false},
    {R"({"data": {"amount": [{"numeric": [">=", 0, "<", 10]}]}})",
     R"({"data": {"amount": 0}})", true},
    {R"({"data": {"amount": [{"numeric": [">=", 0, "<", 10]}]}})",
     R"({"data": {"amount": 10}})", false},
    {R"({"data": {"amount": [{"numeric": ["=", 3e2]}]}})",
     R"({"data": {"amount": 300}})", true},
    {R"({"data": {"amount": [{"numeric": [">", 1]}]}})",
     R"({"data": {"amount": "5"}})", false},
    // exists.
    {R"({"data": {"email": [{"exists": true}]}})",
     R"({"data": {"email": "a@b"}})", true},
    {R"({"data": {"email": [{"exists": true}]}})", R"({"data": {}})", false},
    {R"({"data": {"email": [{"exists": false}]}})", R"({"data": {}})", true},
    {R"({"data": {"email": [{"exists": false}]}})",
     R"({"data": {"email": "a@b"}})", false},
    // OR within one field, and $or across fields.
    {R"({"data": {"n": [{"numeric": ["<", 0]}, {"numeric": [">", 100]}]}})",
     R"({"data": {"n": -1}})", true},
    {R"({"data": {"$or": [{"a": ["x"]}, {"b": ["y"]}]}})",
     R"({"data": {"b": "y"}})", true},
    {R"({"data": {"$or": [{"a": ["x"]}, {"b": ["y"]}]}})",
     R"({"data": {"b": "n"}})", false},
    // Metadata: partition key and the other event fields.
    {R"({"kinesis": {"partitionKey": [{"prefix": "eu-"}]}})",
     R"({"kinesis": {"partitionKey": "eu-1"}, "data": 1})", true},
    {R"({"kinesis": {"partitionKey": ["us"]}})",
     R"({"kinesis": {"partitionKey": "eu"}})", false},
    {R"({"eventSource": ["aws:kinesis"]})", R"({"eventSource": "aws:kinesis"})",
     true},
    // A pattern on data never matches a record whose data is not JSON.
    {R"({"data": {"a": ["x"]}})", R"({"kinesis": {"partitionKey": "p"}})",
     false},
    {R"({"data": [{"exists": false}]})", R"({"kinesis": {}})", true},
    // data itself a scalar.
    {R"({"data": [42]})", R"({"data": 42})", true},
    // A nested pattern against a scalar does not match.
    {R"({"data": {"a": {"b": ["x"]}}})", R"({"data": {"a": "x"}})", false},
};

TEST(FilterPatternTest, MatchTable) {
  for (const MatchCase& c : kMatchCases) {
    Result<FilterPattern> p = FilterPattern::Parse(c.pattern);
    ASSERT_TRUE(p.ok()) << c.pattern << ": " << p.status().ToString();
    Result<json::Value> record = json::Parse(c.record);
    ASSERT_TRUE(record.ok()) << c.record;
    EXPECT_EQ(p->Matches(*record), c.match)
        << "pattern " << c.pattern << " record " << c.record;
  }
}

TEST(FilterPatternTest, RefusesInvalidPatterns) {
  const char* kInvalid[] = {
      "",
      "not json",
      "[]",
      "{}",
      R"({"data": "x"})",
      R"({"data": []})",
      R"({"data": {"a": "x"}})",
      R"({"data": {"a": [{"unknown-op": 1}]}})",
      R"({"data": {"a": [{"prefix": 1}]}})",
      R"({"data": {"a": [{"prefix": "a", "suffix": "b"}]}})",
      R"({"data": {"a": [{"numeric": [">"]}]}})",
      R"({"data": {"a": [{"numeric": ["!", 1]}]}})",
      R"({"data": {"a": [{"numeric": [">", 1, ">", 2]}]}})",
      R"({"data": {"a": [{"numeric": [">", "1"]}]}})",
      R"({"data": {"a": [{"numeric": ["=", 1, "<", 2]}]}})",
      R"({"data": {"a": [{"exists": "yes"}]}})",
      R"({"data": {"a": [{"anything-but": []}]}})",
      R"({"data": {"a": [{"anything-but": {"numeric": [">", 1]}}]}})",
      R"({"data": {"a": [{"wildcard": "a**b"}]}})",
      R"({"data": {"a": [{"equals-ignore-case": 5}]}})",
      R"({"$or": [{"a": ["x"]}]})",
      R"({"data": {"a": [["nested"]]}})",
  };
  for (const char* pattern : kInvalid) {
    Result<FilterPattern> p = FilterPattern::Parse(pattern);
    ASSERT_FALSE(p.ok()) << pattern;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(p.status().message(), "Invalid filter pattern definition.");
  }
  EXPECT_FALSE(FilterPattern::Parse(std::string(4097, ' ')).ok());
}

TEST(FilterSetTest, AnyPatternMatchesAndEmptyMatchesAll) {
  Result<FilterSet> none = FilterSet::Parse({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->Matches(*json::Parse("{}")));

  Result<FilterSet> set = FilterSet::Parse(
      {R"({"data": {"a": ["x"]}})", R"({"data": {"b": ["y"]}})"});
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->Matches(*json::Parse(R"({"data": {"a": "x"}})")));
  EXPECT_TRUE(set->Matches(*json::Parse(R"({"data": {"b": "y"}})")));
  EXPECT_FALSE(set->Matches(*json::Parse(R"({"data": {"c": "z"}})")));

  std::vector<std::string> six(6, R"({"data": [1]})");
  EXPECT_EQ(FilterSet::Parse(six).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace riffle::functions
