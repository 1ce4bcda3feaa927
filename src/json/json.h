// A JSON document model for the wire adapters and config: parse, inspect,
// build and serialize. Numbers keep their source text so that exact values
// (DynamoDB numbers, 128-bit hash keys) survive a round trip. Object members
// keep their order (Avro schemas depend on it).
//
// Values are plain data: not thread-safe to mutate, safe to read from many
// threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace riffle::json {

class Value {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  using Member = std::pair<std::string, Value>;

  Value() = default;
  static Value Null() { return Value(); }
  static Value Bool(bool b);
  // `text` must be a valid JSON number.
  static Value NumberText(std::string text);
  static Value Number(int64_t n);
  static Value Number(uint64_t n);
  static Value Number(double d);
  static Value String(std::string s);
  static Value Array();
  static Value Object();

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  bool bool_value() const { return bool_; }
  // The string's text, or a number's source text.
  const std::string& text() const { return text_; }
  // nullopt unless a number that is an integer in range.
  std::optional<int64_t> AsInt64() const;
  std::optional<double> AsDouble() const;

  const std::vector<Value>& items() const { return items_; }
  std::vector<Value>& items() { return items_; }
  const std::vector<Member>& members() const { return members_; }
  std::vector<Member>& members() { return members_; }

  // The member named `key` of an object, or nullptr (also for non-objects).
  const Value* Find(std::string_view key) const;
  Value* Find(std::string_view key);

  // Builders; return *this for chaining.
  Value& Push(Value v);
  Value& Set(std::string key, Value v);

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  std::string text_;
  std::vector<Value> items_;
  std::vector<Member> members_;
};

struct ParseOptions {
  // Deeper nesting is an error, so hostile input cannot exhaust the stack.
  int max_depth = 128;
};

// Parses exactly one JSON value (surrounding whitespace allowed). On
// malformed input returns InvalidArgument with the byte offset of the fault.
Result<Value> Parse(std::string_view text, const ParseOptions& options = {});

// Compact serialization.
std::string Serialize(const Value& value);
void SerializeTo(const Value& value, std::string* out);

// Appends `s` as a quoted JSON string with escapes.
void AppendQuoted(std::string_view s, std::string* out);

}  // namespace riffle::json
