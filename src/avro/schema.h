// The Avro schema model (Avro 1.11 specification): a parsed schema is a
// graph of Nodes owned by one Schema. Named types referenced by name (and
// recursive types) are the same Node, reached by more than one pointer, so
// the graph may contain cycles; walkers must track the named types they are
// in (see codec.cc and compatibility.cc).
//
// A Schema is immutable once parsed and safe to read from many threads; share
// it as std::shared_ptr<const Schema>.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "json/json.h"

namespace riffle::avro {

// The values are stable (they may be logged); never renumber.
enum class Type : uint8_t {
  kNull = 0,
  kBoolean = 1,
  kInt = 2,
  kLong = 3,
  kFloat = 4,
  kDouble = 5,
  kBytes = 6,
  kString = 7,
  kRecord = 8,
  kEnum = 9,
  kArray = 10,
  kMap = 11,
  kUnion = 12,
  kFixed = 13,
};

// "null", "record", ...: the name the specification uses.
std::string_view TypeName(Type type);
bool IsNamed(Type type);

// A logical type that is valid on its node. An invalid or unknown
// "logicalType" leaves kNone (the spec says to use the underlying type); the
// attribute is still kept among the node's properties.
enum class LogicalType : uint8_t {
  kNone = 0,
  kDecimal,
  kUuid,
  kDate,
  kTimeMillis,
  kTimeMicros,
  kTimestampMillis,
  kTimestampMicros,
  kTimestampNanos,
  kLocalTimestampMillis,
  kLocalTimestampMicros,
  kLocalTimestampNanos,
  kDuration,
};

std::string_view LogicalTypeName(LogicalType type);

enum class SortOrder : uint8_t { kAscending, kDescending, kIgnore };

struct Node;

struct Field {
  std::string name;
  const Node* type = nullptr;
  // The default as written, validated against `type`. nullopt when the
  // field has none; a JSON null (`"default": null`) is a present default.
  std::optional<json::Value> default_value;
  std::string doc;
  std::vector<std::string> aliases;
  SortOrder order = SortOrder::kAscending;
  // Attributes other than the reserved ones, in their order.
  std::vector<json::Value::Member> properties;
  // Index in the record's field list.
  int position = 0;
};

// One schema node. Plain data, owned by its Schema.
struct Node {
  Type type = Type::kNull;
  LogicalType logical_type = LogicalType::kNone;
  // decimal only.
  int precision = 0;
  int scale = 0;

  // Named types (record, enum, fixed): full name ("ns.Name"), its last
  // component and namespace ("" for the null namespace).
  std::string full_name;
  std::string name;
  std::string name_space;
  // Aliases, made full names relative to the type's namespace.
  std::vector<std::string> aliases;
  std::string doc;

  std::vector<Field> fields;          // record
  std::vector<std::string> symbols;   // enum
  std::optional<int> enum_default;    // enum: index into symbols
  const Node* items = nullptr;        // array
  const Node* values = nullptr;       // map
  std::vector<const Node*> branches;  // union
  int64_t fixed_size = 0;             // fixed

  // Attributes other than the reserved ones, in their order (this is where
  // an unrecognised or invalid "logicalType" stays).
  std::vector<json::Value::Member> properties;

  // Index in Schema::nodes(), dense from 0.
  int id = 0;

  bool is_named() const { return IsNamed(type); }
  // Index of the field named `name`, or -1. Linear: schemas are small and
  // this is only used while compiling.
  int FieldIndex(std::string_view name) const;
  int SymbolIndex(std::string_view symbol) const;
};

class Schema;

struct SchemaParseOptions {
  // Named types defined by other schemas that this one may reference by
  // name (Confluent schema references). The parsed schema keeps them alive.
  std::vector<std::shared_ptr<const Schema>> references;
  // Validate field and enum defaults (on by default, as Avro 1.11 does).
  bool validate_defaults = true;
  // Deepest JSON nesting accepted, so hostile schemas cannot exhaust the
  // stack.
  int max_depth = 64;
};

class Schema {
 public:
  // Parses a schema from its JSON text. InvalidArgument names where the
  // problem is, e.g. "record 'ns.Payment' field 'amount': ...".
  static Result<std::shared_ptr<const Schema>> Parse(
      std::string_view json_text, const SchemaParseOptions& options = {});
  static Result<std::shared_ptr<const Schema>> FromJson(
      const json::Value& json, const SchemaParseOptions& options = {});

  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;

  const Node& root() const { return *root_; }
  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  // The named type with that full name (including referenced schemas'),
  // or nullptr.
  const Node* FindNamed(std::string_view full_name) const;

  // The schema back as JSON, with docs, aliases, defaults and properties;
  // each named type is written in full once, then by name.
  std::string ToJson() const;
  // Parsing Canonical Form (spec section "Parsing Canonical Form").
  std::string CanonicalForm() const;

 private:
  friend class SchemaParser;
  Schema() = default;

  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::shared_ptr<const Schema>> references_;
  std::map<std::string, const Node*, std::less<>> named_;
  const Node* root_ = nullptr;
};

// Writes `node` as schema JSON (full or canonical) into `out`; `defined`
// tracks the named types already written. Shared by Schema and the
// compatibility report (which prints fragments).
void WriteSchemaJson(const Node& node, bool canonical,
                     std::vector<const Node*>* defined, std::string* out);

// Checks a JSON default value against a schema node. `where` prefixes the
// error message.
Status ValidateDefault(const Node& node, const json::Value& value,
                       const std::string& where);

}  // namespace riffle::avro
