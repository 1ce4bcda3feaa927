#include "tables/attribute_json.h"

#include <algorithm>
#include <set>

#include "core/base64.h"

namespace riffle::tables {
namespace {

constexpr std::string_view kBigNumber =
    "class com.amazon.coral.value.json.numbers.TruncatingBigNumber";
constexpr std::string_view kStartOfList =
    "Start of list found where not expected";
constexpr std::string_view kStartOfStructure =
    "Start of structure or map found where not expected.";
constexpr std::string_view kInvalid =
    "One or more parameter values were invalid: ";

using Shape = std::optional<std::string>;

Shape CheckString(const json::Value& v) {
  switch (v.type()) {
    case json::Value::Type::kBool:
      return "class java.lang.Boolean can not be converted to an String";
    case json::Value::Type::kNumber:
      return std::string(kBigNumber) + " can not be converted to an String";
    case json::Value::Type::kArray:
      return std::string(kStartOfList);
    case json::Value::Type::kObject:
      return std::string(kStartOfStructure);
    default:
      return std::nullopt;
  }
}

std::string Upper(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Coral converts "true"/"1"/"yes" (any case) to booleans.
std::optional<bool> LenientBool(const json::Value& v) {
  if (v.is_bool()) return v.bool_value();
  if (!v.is_string()) return std::nullopt;
  std::string u = Upper(v.text());
  if (u == "TRUE" || u == "1" || u == "YES") return true;
  if (u == "FALSE" || u == "0" || u == "NO") return false;
  return std::nullopt;
}

Shape CheckBoolean(const json::Value& v) {
  switch (v.type()) {
    case json::Value::Type::kNumber:
      return std::string(kBigNumber) + " can not be converted to an Boolean";
    case json::Value::Type::kString:
      if (LenientBool(v)) return std::nullopt;
      return "'" + Upper(v.text()) + "' can not be converted to an Boolean";
    case json::Value::Type::kArray:
      return std::string(kStartOfList);
    case json::Value::Type::kObject:
      return std::string(kStartOfStructure);
    default:
      return std::nullopt;
  }
}

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '/';
}

Shape CheckBlob(const json::Value& v) {
  switch (v.type()) {
    case json::Value::Type::kBool:
      return "class java.lang.Boolean can not be converted to a Blob";
    case json::Value::Type::kNumber:
      return std::string(kBigNumber) + " can not be converted to a Blob";
    case json::Value::Type::kArray:
      return std::string(kStartOfList);
    case json::Value::Type::kObject:
      return std::string(kStartOfStructure);
    case json::Value::Type::kString:
      break;
    default:
      return std::nullopt;
  }
  const std::string& s = v.text();
  std::string prefix = "'" + s + "' can not be converted to a Blob: ";
  if (s.size() % 4 != 0) {
    return prefix +
           "Base64 encoded length is expected a multiple of 4 bytes but "
           "found: " +
           std::to_string(s.size());
  }
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (IsBase64Char(c)) continue;
    if (c == '=' && (i + 1 == s.size() || s[i + 1] == '=')) continue;
    return prefix + "Invalid Base64 character: '" + std::string(1, c) + "'";
  }
  auto decoded = base64::Decode(s);
  if (!decoded || base64::Encode(*decoded) != s) {
    return prefix + "Invalid last non-pad Base64 character dectected";
  }
  return std::nullopt;
}

Shape CheckList(const json::Value& v, Shape (*member)(const json::Value&)) {
  if (v.is_null()) return std::nullopt;
  if (v.is_object()) return std::string(kStartOfStructure);
  if (!v.is_array()) return "Expected list or null";
  for (const auto& m : v.items()) {
    if (m.is_null()) continue;
    if (auto e = member(m)) return e;
  }
  return std::nullopt;
}

Shape CheckMap(const json::Value& v, Shape (*member)(const json::Value&)) {
  if (v.is_null()) return std::nullopt;
  if (v.is_array()) return std::string(kStartOfList);
  if (!v.is_object()) return "Expected map or null";
  for (const auto& [k, m] : v.members()) {
    if (m.is_null()) continue;
    if (auto e = member(m)) return e;
  }
  return std::nullopt;
}

Shape CheckShape(const json::Value& v) {
  if (v.is_null()) return std::nullopt;
  if (v.is_array()) return std::string(kStartOfList);
  if (!v.is_object()) return "Expected null";
  for (const auto& [k, m] : v.members()) {
    if (m.is_null()) continue;
    Shape e;
    if (k == "S" || k == "N") {
      e = CheckString(m);
    } else if (k == "B") {
      e = CheckBlob(m);
    } else if (k == "BOOL" || k == "NULL") {
      e = CheckBoolean(m);
    } else if (k == "SS" || k == "NS") {
      e = CheckList(m, CheckString);
    } else if (k == "BS") {
      e = CheckList(m, CheckBlob);
    } else if (k == "L") {
      e = CheckList(m, CheckShape);
    } else if (k == "M") {
      e = CheckMap(m, CheckShape);
    }
    if (e) return e;
  }
  return std::nullopt;
}

// "[a, b]" as AWS prints collections in messages.
std::string CollectionText(const json::Value& list) {
  std::string s = "[";
  bool first = true;
  for (const auto& m : list.items()) {
    if (!first) s += ", ";
    first = false;
    s += m.is_null() ? "null" : m.text();
  }
  return s + "]";
}

Status Invalid(std::string_view message) {
  return InvalidArgument(std::string(kInvalid) + std::string(message));
}

// The validation pass over a value whose shape is known to be right.
Result<AttributeValue> Convert(const json::Value& v) {
  if (v.is_null()) {
    return InvalidArgument(
        "Supplied AttributeValue is empty, must contain exactly one of the "
        "supported "
        "datatypes");
  }
  int types = 0;
  AttributeValue out;
  for (const auto& [k, m] : v.members()) {
    if (m.is_null()) continue;
    AttributeType type;
    if (!AttributeTypeFromName(k, &type))
      continue;  // Coral drops unknown members
    ++types;
    switch (type) {
      case AttributeType::kS:
        out = AttributeValue::S(m.text());
        break;
      case AttributeType::kN: {
        ASSIGN_OR_RETURN(Number n, Number::Parse(m.text()));
        out = AttributeValue::N(std::move(n));
        break;
      }
      case AttributeType::kB:
        out = AttributeValue::B(*base64::Decode(m.text()));
        break;
      case AttributeType::kBool:
        out = AttributeValue::Bool(*LenientBool(m));
        break;
      case AttributeType::kNull:
        if (!*LenientBool(m)) {
          return Invalid(
              "Null attribute value types must have the value of true");
        }
        out = AttributeValue::Null();
        break;
      case AttributeType::kSS: {
        if (m.items().empty())
          return Invalid("An string set  may not be empty");
        std::vector<std::string> members;
        for (const auto& s : m.items()) members.push_back(s.text());
        size_t n = members.size();
        out = AttributeValue::SS(std::move(members));
        if (out.strings().size() != n) {
          return Invalid("Input collection " + CollectionText(m) +
                         " contains duplicates.");
        }
        break;
      }
      case AttributeType::kNS: {
        if (m.items().empty())
          return Invalid("An number set  may not be empty");
        std::vector<Number> members;
        for (const auto& s : m.items()) {
          ASSIGN_OR_RETURN(Number n, Number::Parse(s.text()));
          members.push_back(std::move(n));
        }
        size_t n = members.size();
        out = AttributeValue::NS(std::move(members));
        if (out.numbers().size() != n) {
          return InvalidArgument("Input collection contains duplicates");
        }
        break;
      }
      case AttributeType::kBS: {
        if (m.items().empty())
          return Invalid("Binary sets should not be empty");
        std::vector<std::string> members;
        for (const auto& s : m.items())
          members.push_back(*base64::Decode(s.text()));
        size_t n = members.size();
        out = AttributeValue::BS(std::move(members));
        if (out.strings().size() != n) {
          return Invalid("Input collection " + CollectionText(m) +
                         "of type BS contains duplicates.");
        }
        break;
      }
      case AttributeType::kM: {
        AttributeValue::Map map;
        for (const auto& [name, member] : m.members()) {
          ASSIGN_OR_RETURN(AttributeValue mv, Convert(member));
          map.insert_or_assign(name, std::move(mv));
        }
        out = AttributeValue::M(std::move(map));
        break;
      }
      case AttributeType::kL: {
        AttributeValue::List list;
        list.reserve(m.items().size());
        for (const auto& member : m.items()) {
          ASSIGN_OR_RETURN(AttributeValue lv, Convert(member));
          list.push_back(std::move(lv));
        }
        out = AttributeValue::L(std::move(list));
        break;
      }
    }
  }
  if (types == 0) {
    return InvalidArgument(
        "Supplied AttributeValue is empty, must contain exactly one of the "
        "supported "
        "datatypes");
  }
  if (types > 1) {
    return InvalidArgument(
        "Supplied AttributeValue has more than one datatypes set, must contain "
        "exactly one "
        "of the supported datatypes");
  }
  return out;
}

void AppendForMessage(const AttributeValue& v, std::string* out) {
  out->append(AttributeTypeName(v.type()));
  out->push_back(':');
  switch (v.type()) {
    case AttributeType::kS:
      out->append(v.bytes());
      break;
    case AttributeType::kN:
      out->append(v.number().ToString());
      break;
    case AttributeType::kB:
      out->append(base64::Encode(v.bytes()));
      break;
    case AttributeType::kBool:
      out->append(v.boolean() ? "true" : "false");
      break;
    case AttributeType::kNull:
      out->append("true");
      break;
    default: {
      std::string json = AttributeValueToJson(v);
      out->append(json);
    }
  }
}

}  // namespace

