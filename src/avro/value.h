// avro::Value: a decoded Avro datum, shaped by the schema it was decoded
// with. Plain data: not thread-safe to mutate, safe to read from many
// threads. A Value owns everything it holds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "avro/schema.h"

namespace riffle::avro {

struct Value {
  // The Avro type of the datum. A union's datum is the value of the chosen
  // branch with `branch` set to its index, so that decoding a union needs no
  // extra allocation; `branch` is -1 outside unions.
  Type type = Type::kNull;
  int32_t branch = -1;

  bool boolean = false;
  // int, long, and the symbol index of an enum.
  int64_t integer = 0;
  float float_value = 0;
  double double_value = 0;
  // string, bytes and fixed contents.
  std::string bytes;
  // Array items; record fields in the schema's field order; map values.
  std::vector<Value> items;
  // Map keys, parallel to `items`.
  std::vector<std::string> keys;

  static Value Null() { return Value(); }
  static Value Boolean(bool b) {
    Value v;
    v.type = Type::kBoolean;
    v.boolean = b;
    return v;
  }
  static Value Int(int32_t n) {
    Value v;
    v.type = Type::kInt;
    v.integer = n;
    return v;
  }
  static Value Long(int64_t n) {
    Value v;
    v.type = Type::kLong;
    v.integer = n;
    return v;
  }
  static Value Float(float f) {
    Value v;
    v.type = Type::kFloat;
    v.float_value = f;
    return v;
  }
  static Value Double(double d) {
    Value v;
    v.type = Type::kDouble;
    v.double_value = d;
    return v;
  }
  static Value String(std::string s) {
    Value v;
    v.type = Type::kString;
    v.bytes = std::move(s);
    return v;
  }
  static Value Bytes(std::string s) {
    Value v;
    v.type = Type::kBytes;
    v.bytes = std::move(s);
    return v;
  }
  static Value Fixed(std::string s) {
    Value v;
    v.type = Type::kFixed;
    v.bytes = std::move(s);
    return v;
  }
  static Value Enum(int index) {
    Value v;
    v.type = Type::kEnum;
    v.integer = index;
    return v;
  }
  static Value Array(std::vector<Value> items = {}) {
    Value v;
    v.type = Type::kArray;
    v.items = std::move(items);
    return v;
  }
  static Value Map() {
    Value v;
    v.type = Type::kMap;
    return v;
  }
  static Value Record(std::vector<Value> fields) {
    Value v;
    v.type = Type::kRecord;
    v.items = std::move(fields);
    return v;
  }
  // Marks this value as branch `index` of a union; returns it for chaining.
  Value&& InBranch(int index) && {
    branch = index;
    return std::move(*this);
  }
  Value& Put(std::string key, Value value) {
    keys.push_back(std::move(key));
    items.push_back(std::move(value));
    return *this;
  }

  friend bool operator==(const Value& a, const Value& b);
};

}  // namespace riffle::avro
