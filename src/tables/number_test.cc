#include "tables/number.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace riffle::tables {
namespace {

Number N(std::string_view s) {
  auto n = Number::Parse(s);
  EXPECT_TRUE(n.ok()) << s << ": " << n.status().ToString();
  return n.ok() ? *n : Number();
}

TEST(NumberTest, ParseAndNormalise) {
  struct Case {
    std::string_view in;
    std::string out;
  } cases[] = {
      {"0", "0"},
      {"-0", "0"},
      {"0.000", "0"},
      {"0e99999", "0"},
      {"00012.3400", "12.34"},
      {"+5", "5"},
      {".5", "0.5"},
      {"5.", "5"},
      {"-.5e1", "-5"},
      {"1e3", "1000"},
      {"1E+3", "1000"},
      {"1.5e-3", "0.0015"},
      {"-123.456", "-123.456"},
      {"12345678901234567890123456789012345678",
       "12345678901234567890123456789012345678"},
      {"1234567890123456789012345678901234567800000",
       "1234567890123456789012345678901234567800000"},
      {"9.9999999999999999999999999999999999999e125",
       std::string(38, '9') + std::string(88, '0')},
      {"1e-130", "0." + std::string(129, '0').append("1")},
      {"-1e-130", "-0." + std::string(129, '0').append("1")},
  };
  for (const auto& c : cases) {
    auto n = Number::Parse(c.in);
    ASSERT_TRUE(n.ok()) << c.in << ": " << n.status().ToString();
    EXPECT_EQ(n->ToString(), c.out) << c.in;
    // The output parses back to the same number.
    EXPECT_EQ(N(n->ToString()), *n);
  }
}

TEST(NumberTest, ParseErrorsInDynamoDbWording) {
  const std::string overflow =
      "Number overflow. Attempting to store a number with magnitude larger "
      "than supported "
      "range";
  const std::string underflow =
      "Number underflow. Attempting to store a number with magnitude smaller "
      "than supported "
      "range";
  const std::string digits =
      "Attempting to store more than 38 significant digits in a Number";
  struct Case {
    std::string_view in;
    std::string message;
  } cases[] = {
      {"", "The parameter cannot be converted to a numeric value"},
      {"abc", "The parameter cannot be converted to a numeric value: abc"},
      {"1x", "The parameter cannot be converted to a numeric value: 1x"},
      {"1e", "The parameter cannot be converted to a numeric value: 1e"},
      {".", "The parameter cannot be converted to a numeric value: ."},
      {"--1", "The parameter cannot be converted to a numeric value: --1"},
      {" 1", "The parameter cannot be converted to a numeric value:  1"},
      {"NaN", "The parameter cannot be converted to a numeric value: NaN"},
      {"Infinity",
       "The parameter cannot be converted to a numeric value: Infinity"},
      {"1e126", overflow},
      {"-1e126", overflow},
      {"10e125", overflow},
      {"1e99999999999999", overflow},
      {"1e-131", underflow},
      {"-0.1e-130", underflow},
      {"123456789012345678901234567890123456789", digits},
      {"-1.23456789012345678901234567890123456789", digits},
  };
  for (const auto& c : cases) {
    auto n = Number::Parse(c.in);
    ASSERT_FALSE(n.ok()) << c.in;
    EXPECT_EQ(n.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(n.status().message(), c.message) << c.in;
  }
}

TEST(NumberTest, ExactArithmetic) {
  struct Case {
    std::string_view a, b, sum, difference;
  } cases[] = {
      {"0.1", "0.2", "0.3", "-0.1"},
      {"1", "-1", "0", "2"},
      {"999", "1", "1000", "998"},
      {"-5", "3", "-2", "-8"},
      {"1e100", "1",
       "10000000000000000000000000000000000000000000000000000000000000000000000"
       "000"
       "000000000000000000000000001",
       "99999999999999999999999999999999999999999999999999999999999999999999999"
       "99999999999"
       "999999999999999999"},
      {"12345678901234567890123456789012345678", "0",
       "12345678901234567890123456789012345678",
       "12345678901234567890123456789012345678"},
      {"0.000001", "-0.0000005", "0.0000005", "0.0000015"},
  };
  for (const auto& c : cases) {
    auto sum = Number::Add(N(c.a), N(c.b));
    auto diff = Number::Subtract(N(c.a), N(c.b));
    if (c.sum.size() > 100) {
      // 1e100 + 1 needs 101 digits: DynamoDB refuses it.
      EXPECT_FALSE(sum.ok());
      EXPECT_FALSE(diff.ok());
      continue;
    }
    ASSERT_TRUE(sum.ok()) << c.a << "+" << c.b;
    ASSERT_TRUE(diff.ok()) << c.a << "-" << c.b;
    EXPECT_EQ(sum->ToString(), c.sum) << c.a << "+" << c.b;
    EXPECT_EQ(diff->ToString(), c.difference) << c.a << "-" << c.b;
  }
  // Overflow and precision limits apply to results.
  auto big =
      Number::Add(N("9.9999999999999999999999999999999999999e125"), N("1e125"));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().message(),
            "Number overflow. Attempting to store a number with magnitude "
            "larger than "
            "supported range");
  auto precise =
      Number::Add(N("12345678901234567890123456789012345678"), N("0.1"));
  ASSERT_FALSE(precise.ok());
  EXPECT_EQ(precise.status().message(),
            "Attempting to store more than 38 significant digits in a Number");
}

TEST(NumberTest, FromInt64) {
  EXPECT_EQ(Number::FromInt64(0).ToString(), "0");
  EXPECT_EQ(Number::FromInt64(-120).ToString(), "-120");
  EXPECT_EQ(Number::FromInt64(INT64_MIN).ToString(), "-9223372036854775808");
}

// The ordered list below is strictly increasing; numeric comparison and the
// byte order of the encodings must both agree with it.
TEST(NumberTest, OrderAndOrderedEncoding) {
  std::vector<std::string_view> ordered = {
      "-9.9999999999999999999999999999999999999e125",
      "-1e125",
      "-1000",
      "-999.9",
      "-101",
      "-100.5",
      "-100",
      "-99",
      "-10",
      "-2",
      "-1.5",
      "-1.05",
      "-1",
      "-0.5",
      "-0.105",
      "-0.1",
      "-1e-129",
      "-1e-130",
      "0",
      "1e-130",
      "1.1e-130",
      "1e-129",
      "0.1",
      "0.105",
      "0.5",
      "1",
      "1.0000000000000000000000000000000000001",
      "1.05",
      "1.5",
      "2",
      "10",
      "99",
      "100",
      "100.5",
      "101",
      "999.9",
      "1000",
      "12345678901234567890123456789012345678",
      "1e125",
      "9.9999999999999999999999999999999999999e125",
  };
  std::vector<Number> numbers;
  std::vector<std::string> encodings;
  for (auto s : ordered) {
    numbers.push_back(N(s));
    std::string e;
    numbers.back().EncodeOrdered(&e);
    encodings.push_back(e);
    std::string_view in = e;
    Number back;
    ASSERT_TRUE(Number::DecodeOrdered(&in, &back)) << s;
    EXPECT_TRUE(in.empty());
    EXPECT_EQ(back, numbers.back()) << s;
  }
  for (size_t i = 0; i < ordered.size(); ++i) {
    for (size_t j = 0; j < ordered.size(); ++j) {
      EXPECT_EQ(numbers[i] <=> numbers[j], i <=> j)
          << ordered[i] << " vs " << ordered[j];
      EXPECT_EQ(encodings[i].compare(encodings[j]) < 0, i < j)
          << ordered[i] << " vs " << ordered[j];
      // Self-delimiting: no encoding is a proper prefix of another.
      if (i != j) {
        EXPECT_NE(encodings[j].rfind(encodings[i], 0), 0u);
      }
    }
  }
  EXPECT_EQ(N("1.0") <=> N("1"), std::strong_ordering::equal);
}

TEST(NumberTest, RandomOrderMatchesEncoding) {
  std::mt19937_64 rng(42);
  std::vector<Number> numbers;
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    if (rng() % 2) s += '-';
    int digits = 1 + rng() % 38;
    for (int d = 0; d < digits; ++d) s += static_cast<char>('0' + rng() % 10);
    s += "e" + std::to_string(static_cast<int>(rng() % 200) - 120);
    auto n = Number::Parse(s);
    if (n.ok()) numbers.push_back(*n);
  }
  std::vector<std::pair<std::string, size_t>> encoded;
  for (size_t i = 0; i < numbers.size(); ++i) {
    std::string e;
    numbers[i].EncodeOrdered(&e);
    encoded.emplace_back(e, i);
  }
  std::sort(encoded.begin(), encoded.end());
  for (size_t i = 1; i < encoded.size(); ++i) {
    EXPECT_LE(numbers[encoded[i - 1].second], numbers[encoded[i].second]);
  }
}

TEST(NumberTest, DecodeRejectsGarbage) {
  for (std::string bad :
       {std::string(""), std::string("\x03", 1), std::string("\x03\x80", 2),
        std::string("\x03\x80\x65\x00", 4), std::string("\x09", 1)}) {
    std::string_view in = bad;
    Number n;
    EXPECT_FALSE(Number::DecodeOrdered(&in, &n));
  }
}

TEST(NumberTest, ByteSize) {
  EXPECT_EQ(N("1").ByteSize(), 2u);
  EXPECT_EQ(N("12").ByteSize(), 2u);
  EXPECT_EQ(N("123").ByteSize(), 3u);
  EXPECT_EQ(N("1000").ByteSize(), 2u);  // trailing zeros do not count
}

}  // namespace
}  // namespace riffle::tables
