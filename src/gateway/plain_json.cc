#include "gateway/plain_json.h"

#include <string_view>

namespace riffle::gateway {
namespace {

void WriteNumber(json::Writer& w, const tables::Number& n) {
  if (IsExactAsDouble(n)) {
    w.Raw(n.ToString());  // DynamoDB's plain notation is valid JSON
  } else {
    w.String(n.ToString());
  }
}

}  // namespace

bool IsExactAsDouble(const tables::Number& n) {
  if (n.is_zero()) return true;
  const int digits = static_cast<int>(n.digits().size());
  if (digits <= 15) return true;
  // An integer (no digit after the point) up to 2^53 = 9007199254740992,
  // the largest run of integers a double holds exactly.
  if (n.exponent() + 1 < digits) return false;  // has a fraction
  if (n.exponent() > 15) return false;          // >= 1e16 > 2^53
  std::string whole = n.digits();
  whole.append(static_cast<size_t>(n.exponent() + 1 - digits), '0');
  constexpr std::string_view kMax = "9007199254740992";
  return whole.size() < kMax.size() || whole <= kMax;
}

void WritePlainValue(json::Writer& w, const tables::AttributeValue& v) {
  using tables::AttributeType;
  switch (v.type()) {
    case AttributeType::kS:
      w.String(v.bytes());
      return;
    case AttributeType::kN:
      WriteNumber(w, v.number());
      return;
    case AttributeType::kB:
      w.Base64(v.bytes());
      return;
    case AttributeType::kBool:
      w.Bool(v.boolean());
      return;
    case AttributeType::kNull:
      w.Null();
      return;
    case AttributeType::kSS:
      w.BeginArray();
      for (const std::string& s : v.strings()) w.String(s);
      w.EndArray();
      return;
    case AttributeType::kBS:
      w.BeginArray();
      for (const std::string& s : v.strings()) w.Base64(s);
      w.EndArray();
      return;
    case AttributeType::kNS:
      w.BeginArray();
      for (const tables::Number& n : v.numbers()) WriteNumber(w, n);
      w.EndArray();
      return;
    case AttributeType::kL:
      w.BeginArray();
      for (const tables::AttributeValue& e : v.list()) WritePlainValue(w, e);
      w.EndArray();
      return;
    case AttributeType::kM:
      WritePlainItem(w, v.map());
      return;
  }
  w.Null();  // unreachable: every type is handled above
}

void WritePlainItem(json::Writer& w, const tables::Item& item) {
  w.BeginObject();
  for (const auto& [name, value] : item) {
    w.Key(name);
    WritePlainValue(w, value);
  }
  w.EndObject();
}

std::string PlainItemJson(const tables::Item& item) {
  std::string out;
  json::Writer w(&out);
  WritePlainItem(w, item);
  return out;
}

}  // namespace riffle::gateway
