#include "tables/number.h"

#include <algorithm>
#include <vector>

namespace riffle::tables {
namespace {

constexpr std::string_view kOverflow =
    "Number overflow. Attempting to store a number with magnitude larger than "
    "supported range";
constexpr std::string_view kUnderflow =
    "Number underflow. Attempting to store a number with magnitude smaller "
    "than "
    "supported range";
constexpr std::string_view kTooPrecise =
    "Attempting to store more than 38 significant digits in a Number";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Sign bytes of the ordered encoding.
constexpr uint8_t kNegative = 0x01;
constexpr uint8_t kZero = 0x02;
constexpr uint8_t kPositive = 0x03;

// Little-endian digit vector (index i holds the digit of 10^(low + i)).
std::vector<int> Aligned(const Number& n, int low, int width) {
  std::vector<int> v(width, 0);
  const std::string& d = n.digits();
  int last_power = n.exponent() - static_cast<int>(d.size()) + 1;
  for (size_t i = 0; i < d.size(); ++i) {
    int power = last_power + static_cast<int>(d.size() - 1 - i);
    v[power - low] = d[i] - '0';
  }
  return v;
}

}  // namespace

Result<Number> Number::FromParts(bool negative, std::string digits,
                                 int64_t exponent) {
  size_t lead = 0;
  while (lead < digits.size() && digits[lead] == '0') ++lead;
  if (lead == digits.size()) return Number();
  exponent -= static_cast<int64_t>(lead);
  size_t end = digits.size();
  while (digits[end - 1] == '0') --end;
  digits = digits.substr(lead, end - lead);
  if (exponent > kMaxExponent) return InvalidArgument(std::string(kOverflow));
  if (exponent < kMinExponent) return InvalidArgument(std::string(kUnderflow));
  if (digits.size() > static_cast<size_t>(kMaxDigits)) {
    return InvalidArgument(std::string(kTooPrecise));
  }
  Number n;
  n.negative_ = negative;
  n.exponent_ = static_cast<int>(exponent);
  n.digits_ = std::move(digits);
  return n;
}

Result<Number> Number::Parse(std::string_view text) {
  if (text.empty()) {
    return InvalidArgument(
        "The parameter cannot be converted to a numeric value");
  }
  auto bad = [&] {
    return InvalidArgument(
        "The parameter cannot be converted to a numeric value: " +
        std::string(text));
  };
  size_t i = 0;
  bool negative = false;
  if (text[i] == '+' || text[i] == '-') negative = text[i++] == '-';
  std::string digits;
  size_t int_digits = 0;
  while (i < text.size() && IsDigit(text[i])) {
    digits.push_back(text[i++]);
    ++int_digits;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && IsDigit(text[i])) digits.push_back(text[i++]);
  }
  if (digits.empty()) return bad();
  int64_t exp = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      exp_negative = text[i++] == '-';
    }
    if (i == text.size() || !IsDigit(text[i])) return bad();
    while (i < text.size() && IsDigit(text[i])) {
      // Saturate: anything this large is out of range anyway.
      if (exp < 1'000'000'000) exp = exp * 10 + (text[i] - '0');
      ++i;
    }
    if (exp_negative) exp = -exp;
  }
  if (i != text.size()) return bad();
  return FromParts(negative, std::move(digits),
                   static_cast<int64_t>(int_digits) - 1 + exp);
}

Number Number::FromInt64(int64_t v) {
  if (v == 0) return Number();
  bool negative = v < 0;
  uint64_t magnitude =
      negative ? ~static_cast<uint64_t>(v) + 1 : static_cast<uint64_t>(v);
  std::string digits = std::to_string(magnitude);
  int64_t exponent = static_cast<int64_t>(digits.size()) - 1;
  return std::move(FromParts(negative, std::move(digits), exponent)).value();
}

std::string Number::ToString() const {
  if (is_zero()) return "0";
  std::string out;
  if (negative_) out.push_back('-');
  int n = static_cast<int>(digits_.size());
  if (exponent_ >= 0) {
    if (n <= exponent_ + 1) {
      out += digits_;
      out.append(exponent_ + 1 - n, '0');
    } else {
      out.append(digits_, 0, exponent_ + 1);
      out.push_back('.');
      out.append(digits_, exponent_ + 1, std::string::npos);
    }
  } else {
    out += "0.";
    out.append(-exponent_ - 1, '0');
    out += digits_;
  }
  return out;
}

Number Number::Negated() const {
  Number n = *this;
  if (!n.is_zero()) n.negative_ = !n.negative_;
  return n;
}

