#include "avro/value.h"

#include <cstring>

namespace riffle::avro {

bool operator==(const Value& a, const Value& b) {
  if (a.type != b.type || a.branch != b.branch) return false;
  switch (a.type) {
    case Type::kNull:
      return true;
    case Type::kBoolean:
      return a.boolean == b.boolean;
    case Type::kInt:
    case Type::kLong:
    case Type::kEnum:
      return a.integer == b.integer;
    case Type::kFloat:  // bitwise, so that NaN equals itself
      return std::memcmp(&a.float_value, &b.float_value, sizeof(float)) == 0;
    case Type::kDouble:
      return std::memcmp(&a.double_value, &b.double_value, sizeof(double)) == 0;
    case Type::kBytes:
    case Type::kString:
    case Type::kFixed:
      return a.bytes == b.bytes;
    case Type::kMap:
      return a.keys == b.keys && a.items == b.items;
    case Type::kArray:
    case Type::kRecord:
    case Type::kUnion:
      return a.items == b.items;
  }
  return false;
}

}  // namespace riffle::avro