std::optional<std::string> CheckAttributeValueShape(const json::Value& value) {
  return CheckShape(value);
}

Result<AttributeValue> AttributeValueFromJson(const json::Value& value,
                                              WireErrorKind* kind) {
  if (auto e = CheckShape(value)) {
    if (kind) *kind = WireErrorKind::kSerialization;
    return InvalidArgument(*e);
  }
  if (kind) *kind = WireErrorKind::kValidation;
  return Convert(value);
}

Result<Item> ItemFromJson(const json::Value& object, WireErrorKind* kind) {
  if (auto e = CheckMap(object, CheckShape)) {
    if (kind) *kind = WireErrorKind::kSerialization;
    return InvalidArgument(*e);
  }
  if (kind) *kind = WireErrorKind::kValidation;
  Item item;
  if (object.is_null()) return item;
  for (const auto& [name, v] : object.members()) {
    ASSIGN_OR_RETURN(AttributeValue av, Convert(v));
    item.insert_or_assign(name, std::move(av));
  }
  return item;
}

void WriteAttributeValue(json::Writer& w, const AttributeValue& v) {
  w.BeginObject();
  w.Key(AttributeTypeName(v.type()));
  switch (v.type()) {
    case AttributeType::kS:
      w.String(v.bytes());
      break;
    case AttributeType::kN:
      w.String(v.number().ToString());
      break;
    case AttributeType::kB:
      w.String(base64::Encode(v.bytes()));
      break;
    case AttributeType::kBool:
      w.Bool(v.boolean());
      break;
    case AttributeType::kNull:
      w.Bool(true);
      break;
    case AttributeType::kSS:
      w.BeginArray();
      for (const auto& s : v.strings()) w.String(s);
      w.EndArray();
      break;
    case AttributeType::kBS:
      w.BeginArray();
      for (const auto& s : v.strings()) w.String(base64::Encode(s));
      w.EndArray();
      break;
    case AttributeType::kNS:
      w.BeginArray();
      for (const auto& n : v.numbers()) w.String(n.ToString());
      w.EndArray();
      break;
    case AttributeType::kL:
      w.BeginArray();
      for (const auto& e : v.list()) WriteAttributeValue(w, e);
      w.EndArray();
      break;
    case AttributeType::kM:
      WriteItem(w, v.map());
      break;
  }
  w.EndObject();
}

void WriteItem(json::Writer& w, const Item& item) {
  w.BeginObject();
  for (const auto& [name, v] : item) {
    w.Key(name);
    WriteAttributeValue(w, v);
  }
  w.EndObject();
}

std::string AttributeValueToJson(const AttributeValue& value) {
  std::string out;
  json::Writer w(&out);
  WriteAttributeValue(w, value);
  return out;
}

std::string ItemToJson(const Item& item) {
  std::string out;
  json::Writer w(&out);
  WriteItem(w, item);
  return out;
}

std::string AttributeValueForMessage(const AttributeValue& value) {
  std::string out = "AttributeValue: {";
  AppendForMessage(value, &out);
  out.push_back('}');
  return out;
}

}  // namespace riffle::tables
