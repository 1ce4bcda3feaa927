#include "tables/item_codec.h"

#include <cassert>

#include "core/bytes.h"

namespace riffle::tables {
namespace {

// Strings and binaries in keys: 0x00 is escaped as 00 FF and the value ends
// with 00 01. The terminator sorts below every escaped byte and every
// other byte, so a value sorts before its extensions and concatenated
// encodings still sort component by component.
void EncodeOrderedBytes(std::string_view s, std::string* out) {
  for (char c : s) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xff');
  }
  out->push_back('\0');
  out->push_back('\x01');
}

bool DecodeOrderedBytes(std::string_view* in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in->size(); ++i) {
    char c = (*in)[i];
    if (c != '\0') {
      out->push_back(c);
      continue;
    }
    if (i + 1 >= in->size()) return false;
    char next = (*in)[i + 1];
    if (next == '\x01') {
      in->remove_prefix(i + 2);
      return true;
    }
    if (next != '\xff') return false;
    out->push_back('\0');
    ++i;
  }
  return false;
}

bool DecodeStrings(std::string_view* in, std::vector<std::string>* out) {
  auto count = bytes::GetVarint64(in);
  if (!count || *count > in->size()) return false;
  out->reserve(*count);
  for (uint64_t i = 0; i < *count; ++i) {
    auto s = bytes::GetLengthPrefixed(in);
    if (!s) return false;
    out->emplace_back(*s);
  }
  return true;
}

}  // namespace

void EncodeValue(const AttributeValue& value, std::string* out) {
  out->push_back(static_cast<char>(value.type()));
  switch (value.type()) {
    case AttributeType::kS:
    case AttributeType::kB:
      bytes::PutLengthPrefixed(out, value.bytes());
      break;
    case AttributeType::kN:
      value.number().EncodeOrdered(out);
      break;
    case AttributeType::kBool:
      out->push_back(value.boolean() ? 1 : 0);
      break;
    case AttributeType::kNull:
      break;
    case AttributeType::kSS:
    case AttributeType::kBS:
      bytes::PutVarint64(out, value.strings().size());
      for (const auto& s : value.strings()) bytes::PutLengthPrefixed(out, s);
      break;
    case AttributeType::kNS:
      bytes::PutVarint64(out, value.numbers().size());
      for (const auto& n : value.numbers()) n.EncodeOrdered(out);
      break;
    case AttributeType::kL:
      bytes::PutVarint64(out, value.list().size());
      for (const auto& v : value.list()) EncodeValue(v, out);
      break;
    case AttributeType::kM:
      bytes::PutVarint64(out, value.map().size());
      for (const auto& [k, v] : value.map()) {
        bytes::PutLengthPrefixed(out, k);
        EncodeValue(v, out);
      }
      break;
  }
}

bool DecodeValue(std::string_view* in, AttributeValue* value, int depth) {
  if (in->empty() || depth > kMaxDecodeDepth) return false;
  auto type = static_cast<AttributeType>((*in)[0]);
  in->remove_prefix(1);
  switch (type) {
    case AttributeType::kS:
    case AttributeType::kB: {
      auto s = bytes::GetLengthPrefixed(in);
      if (!s) return false;
      *value = type == AttributeType::kS ? AttributeValue::S(std::string(*s))
                                         : AttributeValue::B(std::string(*s));
      return true;
    }
    case AttributeType::kN: {
      Number n;
      if (!Number::DecodeOrdered(in, &n)) return false;
      *value = AttributeValue::N(std::move(n));
      return true;
    }
    case AttributeType::kBool:
      if (in->empty()) return false;
      *value = AttributeValue::Bool((*in)[0] != 0);
      in->remove_prefix(1);
      return true;
    case AttributeType::kNull:
      *value = AttributeValue::Null();
      return true;
    case AttributeType::kSS:
    case AttributeType::kBS: {
      // Stored sets are already sorted and unique; building through the
      // factory keeps the invariant even for a hand-made record.
      std::vector<std::string> members;
      if (!DecodeStrings(in, &members)) return false;
      *value = type == AttributeType::kSS
                   ? AttributeValue::SS(std::move(members))
                   : AttributeValue::BS(std::move(members));
      return true;
    }
    case AttributeType::kNS: {
      auto count = bytes::GetVarint64(in);
      if (!count || *count > in->size()) return false;
      std::vector<Number> members(*count);
      for (auto& n : members) {
        if (!Number::DecodeOrdered(in, &n)) return false;
      }
      *value = AttributeValue::NS(std::move(members));
      return true;
    }
    case AttributeType::kL: {
      auto count = bytes::GetVarint64(in);
      if (!count || *count > in->size()) return false;
      AttributeValue::List list(*count);
      for (auto& v : list) {
        if (!DecodeValue(in, &v, depth + 1)) return false;
      }
      *value = AttributeValue::L(std::move(list));
      return true;
    }
    case AttributeType::kM: {
      auto count = bytes::GetVarint64(in);
      if (!count || *count > in->size()) return false;
      AttributeValue::Map map;
      for (uint64_t i = 0; i < *count; ++i) {
        auto k = bytes::GetLengthPrefixed(in);
        if (!k) return false;
        AttributeValue v;
        if (!DecodeValue(in, &v, depth + 1)) return false;
        map.insert_or_assign(std::string(*k), std::move(v));
      }
      *value = AttributeValue::M(std::move(map));
      return true;
    }
  }
  return false;
}

void EncodeItem(const Item& item, std::string* out) {
  bytes::PutVarint64(out, item.size());
  for (const auto& [name, value] : item) {
    bytes::PutLengthPrefixed(out, name);
    EncodeValue(value, out);
  }
}

Result<Item> DecodeItem(std::string_view data) {
  auto count = bytes::GetVarint64(&data);
  if (!count || *count > data.size())
    return DataLoss("corrupt item: bad count");
  Item item;
  for (uint64_t i = 0; i < *count; ++i) {
    auto name = bytes::GetLengthPrefixed(&data);
    if (!name) return DataLoss("corrupt item: bad attribute name");
    AttributeValue v;
    if (!DecodeValue(&data, &v)) return DataLoss("corrupt item: bad value");
    item.insert_or_assign(std::string(*name), std::move(v));
  }
  if (!data.empty()) return DataLoss("corrupt item: trailing bytes");
  return item;
}

void EncodeKeyValue(const AttributeValue& value, std::string* out) {
  switch (value.type()) {
    case AttributeType::kS:
    case AttributeType::kB:
      EncodeOrderedBytes(value.bytes(), out);
      break;
    case AttributeType::kN:
      value.number().EncodeOrdered(out);
      break;
    default:
      assert(false && "key values are S, N or B");
  }
}

bool DecodeKeyValue(std::string_view* in, AttributeType type,
                    AttributeValue* value) {
  switch (type) {
    case AttributeType::kS:
    case AttributeType::kB: {
      std::string s;
      if (!DecodeOrderedBytes(in, &s)) return false;
      *value = type == AttributeType::kS ? AttributeValue::S(std::move(s))
                                         : AttributeValue::B(std::move(s));
      return true;
    }
    case AttributeType::kN: {
      Number n;
      if (!Number::DecodeOrdered(in, &n)) return false;
      *value = AttributeValue::N(std::move(n));
      return true;
    }
    default:
      return false;
  }
}

}  // namespace riffle::tables
