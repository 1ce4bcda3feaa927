// DynamoDB's expression language: KeyConditionExpression,
// ConditionExpression / FilterExpression, ProjectionExpression and
// UpdateExpression, parsed into ASTs with DynamoDB's validation messages,
// then evaluated against items.
//
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.html
//
// Error messages follow AWS's wording as recorded by dynalite and
// DynamoDB Local, e.g.
//   "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"a
//   =\"" "Invalid UpdateExpression: Two document paths overlap with each other;
//    must remove or rewrite one of these paths; path one: [a], path two: [a,
//    b]"
// and AWS's order when an expression has several faults (syntax first, then
// redundant parentheses, unknown functions, misused functions, reserved
// words, then undefined names/values, operand counts and types).
//
// The parser is linear in the input and bounded in depth, so hostile input
// (a 149-deep OR chain, 2,000 nested parentheses) is answered at once.
//
// ASTs are plain values: immutable after parsing, safe to share between
// threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "json/json.h"
#include "tables/attribute_value.h"

namespace riffle::tables {

// True for DynamoDB's reserved words (case-insensitive), which must be
// written through ExpressionAttributeNames.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ReservedWords.html
bool IsReservedWord(std::string_view word);

// One step of a document path: a map key (attribute name) or a list index.
struct PathElement {
  bool is_index = false;
  std::string name;    // !is_index: the resolved name (after #substitution)
  uint32_t index = 0;  // is_index

  friend bool operator==(const PathElement&, const PathElement&) = default;
};
// a.b[2].c: the first element is always a name.
using DocumentPath = std::vector<PathElement>;
// "[a, b, [2], c]" as AWS prints paths in messages.
std::string PathForMessage(const DocumentPath& path);

// ExpressionAttributeNames and ExpressionAttributeValues of one request,
// and which of them the request's expressions used. Not thread-safe (one
// per request).
class ExpressionAttributes {
 public:
  // Validates the request members (either may be null/absent) with AWS's
  // messages: "ExpressionAttributeNames must not be empty",
  // "ExpressionAttributeNames contains invalid key: Syntax error; key: \"x\"",
  // "ExpressionAttributeValues contains invalid value: <why> for key :v".
  static Result<ExpressionAttributes> FromJson(const json::Value* names,
                                               const json::Value* values);
  ExpressionAttributes() = default;
  ExpressionAttributes(std::map<std::string, std::string> names,
                       std::map<std::string, AttributeValue> values)
      : names_(std::move(names)), values_(std::move(values)) {}

  // nullptr when undefined; marks the entry used.
  const std::string* Name(std::string_view key);
  const AttributeValue* Value(std::string_view key);

  // After every expression of the request is parsed: the error for entries
  // no expression used ("Value provided in ExpressionAttributeNames unused
  // in expressions: keys: {#a}"), names first.
  Status CheckAllUsed() const;

 private:
  std::map<std::string, std::string> names_;
  std::map<std::string, AttributeValue> values_;
  std::set<std::string> used_names_;
  std::set<std::string> used_values_;
};

// A value-producing operand.
struct Operand {
  enum class Kind {
    kPath,         // a document path
    kValue,        // an :value, resolved
    kSize,         // size(path): conditions only
    kIfNotExists,  // if_not_exists(path, operand): updates only
    kListAppend,   // list_append(operand, operand): updates only
    kPlus,         // operand + operand: updates only
    kMinus,        // operand - operand: updates only
  };
  Kind kind = Kind::kPath;
  DocumentPath path;
  AttributeValue value;
  std::vector<Operand> args;
};

enum class Comparator { kEq, kNe, kLt, kLe, kGt, kGe };

// A condition (ConditionExpression, FilterExpression,
// KeyConditionExpression).
struct Condition {
  enum class Kind {
    kCompare,             // operands[0] op operands[1]
    kBetween,             // operands[0] BETWEEN operands[1] AND operands[2]
    kIn,                  // operands[0] IN (operands[1..])
    kAnd,                 // children[0] AND children[1]
    kOr,                  // children[0] OR children[1]
    kNot,                 // NOT children[0]
    kAttributeExists,     // operands[0] is a path
    kAttributeNotExists,  // operands[0] is a path
    kAttributeType,       // operands[0] path, operands[1] a type name
    kBeginsWith,          // operands[0], operands[1]
    kContains,            // operands[0], operands[1]
  };
  Kind kind = Kind::kCompare;
  Comparator op = Comparator::kEq;
  std::vector<Operand> operands;
  std::vector<Condition> children;
};

// Which expression is being parsed: names the expression in messages and
// selects what is allowed.
enum class ConditionUse { kCondition, kFilter, kKeyCondition };

// Parses a ConditionExpression, FilterExpression or KeyConditionExpression.
// Errors are InvalidArgument with the whole message
// ("Invalid FilterExpression: ...").
Result<Condition> ParseCondition(std::string_view text, ConditionUse use,
                                 ExpressionAttributes& attributes);

// A ProjectionExpression: the paths to return.
Result<std::vector<DocumentPath>> ParseProjection(
    std::string_view text, ExpressionAttributes& attributes);

struct UpdateAction {
  enum class Kind { kSet, kRemove, kAdd, kDelete };
  Kind kind = Kind::kSet;
  DocumentPath path;
  Operand value;  // kSet: the new value; kAdd/kDelete: the :value
};

struct UpdateExpression {
  std::vector<UpdateAction> actions;  // in the order written
};

Result<UpdateExpression> ParseUpdate(std::string_view text,
                                     ExpressionAttributes& attributes);

// The key conditions of a Query, from a parsed KeyConditionExpression:
// one equality on the partition key and at most one condition on the sort
// key. Errors with AWS's messages ("KeyConditionExpressions must only
// contain one condition per key", ...). Which attribute is which is decided
// against the key schema by the caller.
struct KeyCondition {
  std::string attribute;
  enum class Op { kEq, kLt, kLe, kGt, kGe, kBetween, kBeginsWith };
  Op op = Op::kEq;
  std::vector<AttributeValue> values;  // 1, or 2 for BETWEEN
};
Result<std::vector<KeyCondition>> ExtractKeyConditions(
    const Condition& condition);

// --- Evaluation ----------------------------------------------------------

// The value at `path` in `item`, or nullptr.
const AttributeValue* ResolvePath(const Item& item, const DocumentPath& path);

// Whether `item` satisfies `condition` (a missing item is an empty one).
// Type mismatches and missing attributes make a comparison false, as in
// DynamoDB; evaluation never fails.
bool EvaluateCondition(const Condition& condition, const Item& item);

// Applies `update` to `*item` as DynamoDB does: every right-hand side is
// evaluated against the item as it was before the update, list indexes of
// REMOVE refer to the original list, SET past the end of a list appends.
// On error `*item` is unspecified (callers work on a copy) and the status
// is InvalidArgument with DynamoDB's message, e.g. "The provided expression
// refers to an attribute that does not exist in the item".
Status ApplyUpdate(const UpdateExpression& update, Item* item);

// The attributes of `item` selected by `paths` (list elements keep their
// order and close up, as DynamoDB returns them).
Item Project(const Item& item, const std::vector<DocumentPath>& paths);

// Limits (DynamoDB's).
inline constexpr size_t kMaxExpressionBytes = 4096;
inline constexpr int kMaxOperators = 300;
inline constexpr int kMaxInOperands = 100;
inline constexpr int kMaxPathDepth = 32;

}  // namespace riffle::tables
