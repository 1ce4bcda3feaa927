// DynamoDB's number type: an exact decimal with up to 38 significant digits
// and a magnitude between 1E-130 and 9.99...E+125 (or zero), as the service
// stores it. Not a double: 0.1 + 0.2 is 0.3 here, and a 38-digit id
// survives a round trip.
//
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes.Number
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace riffle::tables {

// A value type; cheap to copy (at most 38 digit characters). Thread-safe to
// read.
//
// Invariant: zero has empty digits_, negative_ false and exponent_ 0;
// otherwise digits_ holds 1..38 decimal characters with no leading or
// trailing '0', and the value is (-1)^negative_ * 0.d1d2... * 10^(exponent_+1)
// i.e. d1.d2d3... * 10^exponent_, with exponent_ in [kMinExponent,
// kMaxExponent].
class Number {
 public:
  static constexpr int kMaxDigits = 38;
  static constexpr int kMaxExponent = 125;   // 9.99...E+125
  static constexpr int kMinExponent = -130;  // 1E-130

  Number() = default;  // zero

  // Parses DynamoDB's number syntax: [+-]digits[.digits][(e|E)[+-]digits],
  // with either side of the point optional (".5", "5."). Errors are
  // InvalidArgument with DynamoDB's ValidationException wording:
  //   "The parameter cannot be converted to a numeric value: 1x"
  //   "Number overflow. Attempting to store a number with magnitude larger
  //    than supported range" (and "underflow ... smaller"),
  //   "Attempting to store more than 38 significant digits in a Number".
  static Result<Number> Parse(std::string_view text);
  static Number FromInt64(int64_t v);

  // DynamoDB's normalised output: plain notation, no exponent, no leading
  // or trailing zeros ("1.5", "-0.001", "1000", "0").
  std::string ToString() const;

  bool is_zero() const { return digits_.empty(); }
  bool is_negative() const { return negative_; }
  // The significant digits, without sign, point or padding zeros.
  const std::string& digits() const { return digits_; }
  int exponent() const { return exponent_; }

  // Exact arithmetic for ADD and SET a = a + :v. Errors as Parse's for a
  // result out of range or with more than 38 significant digits.
  static Result<Number> Add(const Number& a, const Number& b);
  static Result<Number> Subtract(const Number& a, const Number& b);
  Number Negated() const;

  // Numeric order (1 == 1.0, -2 < -1 < 0 < 0.5).
  friend std::strong_ordering operator<=>(const Number& a, const Number& b);
  friend bool operator==(const Number& a, const Number& b) {
    return a.negative_ == b.negative_ && a.exponent_ == b.exponent_ &&
           a.digits_ == b.digits_;
  }

  // An order-preserving, self-delimiting byte encoding: for any numbers a
  // and b, a < b exactly when the encoding of a sorts bytewise before that
  // of b, and no encoding is a prefix of another. Specified in
  // docs/formats/tables.md ("Numbers"). Also the compact stored form: one
  // byte per two digits.
  void EncodeOrdered(std::string* out) const;
  // Reads one encoded number from the front of `*in` and advances past it;
  // false on malformed input.
  static bool DecodeOrdered(std::string_view* in, Number* out);

  // DynamoDB's size of the value for item size and capacity: one byte per
  // two significant digits, plus one.
  size_t ByteSize() const { return (digits_.size() + 1) / 2 + 1; }

 private:
  static Result<Number> FromParts(bool negative, std::string digits,
                                  int64_t exponent);

  bool negative_ = false;
  int exponent_ = 0;
  std::string digits_;
};

}  // namespace riffle::tables
