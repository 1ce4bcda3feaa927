#include "tables/attribute_value.h"

#include <algorithm>
#include <array>
#include <cassert>

namespace riffle::tables {
namespace {

constexpr std::array<std::string_view, 11> kTypeNames = {
    "", "S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"};

template <typename T>
void SortUnique(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

std::string_view AttributeTypeName(AttributeType type) {
  return kTypeNames[static_cast<int>(type)];
}

bool AttributeTypeFromName(std::string_view name, AttributeType* type) {
  for (size_t i = 1; i < kTypeNames.size(); ++i) {
    if (kTypeNames[i] == name) {
      *type = static_cast<AttributeType>(i);
      return true;
    }
  }
  return false;
}

AttributeValue::AttributeValue(const AttributeValue& other)
    : type_(other.type_),
      bool_(other.bool_),
      bytes_(other.bytes_),
      number_(other.number_),
      strings_(other.strings_),
      numbers_(other.numbers_),
      list_(other.list_),
      map_(other.map_ ? std::make_unique<Map>(*other.map_) : nullptr) {}

AttributeValue& AttributeValue::operator=(const AttributeValue& other) {
  if (this != &other) {
    AttributeValue copy(other);
    *this = std::move(copy);
  }
  return *this;
}

AttributeValue::~AttributeValue() = default;

AttributeValue AttributeValue::S(std::string s) {
  AttributeValue v;
  v.type_ = AttributeType::kS;
  v.bytes_ = std::move(s);
  return v;
}
AttributeValue AttributeValue::N(Number n) {
  AttributeValue v;
  v.type_ = AttributeType::kN;
  v.number_ = std::move(n);
  return v;
}
AttributeValue AttributeValue::B(std::string bytes) {
  AttributeValue v;
  v.type_ = AttributeType::kB;
  v.bytes_ = std::move(bytes);
  return v;
}
AttributeValue AttributeValue::Bool(bool b) {
  AttributeValue v;
  v.type_ = AttributeType::kBool;
  v.bool_ = b;
  return v;
}
AttributeValue AttributeValue::Null() { return AttributeValue(); }
AttributeValue AttributeValue::M(Map m) {
  AttributeValue v;
  v.type_ = AttributeType::kM;
  v.map_ = std::make_unique<Map>(std::move(m));
  return v;
}
AttributeValue AttributeValue::L(List l) {
  AttributeValue v;
  v.type_ = AttributeType::kL;
  v.list_ = std::move(l);
  return v;
}
AttributeValue AttributeValue::SS(std::vector<std::string> members) {
  AttributeValue v;
  v.type_ = AttributeType::kSS;
  SortUnique(members);
  v.strings_ = std::move(members);
  return v;
}
AttributeValue AttributeValue::NS(std::vector<Number> members) {
  AttributeValue v;
  v.type_ = AttributeType::kNS;
  SortUnique(members);
  v.numbers_ = std::move(members);
  return v;
}
AttributeValue AttributeValue::BS(std::vector<std::string> members) {
  AttributeValue v;
  v.type_ = AttributeType::kBS;
  SortUnique(members);
  v.strings_ = std::move(members);
  return v;
}

const AttributeValue::Map& AttributeValue::map() const {
  assert(type_ == AttributeType::kM && map_);
  return *map_;
}
AttributeValue::Map& AttributeValue::map() {
  assert(type_ == AttributeType::kM && map_);
  return *map_;
}

size_t AttributeValue::ElementCount() const {
  switch (type_) {
    case AttributeType::kS:
    case AttributeType::kB:
      return bytes_.size();
    case AttributeType::kSS:
    case AttributeType::kBS:
      return strings_.size();
    case AttributeType::kNS:
      return numbers_.size();
    case AttributeType::kL:
      return list_.size();
    case AttributeType::kM:
      return map_->size();
    default:
      return 0;
  }
}

size_t AttributeValue::ByteSize() const {
  size_t size = 0;
  switch (type_) {
    case AttributeType::kS:
    case AttributeType::kB:
      return bytes_.size();
    case AttributeType::kN:
      return number_.ByteSize();
    case AttributeType::kBool:
    case AttributeType::kNull:
      return 1;
    case AttributeType::kSS:
    case AttributeType::kBS:
      for (const auto& s : strings_) size += s.size();
      return size;
    case AttributeType::kNS:
      for (const auto& n : numbers_) size += n.ByteSize();
      return size;
    case AttributeType::kL:
      size = 3;
      for (const auto& v : list_) size += 1 + v.ByteSize();
      return size;
    case AttributeType::kM:
      size = 3;
      for (const auto& [k, v] : *map_) size += 1 + k.size() + v.ByteSize();
      return size;
  }
  return size;
}

bool operator==(const AttributeValue& a, const AttributeValue& b) {
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case AttributeType::kS:
    case AttributeType::kB:
      return a.bytes_ == b.bytes_;
    case AttributeType::kN:
      return a.number_ == b.number_;
    case AttributeType::kBool:
      return a.bool_ == b.bool_;
    case AttributeType::kNull:
      return true;
    case AttributeType::kSS:
    case AttributeType::kBS:
      return a.strings_ == b.strings_;
    case AttributeType::kNS:
      return a.numbers_ == b.numbers_;
    case AttributeType::kL:
      return a.list_ == b.list_;
    case AttributeType::kM:
      return *a.map_ == *b.map_;
  }
  return false;
}

size_t ItemSize(const Item& item) {
  size_t size = 0;
  for (const auto& [name, value] : item) size += name.size() + value.ByteSize();
  return size;
}

int CompareKeyValues(const AttributeValue& a, const AttributeValue& b) {
  if (a.type() != b.type()) return a.type() < b.type() ? -1 : 1;
  switch (a.type()) {
    case AttributeType::kS:
    case AttributeType::kB: {
      int c = a.bytes().compare(b.bytes());
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    case AttributeType::kN: {
      auto c = a.number() <=> b.number();
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    default:
      return 0;
  }
}

}  // namespace riffle::tables