Result<Number> Number::Add(const Number& a, const Number& b) {
  if (a.is_zero()) return b;
  if (b.is_zero()) return a;
  int low_a = a.exponent_ - static_cast<int>(a.digits_.size()) + 1;
  int low_b = b.exponent_ - static_cast<int>(b.digits_.size()) + 1;
  int low = std::min(low_a, low_b);
  int high = std::max(a.exponent_, b.exponent_);
  int width = high - low + 2;  // one more for a carry
  std::vector<int> x = Aligned(a, low, width);
  std::vector<int> y = Aligned(b, low, width);
  bool negative;
  std::vector<int> r(width, 0);
  if (a.negative_ == b.negative_) {
    negative = a.negative_;
    int carry = 0;
    for (int i = 0; i < width; ++i) {
      int s = x[i] + y[i] + carry;
      r[i] = s % 10;
      carry = s / 10;
    }
  } else {
    // |x| - |y| with the larger magnitude first.
    bool x_larger = true;
    for (int i = width - 1; i >= 0; --i) {
      if (x[i] != y[i]) {
        x_larger = x[i] > y[i];
        break;
      }
    }
    if (!x_larger) std::swap(x, y);
    negative = x_larger ? a.negative_ : b.negative_;
    int borrow = 0;
    for (int i = 0; i < width; ++i) {
      int s = x[i] - y[i] - borrow;
      borrow = s < 0;
      r[i] = s < 0 ? s + 10 : s;
    }
  }
  std::string digits;
  digits.reserve(width);
  for (int i = width - 1; i >= 0; --i)
    digits.push_back(static_cast<char>('0' + r[i]));
  Result<Number> result =
      FromParts(negative, std::move(digits), low + width - 1);
  if (result.ok() && result->is_zero()) return Number();
  return result;
}

Result<Number> Number::Subtract(const Number& a, const Number& b) {
  return Add(a, b.Negated());
}

std::strong_ordering operator<=>(const Number& a, const Number& b) {
  auto sign = [](const Number& n) {
    return n.is_zero() ? 0 : n.negative_ ? -1 : 1;
  };
  int sa = sign(a), sb = sign(b);
  if (sa != sb) return sa <=> sb;
  if (sa == 0) return std::strong_ordering::equal;
  std::strong_ordering magnitude = a.exponent_ <=> b.exponent_;
  if (magnitude == 0) magnitude = a.digits_.compare(b.digits_) <=> 0;
  // For negatives the larger magnitude is the smaller number.
  return sa > 0 ? magnitude : 0 <=> magnitude;
}

void Number::EncodeOrdered(std::string* out) const {
  if (is_zero()) {
    out->push_back(static_cast<char>(kZero));
    return;
  }
  // Digit pairs map to 1..100 so that 0 can terminate; an odd last digit is
  // padded with 0, which cannot be confused with a longer number because
  // digits never end in 0.
  uint8_t biased_exponent = static_cast<uint8_t>(exponent_ - kMinExponent);
  out->push_back(static_cast<char>(negative_ ? kNegative : kPositive));
  out->push_back(
      static_cast<char>(negative_ ? 255 - biased_exponent : biased_exponent));
  for (size_t i = 0; i < digits_.size(); i += 2) {
    int pair = (digits_[i] - '0') * 10 +
               (i + 1 < digits_.size() ? digits_[i + 1] - '0' : 0);
    uint8_t b = static_cast<uint8_t>(1 + pair);
    out->push_back(static_cast<char>(negative_ ? 255 - b : b));
  }
  out->push_back(static_cast<char>(negative_ ? 0xff : 0x00));
}

bool Number::DecodeOrdered(std::string_view* in, Number* out) {
  if (in->empty()) return false;
  uint8_t sign = static_cast<uint8_t>((*in)[0]);
  if (sign == kZero) {
    *out = Number();
    in->remove_prefix(1);
    return true;
  }
  if ((sign != kNegative && sign != kPositive) || in->size() < 2) return false;
  bool negative = sign == kNegative;
  auto flip = [negative](char c) {
    uint8_t b = static_cast<uint8_t>(c);
    return negative ? static_cast<uint8_t>(255 - b) : b;
  };
  int exponent = static_cast<int>(flip((*in)[1])) + kMinExponent;
  std::string digits;
  size_t i = 2;
  for (;; ++i) {
    if (i >= in->size()) return false;
    uint8_t b = flip((*in)[i]);
    if (b == 0) break;
    if (b > 100) return false;
    int pair = b - 1;
    digits.push_back(static_cast<char>('0' + pair / 10));
    digits.push_back(static_cast<char>('0' + pair % 10));
  }
  if (!digits.empty() && digits.back() == '0') digits.pop_back();
  if (digits.empty() || digits.front() == '0' || digits.back() == '0' ||
      digits.size() > static_cast<size_t>(kMaxDigits) ||
      exponent > kMaxExponent) {
    return false;
  }
  out->negative_ = negative;
  out->exponent_ = exponent;
  out->digits_ = std::move(digits);
  in->remove_prefix(i + 1);
  return true;
}

}  // namespace riffle::tables
