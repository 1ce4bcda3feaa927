// DynamoDB's data model: AttributeValue (the ten types) and Item, as C++
// values, with DynamoDB's equality, ordering of key types and item-size
// rules. Protocol-free: the JSON wire form is in attribute_json.h, the
// stored form in item_codec.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tables/number.h"

namespace riffle::tables {

// The types. The values reach disk (item_codec) and are never renumbered.
enum class AttributeType : uint8_t {
  kS = 1,
  kN = 2,
  kB = 3,
  kSS = 4,
  kNS = 5,
  kBS = 6,
  kM = 7,
  kL = 8,
  kNull = 9,
  kBool = 10,
};

// "S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL".
std::string_view AttributeTypeName(AttributeType type);
// The inverse; false for an unknown name.
bool AttributeTypeFromName(std::string_view name, AttributeType* type);

// One attribute value. A deep value type: copying copies nested maps and
// lists. Not thread-safe to mutate; safe to read from many threads.
//
// Invariants: the members of a set are unique and sorted (SS and BS
// bytewise, NS numerically), so set equality is member-wise equality; a set
// built through the factories may be empty only transiently (DynamoDB
// rejects empty sets; callers check).
class AttributeValue {
 public:
  using Map = std::map<std::string, AttributeValue, std::less<>>;
  using List = std::vector<AttributeValue>;

  AttributeValue() = default;  // NULL
  AttributeValue(const AttributeValue& other);
  AttributeValue& operator=(const AttributeValue& other);
  AttributeValue(AttributeValue&&) noexcept = default;
  AttributeValue& operator=(AttributeValue&&) noexcept = default;
  ~AttributeValue();

  static AttributeValue S(std::string s);
  static AttributeValue N(Number n);
  static AttributeValue B(std::string bytes);
  static AttributeValue Bool(bool b);
  static AttributeValue Null();
  static AttributeValue M(Map m);
  static AttributeValue L(List l);
  // Sets: sort and drop duplicates.
  static AttributeValue SS(std::vector<std::string> members);
  static AttributeValue NS(std::vector<Number> members);
  static AttributeValue BS(std::vector<std::string> members);

  AttributeType type() const { return type_; }
  bool is(AttributeType t) const { return type_ == t; }
  bool is_set() const {
    return type_ == AttributeType::kSS || type_ == AttributeType::kNS ||
           type_ == AttributeType::kBS;
  }

  // S and B: the string or the raw bytes.
  const std::string& bytes() const { return bytes_; }
  const Number& number() const { return number_; }
  bool boolean() const { return bool_; }
  // SS and BS members.
  const std::vector<std::string>& strings() const { return strings_; }
  std::vector<std::string>& strings() { return strings_; }
  // NS members.
  const std::vector<Number>& numbers() const { return numbers_; }
  std::vector<Number>& numbers() { return numbers_; }
  // M (asserted).
  const Map& map() const;
  Map& map();
  // L.
  const List& list() const { return list_; }
  List& list() { return list_; }

  // The `size()` of expressions: members of a set, elements of a list or
  // map, bytes of S (UTF-8) and B. Zero for N, BOOL and NULL, which size()
  // rejects before asking.
  size_t ElementCount() const;

  // DynamoDB's size of this value in bytes (item size limit and capacity
  // units): strings and binaries by length, numbers by significant digits,
  // 1 for BOOL and NULL, 3 plus 1 per element for M and L (plus map keys),
  // and the sum of the members for sets.
  // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
  size_t ByteSize() const;

  // Deep equality as DynamoDB's `=`: same type and value; numbers
  // numerically; sets as sets.
  friend bool operator==(const AttributeValue& a, const AttributeValue& b);

 private:
  AttributeType type_ = AttributeType::kNull;
  bool bool_ = true;
  std::string bytes_;
  Number number_;
  std::vector<std::string> strings_;
  std::vector<Number> numbers_;
  List list_;
  std::unique_ptr<Map> map_;  // M only
};

// An item: attribute name to value.
using Item = AttributeValue::Map;

// DynamoDB's item size: the UTF-8 length of every attribute name plus the
// size of its value. The limit is 400 KB (kMaxItemBytes).
size_t ItemSize(const Item& item);
inline constexpr size_t kMaxItemBytes = 400 * 1024;

// Order of two key-type values of the same type (S and B bytewise
// unsigned, N numerically): negative, zero or positive. Values of other or
// mixed types compare by type, for a total order only.
int CompareKeyValues(const AttributeValue& a, const AttributeValue& b);

}  // namespace riffle::tables
