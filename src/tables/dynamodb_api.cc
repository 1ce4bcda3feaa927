#include "tables/dynamodb_api.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <set>
#include <unordered_map>

#include "core/clock.h"
#include "http/aws_input.h"
#include "json/writer.h"
#include "tables/attribute_json.h"

namespace riffle::tables {
namespace {

using http::AwsError;
using http::AwsInput;
using http::AwsJsonCall;
using http::AwsJsonReply;
using json::Writer;

constexpr std::string_view kAccount = "000000000000";
constexpr std::string_view kTableNamePattern = "[a-zA-Z0-9_.-]+";
constexpr size_t kMaxBatchGetKeys = 100;
constexpr size_t kMaxBatchWrites = 25;
constexpr size_t kMaxTransactItems = 100;
constexpr size_t kMaxTransactBytes = 4u << 20;
constexpr size_t kMaxBatchGetBytes = 16u << 20;
constexpr int kMaxGsis = 20;
constexpr int kMaxLsis = 5;

AwsError Validation(std::string message) {
  return {"ValidationException", std::move(message), 400};
}

AwsError Serialization(std::string message) {
  AwsError e{"SerializationException", std::move(message), 400};
  e.capitalized_message_key = true;
  return e;
}

// Replies with `error` when there is one; true if it did.
bool Rejected(AwsJsonReply& reply, const std::optional<AwsError>& error) {
  if (!error) return false;
  reply.Error(*error);
  return true;
}

std::string RegionOf(const AwsJsonCall& call) {
  return call.credentials.region.empty() ? "us-east-1"
                                         : call.credentials.region;
}

std::string TableArn(const std::string& region, const std::string& table) {
  return fmt::format("arn:aws:dynamodb:{}:{}:table/{}", region, kAccount,
                     table);
}

// A table ARN's table name, or nullopt.
std::optional<std::string> TableFromArn(std::string_view arn) {
  if (!arn.starts_with("arn:aws")) return std::nullopt;
  auto dynamo = arn.find(":dynamodb:");
  auto table = arn.find(":table/");
  if (dynamo == std::string_view::npos || table == std::string_view::npos ||
      table < dynamo) {
    return std::nullopt;
  }
  std::string_view name = arn.substr(table + 7);
  if (auto slash = name.find('/'); slash != std::string_view::npos)
    name = name.substr(0, slash);
  if (name.size() < 3 || !http::MatchesNamePattern(name)) return std::nullopt;
  return std::string(name);
}

// Reads TableName (a name, or since 2023 a table ARN) with AWS's checks.
std::optional<std::string> TableNameOf(AwsInput& in,
                                       std::string_view member = "TableName",
                                       bool required = true) {
  const std::string* name = in.String(member);
  if (required) in.Required(member, name != nullptr);
  if (name && name->starts_with("arn:")) {
    in.Length(member, name, 1, 1024);
    auto from_arn = TableFromArn(*name);
    if (!from_arn) {
      in.AddViolation(member, "'" + *name + "'",
                      "Member must satisfy regular expression pattern: " +
                          std::string(kTableNamePattern));
    }
    return from_arn;
  }
  in.Length(member, name, 3, 255);
  in.Pattern(member, name, kTableNamePattern, http::MatchesNamePattern);
  if (!name) return std::nullopt;
  return *name;
}

// AWS deserializes the whole request before validating it: the first
// SerializationException wins, then an AttributeValue of the wrong shape,
// then the constraint violations.
std::optional<AwsError> FirstError(
    const AwsInput& in, const std::vector<const json::Value*>& value_maps) {
  auto e = in.Error();
  if (e && e->type == "SerializationException") return e;
  for (const json::Value* map : value_maps) {
    if (map == nullptr || !map->is_object()) continue;
    for (const auto& [k, v] : map->members()) {
      if (auto s = CheckAttributeValueShape(v)) return Serialization(*s);
    }
  }
  return e;
}

std::optional<AwsError> ToItem(const json::Value& v, Item* out) {
  WireErrorKind kind = WireErrorKind::kValidation;
  auto item = ItemFromJson(v, &kind);
  if (!item.ok()) {
    if (kind == WireErrorKind::kSerialization)
      return Serialization(item.status().message());
    return Validation(item.status().message());
  }
  *out = std::move(item).value();
  return std::nullopt;
}

std::optional<AwsError> ToValue(const json::Value& v, AttributeValue* out) {
  WireErrorKind kind = WireErrorKind::kValidation;
  auto value = AttributeValueFromJson(v, &kind);
  if (!value.ok()) {
    if (kind == WireErrorKind::kSerialization)
      return Serialization(value.status().message());
    return Validation(value.status().message());
  }
  *out = std::move(value).value();
  return std::nullopt;
}

// --- Consumed capacity -----------------------------------------------------

enum class CapacityDetail { kNone, kTotal, kIndexes };

CapacityDetail ReadCapacityDetail(AwsInput& in) {
  const std::string* s = in.String("ReturnConsumedCapacity");
  in.Enum("ReturnConsumedCapacity", s, {"INDEXES", "TOTAL", "NONE"});
  if (!s) return CapacityDetail::kNone;
  if (*s == "INDEXES") return CapacityDetail::kIndexes;
  if (*s == "TOTAL") return CapacityDetail::kTotal;
  return CapacityDetail::kNone;
}

// One ConsumedCapacity object. `write` names the units
// Read/WriteCapacityUnits, as DynamoDB reports them.
void WriteCapacity(Writer& w, CapacityDetail detail, const std::string& table,
                   const Capacity& c, bool write,
                   const std::shared_ptr<const TableDescription>& desc) {
  const char* units = write ? "WriteCapacityUnits" : "ReadCapacityUnits";
  w.BeginObject();
  w.Key("TableName").String(table);
  w.Key("CapacityUnits").Double(c.total());
  w.Key(units).Double(c.total());
  if (detail == CapacityDetail::kIndexes) {
    w.Key("Table")
        .BeginObject()
        .Key("CapacityUnits")
        .Double(c.table)
        .Key(units)
        .Double(c.table)
        .EndObject();
    for (bool local : {false, true}) {
      bool any = false;
      for (const auto& [name, v] : c.indexes) {
        const IndexSpec* i = desc ? desc->FindIndex(name) : nullptr;
        if (!i || i->local != local) continue;
        if (!any) {
          w.Key(local ? "LocalSecondaryIndexes" : "GlobalSecondaryIndexes")
              .BeginObject();
          any = true;
        }
        w.Key(name)
            .BeginObject()
            .Key("CapacityUnits")
            .Double(v)
            .Key(units)
            .Double(v)
            .EndObject();
      }
      if (any) w.EndObject();
    }
  }
  w.EndObject();
}

// --- Table descriptions ----------------------------------------------------

void WriteKeySchema(Writer& w, const KeySchema& k) {
  w.Key("KeySchema").BeginArray();
  w.BeginObject()
      .Key("AttributeName")
      .String(k.hash.name)
      .Key("KeyType")
      .String("HASH")
      .EndObject();
  if (k.range) {
    w.BeginObject()
        .Key("AttributeName")
        .String(k.range->name)
        .Key("KeyType")
        .String("RANGE")
        .EndObject();
  }
  w.EndArray();
}

void WriteThroughput(Writer& w, int64_t read, int64_t write) {
  w.Key("ProvisionedThroughput")
      .BeginObject()
      .Key("NumberOfDecreasesToday")
      .Int(0)
      .Key("ReadCapacityUnits")
      .Int(read)
      .Key("WriteCapacityUnits")
      .Int(write)
      .EndObject();
}

std::string TableId(uint64_t id) {
  // A stable UUID-shaped id derived from the internal one.
  return fmt::format("00000000-0000-4000-8000-{:012x}", id);
}

// "2024-01-31T12:00:00.000", the creation time in UTC, as AWS labels
// streams.
std::string StreamLabel(int64_t ms) {
  return FormatUtc(ms, FractionDigits::kMillis);
}

void WriteTableDescription(Writer& w, const TableDescription& t,
                           const std::string& region, const TableStats* stats) {
  const std::string arn = TableArn(region, t.spec.name);
  w.BeginObject();
  w.Key("AttributeDefinitions").BeginArray();
  for (const KeyElement& a : t.spec.attributes) {
    w.BeginObject()
        .Key("AttributeName")
        .String(a.name)
        .Key("AttributeType")
        .String(AttributeTypeName(a.type))
        .EndObject();
  }
  w.EndArray();
  w.Key("TableName").String(t.spec.name);
  WriteKeySchema(w, t.spec.key);
  w.Key("TableStatus").String(t.status);
  w.Key("CreationDateTime").Double(static_cast<double>(t.created_ms) / 1000);
  WriteThroughput(w, t.spec.read_capacity, t.spec.write_capacity);
  w.Key("TableSizeBytes").Int(stats ? stats->size_bytes : 0);
  w.Key("ItemCount").Int(stats ? stats->item_count : 0);
  w.Key("TableArn").String(arn);
  w.Key("TableId").String(TableId(t.id));
  if (t.spec.billing_mode == "PAY_PER_REQUEST") {
    w.Key("BillingModeSummary")
        .BeginObject()
        .Key("BillingMode")
        .String("PAY_PER_REQUEST")
        .Key("LastUpdateToPayPerRequestDateTime")
        .Double(static_cast<double>(t.billing_changed_ms) / 1000)
        .EndObject();
  }
  for (bool local : {true, false}) {
    bool any = false;
    for (const IndexSpec& i : t.spec.indexes) {
      if (i.local != local) continue;
      if (!any) {
        w.Key(local ? "LocalSecondaryIndexes" : "GlobalSecondaryIndexes")
            .BeginArray();
        any = true;
      }
      w.BeginObject();
      w.Key("IndexName").String(i.name);
      WriteKeySchema(w, i.key);
      w.Key("Projection").BeginObject();
      w.Key("ProjectionType").String(ProjectionTypeName(i.projection));
      if (i.projection == ProjectionType::kInclude) {
        w.Key("NonKeyAttributes").BeginArray();
        for (const std::string& n : i.non_key_attributes) w.String(n);
        w.EndArray();
      }
      w.EndObject();
      if (!local) {
        w.Key("IndexStatus").String("ACTIVE");
        WriteThroughput(w, i.read_capacity, i.write_capacity);
      }
      int64_t count = 0, bytes = 0;
      if (stats) {
        auto it = stats->indexes.find(i.name);
        if (it != stats->indexes.end()) std::tie(count, bytes) = it->second;
      }
      w.Key("IndexSizeBytes").Int(bytes);
      w.Key("ItemCount").Int(count);
      w.Key("IndexArn").String(arn + "/index/" + i.name);
      w.EndObject();
    }
    if (any) w.EndArray();
  }
  if (t.spec.stream_enabled) {
    w.Key("StreamSpecification")
        .BeginObject()
        .Key("StreamEnabled")
        .Bool(true)
        .Key("StreamViewType")
        .String(t.spec.stream_view_type)
        .EndObject();
    std::string label = StreamLabel(t.created_ms);
    w.Key("LatestStreamLabel").String(label);
    w.Key("LatestStreamArn").String(arn + "/stream/" + label);
  }
  if (!t.spec.table_class.empty()) {
    w.Key("TableClassSummary")
        .BeginObject()
        .Key("TableClass")
        .String(t.spec.table_class)
        .EndObject();
  }
  w.Key("DeletionProtectionEnabled").Bool(t.spec.deletion_protection);
  w.EndObject();
}

// --- Expressions and the legacy parameters ---------------------------------

// The members a request may use for expressions, and their legacy
// counterparts (AWS refuses mixing the two).
struct ExpressionMembers {
  const std::string* condition = nullptr;   // ConditionExpression
  const std::string* filter = nullptr;      // FilterExpression
  const std::string* key = nullptr;         // KeyConditionExpression
  const std::string* projection = nullptr;  // ProjectionExpression
  const std::string* update = nullptr;      // UpdateExpression
  const json::Value* names = nullptr;
  const json::Value* values = nullptr;
  // Legacy.
  const json::Value* expected = nullptr;
  const json::Value* key_conditions = nullptr;
  const json::Value* query_filter = nullptr;
  const json::Value* scan_filter = nullptr;
  const json::Value* attributes_to_get = nullptr;
  const json::Value* attribute_updates = nullptr;
  const std::string* conditional_operator = nullptr;
};

// What a request's expressions parse to.
struct Parsed {
  std::optional<Condition> condition;  // ConditionExpression or Expected
  std::optional<Condition> filter;     // FilterExpression or Query/ScanFilter
  std::optional<std::vector<KeyCondition>> key;
  std::optional<std::vector<DocumentPath>> projection;
  std::optional<UpdateExpression> update;
};

ExpressionMembers ReadExpressionMembers(AwsInput& in) {
  ExpressionMembers m;
  m.condition = in.String("ConditionExpression");
  m.filter = in.String("FilterExpression");
  m.key = in.String("KeyConditionExpression");
  m.projection = in.String("ProjectionExpression");
  m.update = in.String("UpdateExpression");
  m.names = in.Map("ExpressionAttributeNames");
  m.values = in.Map("ExpressionAttributeValues");
  m.expected = in.Map("Expected");
  m.key_conditions = in.Map("KeyConditions");
  m.query_filter = in.Map("QueryFilter");
  m.scan_filter = in.Map("ScanFilter");
  m.attributes_to_get = in.List("AttributesToGet");
  in.ListLength("AttributesToGet", m.attributes_to_get, 1, 1 << 30);
  m.attribute_updates = in.Map("AttributeUpdates");
  m.conditional_operator = in.String("ConditionalOperator");
  in.Enum("ConditionalOperator", m.conditional_operator, {"AND", "OR"});
  return m;
}

// The AttributeValues inside legacy conditions, for the shape pass.
void CollectLegacyValues(const json::Value* conditions,
                         std::vector<const json::Value*>* out,
                         std::vector<json::Value>* scratch) {
  if (!conditions || !conditions->is_object()) return;
  for (const auto& [name, c] : conditions->members()) {
    if (!c.is_object()) continue;
    json::Value wrapper = json::Value::Object();
    if (const json::Value* v = c.Find("Value")) wrapper.Set("Value", *v);
    if (const json::Value* list = c.Find("AttributeValueList");
        list && list->is_array()) {
      int i = 0;
      for (const json::Value& v : list->items())
        wrapper.Set(std::to_string(i++), v);
    }
    scratch->push_back(std::move(wrapper));
  }
  for (const json::Value& w : *scratch) out->push_back(&w);
}

Operand PathOperand(const std::string& name) {
  Operand o;
  o.kind = Operand::Kind::kPath;
  o.path = {PathElement{false, name, 0}};
  return o;
}
Operand ValueOperand(AttributeValue v) {
  Operand o;
  o.kind = Operand::Kind::kValue;
  o.value = std::move(v);
  return o;
}

Condition Combine(std::vector<Condition> parts, bool use_or) {
  Condition out = std::move(parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) {
    Condition c;
    c.kind = use_or ? Condition::Kind::kOr : Condition::Kind::kAnd;
    c.children = {std::move(out), std::move(parts[i])};
    out = std::move(c);
  }
  return out;
}

// One legacy condition (Expected, QueryFilter, ScanFilter, KeyConditions
// entry): ComparisonOperator with AttributeValueList, or Exists/Value.
std::optional<AwsError> LegacyCondition(const std::string& name,
                                        const json::Value& spec,
                                        bool expected_form, Condition* out) {
  if (!spec.is_object()) return Serialization("Expected null");
  const json::Value* op = spec.Find("ComparisonOperator");
  const json::Value* list = spec.Find("AttributeValueList");
  const json::Value* value = spec.Find("Value");
  const json::Value* exists = spec.Find("Exists");
  if (op && op->is_null()) op = nullptr;
  if (list && list->is_null()) list = nullptr;
  if (value && value->is_null()) value = nullptr;
  if (exists && exists->is_null()) exists = nullptr;
  std::vector<AttributeValue> args;
  if (list) {
    if (!list->is_array()) return Serialization("Expected list or null");
    for (const json::Value& v : list->items()) {
      AttributeValue a;
      if (auto e = ToValue(v, &a)) return e;
      args.push_back(std::move(a));
    }
  }
  if (!op) {
    if (!expected_form) {
      return Validation(
          "One or more parameter values were invalid: Invalid number of "
          "argument(s) for the null ComparisonOperator");
    }
    if (list) {
      return Validation(
          "One or more parameter values were invalid: AttributeValueList can "
          "only be used with a ComparisonOperator for Attribute: " +
          name);
    }
    bool must_exist = !exists || !exists->is_bool() || exists->bool_value();
    if (!must_exist) {
      if (value) {
        return Validation(
            "One or more parameter values were invalid: Value cannot be used "
            "when Exists is false for Attribute: " +
            name);
      }
      out->kind = Condition::Kind::kAttributeNotExists;
      out->operands = {PathOperand(name)};
      return std::nullopt;
    }
    if (!value) {
      return Validation(
          std::string("One or more parameter values were invalid: Value must "
                      "be provided when Exists is ") +
          (exists ? "true" : "null") + " for Attribute: " + name);
    }
    AttributeValue v;
    if (auto e = ToValue(*value, &v)) return e;
    out->kind = Condition::Kind::kCompare;
    out->op = Comparator::kEq;
    out->operands = {PathOperand(name), ValueOperand(std::move(v))};
    return std::nullopt;
  }
  if (!op->is_string()) return Serialization("Expected null");
  if (exists) {
    return Validation(
        "One or more parameter values were invalid: Exists and "
        "ComparisonOperator cannot be used together for Attribute: " +
        name);
  }
  if (value) {
    if (list) {
      return Validation(
          "One or more parameter values were invalid: Value and "
          "AttributeValueList cannot be used together for Attribute: " +
          name);
    }
    AttributeValue v;
    if (auto e = ToValue(*value, &v)) return e;
    args.push_back(std::move(v));
  }
  const std::string& o = op->text();
  auto argc = [&](size_t n) -> std::optional<AwsError> {
    if (args.size() == n) return std::nullopt;
    return Validation(
        "One or more parameter values were invalid: Invalid number of "
        "argument(s) for the " +
        o + " ComparisonOperator");
  };
  static const std::map<std::string, Comparator> kCompare = {
      {"EQ", Comparator::kEq}, {"NE", Comparator::kNe},
      {"LT", Comparator::kLt}, {"LE", Comparator::kLe},
      {"GT", Comparator::kGt}, {"GE", Comparator::kGe}};
  if (auto it = kCompare.find(o); it != kCompare.end()) {
    if (auto e = argc(1)) return e;
    const AttributeValue& a = args[0];
    if (it->second != Comparator::kEq && it->second != Comparator::kNe &&
        !(a.is(AttributeType::kS) || a.is(AttributeType::kN) ||
          a.is(AttributeType::kB))) {
      return Validation(
          "One or more parameter values were invalid: ComparisonOperator " + o +
          " is not valid for " + std::string(AttributeTypeName(a.type())) +
          " AttributeValue type");
    }
    out->kind = Condition::Kind::kCompare;
    out->op = it->second;
    out->operands = {PathOperand(name), ValueOperand(args[0])};
  } else if (o == "NOT_NULL" || o == "NULL") {
    if (auto e = argc(0)) return e;
    out->kind = o == "NULL" ? Condition::Kind::kAttributeNotExists
                            : Condition::Kind::kAttributeExists;
    out->operands = {PathOperand(name)};
  } else if (o == "CONTAINS" || o == "NOT_CONTAINS" || o == "BEGINS_WITH") {
    if (auto e = argc(1)) return e;
    Condition c;
    c.kind = o == "BEGINS_WITH" ? Condition::Kind::kBeginsWith
                                : Condition::Kind::kContains;
    c.operands = {PathOperand(name), ValueOperand(args[0])};
    if (o == "NOT_CONTAINS") {
      // Legacy NOT_CONTAINS holds only for an attribute that exists.
      Condition exists_c;
      exists_c.kind = Condition::Kind::kAttributeExists;
      exists_c.operands = {PathOperand(name)};
      Condition neg;
      neg.kind = Condition::Kind::kNot;
      neg.children = {std::move(c)};
      *out = Combine({std::move(exists_c), std::move(neg)}, false);
    } else {
      *out = std::move(c);
    }
  } else if (o == "IN") {
    if (args.empty()) return argc(1);
    out->kind = Condition::Kind::kIn;
    out->operands = {PathOperand(name)};
    for (AttributeValue& a : args) out->operands.push_back(ValueOperand(a));
  } else if (o == "BETWEEN") {
    if (auto e = argc(2)) return e;
    if (args[0].type() != args[1].type() ||
        CompareKeyValues(args[0], args[1]) > 0) {
      return Validation(
          "The BETWEEN condition was provided a range where the lower bound "
          "is greater than the upper bound");
    }
    out->kind = Condition::Kind::kBetween;
    out->operands = {PathOperand(name), ValueOperand(args[0]),
                     ValueOperand(args[1])};
  } else {
    return Validation(
        "1 validation error detected: Value '" + o +
        "' at 'comparisonOperator' failed to satisfy constraint: Member must "
        "satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, "
        "GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]");
  }
  return std::nullopt;
}

std::optional<AwsError> LegacyConditions(const json::Value& map,
                                         bool expected_form,
                                         const std::string* conditional_op,
                                         std::optional<Condition>* out) {
  std::vector<Condition> parts;
  for (const auto& [name, spec] : map.members()) {
    Condition c;
    if (auto e = LegacyCondition(name, spec, expected_form, &c)) return e;
    parts.push_back(std::move(c));
  }
  if (parts.empty()) return std::nullopt;
  *out = Combine(std::move(parts), conditional_op && *conditional_op == "OR");
  return std::nullopt;
}

std::optional<AwsError> LegacyKeyConditions(const json::Value& map,
                                            std::vector<KeyCondition>* out) {
  for (const auto& [name, spec] : map.members()) {
    Condition c;
    if (auto e = LegacyCondition(name, spec, false, &c)) return e;
    KeyCondition k;
    k.attribute = name;
    const json::Value* op = spec.Find("ComparisonOperator");
    std::string o = op ? op->text() : "";
    if (c.kind == Condition::Kind::kCompare && c.op != Comparator::kNe) {
      static const std::map<Comparator, KeyCondition::Op> kOps = {
          {Comparator::kEq, KeyCondition::Op::kEq},
          {Comparator::kLt, KeyCondition::Op::kLt},
          {Comparator::kLe, KeyCondition::Op::kLe},
          {Comparator::kGt, KeyCondition::Op::kGt},
          {Comparator::kGe, KeyCondition::Op::kGe}};
      k.op = kOps.at(c.op);
      k.values = {c.operands[1].value};
    } else if (c.kind == Condition::Kind::kBetween) {
      k.op = KeyCondition::Op::kBetween;
      k.values = {c.operands[1].value, c.operands[2].value};
    } else if (c.kind == Condition::Kind::kBeginsWith) {
      k.op = KeyCondition::Op::kBeginsWith;
      k.values = {c.operands[1].value};
    } else {
      return Validation(
          "Attempted conditional constraint is not an indexable operation");
    }
    out->push_back(std::move(k));
  }
  if (out->size() > 2) {
    return Validation("Conditions can be of length 1 or 2 only");
  }
  return std::nullopt;
}

std::optional<AwsError> LegacyUpdates(const json::Value& map,
                                      UpdateExpression* out) {
  for (const auto& [name, spec] : map.members()) {
    if (!spec.is_object()) return Serialization("Expected null");
    const json::Value* action = spec.Find("Action");
    const json::Value* value = spec.Find("Value");
    if (value && value->is_null()) value = nullptr;
    std::string a = action && action->is_string() ? action->text() : "PUT";
    UpdateAction u;
    u.path = {PathElement{false, name, 0}};
    AttributeValue v;
    if (value) {
      if (auto e = ToValue(*value, &v)) return e;
    }
    if (a == "PUT") {
      if (!value) {
        return Validation(
            "One or more parameter values were invalid: Only DELETE action "
            "is allowed when no attribute value is specified");
      }
      u.kind = UpdateAction::Kind::kSet;
      u.value = ValueOperand(std::move(v));
    } else if (a == "DELETE") {
      if (value) {
        if (!v.is_set()) {
          return Validation(
              "One or more parameter values were invalid: DELETE action with "
              "value is not supported for the type " +
              std::string(AttributeTypeName(v.type())));
        }
        u.kind = UpdateAction::Kind::kDelete;
        u.value = ValueOperand(std::move(v));
      } else {
        u.kind = UpdateAction::Kind::kRemove;
      }
    } else if (a == "ADD") {
      if (!value) {
        return Validation(
            "One or more parameter values were invalid: Only DELETE action "
            "is allowed when no attribute value is specified");
      }
      if (v.is(AttributeType::kL)) {
        // Legacy ADD appends to a list: SET a = list_append(if_not_exists).
        Operand existing;
        existing.kind = Operand::Kind::kIfNotExists;
        existing.args = {PathOperand(name),
                         ValueOperand(AttributeValue::L({}))};
        Operand append;
        append.kind = Operand::Kind::kListAppend;
        append.args = {std::move(existing), ValueOperand(std::move(v))};
        u.kind = UpdateAction::Kind::kSet;
        u.value = std::move(append);
      } else if (!v.is(AttributeType::kN) && !v.is_set()) {
        return Validation(
            "One or more parameter values were invalid: ADD action is not "
            "supported for the type " +
            std::string(AttributeTypeName(v.type())));
      } else {
        u.kind = UpdateAction::Kind::kAdd;
        u.value = ValueOperand(std::move(v));
      }
    } else {
      return Validation(
          "1 validation error detected: Value '" + a +
          "' at 'attributeUpdates." + name +
          ".member.action' failed to satisfy constraint: Member must satisfy "
          "enum value set: [ADD, PUT, DELETE]");
    }
    out->actions.push_back(std::move(u));
  }
  return std::nullopt;
}

// Parses every expression of a request (or its legacy parameters), with
// AWS's checks for mixing them and for unused names and values.
std::optional<AwsError> ParseExpressions(const ExpressionMembers& m,
                                         Parsed* out) {
  std::vector<std::string> legacy, modern;
  auto note = [](std::vector<std::string>& v, bool present, const char* n) {
    if (present) v.emplace_back(n);
  };
  note(legacy, m.attributes_to_get, "AttributesToGet");
  note(legacy, m.attribute_updates, "AttributeUpdates");
  note(legacy, m.conditional_operator, "ConditionalOperator");
  note(legacy, m.expected, "Expected");
  note(legacy, m.key_conditions, "KeyConditions");
  note(legacy, m.query_filter, "QueryFilter");
  note(legacy, m.scan_filter, "ScanFilter");
  note(modern, m.condition, "ConditionExpression");
  note(modern, m.filter, "FilterExpression");
  note(modern, m.key, "KeyConditionExpression");
  note(modern, m.projection, "ProjectionExpression");
  note(modern, m.update, "UpdateExpression");
  auto braces = [](const std::vector<std::string>& v) {
    std::string s = "{";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s + "}";
  };
  if (!legacy.empty() && !modern.empty()) {
    return Validation(
        "Can not use both expression and non-expression parameters in the "
        "same request: Non-expression parameters: " +
        braces(legacy) + " Expression parameters: " + braces(modern));
  }
  if (modern.empty()) {
    if (m.names) {
      return Validation(
          "ExpressionAttributeNames can only be specified when using "
          "expressions");
    }
    if (m.values) {
      return Validation(
          "ExpressionAttributeValues can only be specified when using "
          "expressions");
    }
    if (m.expected) {
      if (auto e = LegacyConditions(*m.expected, true, m.conditional_operator,
                                    &out->condition))
        return e;
    }
    const json::Value* filter = m.query_filter ? m.query_filter : m.scan_filter;
    if (filter) {
      if (auto e = LegacyConditions(*filter, false, m.conditional_operator,
                                    &out->filter))
        return e;
    }
    if (m.key_conditions) {
      std::vector<KeyCondition> keys;
      if (auto e = LegacyKeyConditions(*m.key_conditions, &keys)) return e;
      out->key = std::move(keys);
    }
    if (m.attributes_to_get) {
      std::vector<DocumentPath> paths;
      std::set<std::string> seen;
      for (const json::Value& a : m.attributes_to_get->items()) {
        if (!seen.insert(a.text()).second) {
          return Validation(
              "One or more parameter values were invalid: Duplicate value in "
              "attribute name: " +
              a.text());
        }
        paths.push_back({PathElement{false, a.text(), 0}});
      }
      out->projection = std::move(paths);
    }
    if (m.attribute_updates) {
      UpdateExpression u;
      if (auto e = LegacyUpdates(*m.attribute_updates, &u)) return e;
      out->update = std::move(u);
    }
    return std::nullopt;
  }
  auto attrs = ExpressionAttributes::FromJson(m.names, m.values);
  if (!attrs.ok()) return Validation(attrs.status().message());
  if (m.key) {
    auto c = ParseCondition(*m.key, ConditionUse::kKeyCondition, *attrs);
    if (!c.ok()) return Validation(c.status().message());
    auto keys = ExtractKeyConditions(*c);
    if (!keys.ok()) return Validation(keys.status().message());
    out->key = std::move(keys).value();
  }
  if (m.condition) {
    auto c = ParseCondition(*m.condition, ConditionUse::kCondition, *attrs);
    if (!c.ok()) return Validation(c.status().message());
    out->condition = std::move(c).value();
  }
  if (m.filter) {
    auto c = ParseCondition(*m.filter, ConditionUse::kFilter, *attrs);
    if (!c.ok()) return Validation(c.status().message());
    out->filter = std::move(c).value();
  }
  if (m.projection) {
    auto p = ParseProjection(*m.projection, *attrs);
    if (!p.ok()) return Validation(p.status().message());
    out->projection = std::move(p).value();
  }
  if (m.update) {
    auto u = ParseUpdate(*m.update, *attrs);
    if (!u.ok()) return Validation(u.status().message());
    out->update = std::move(u).value();
  }
  if (Status s = attrs->CheckAllUsed(); !s.ok()) return Validation(s.message());
  return std::nullopt;
}

std::optional<ReturnValues> ReadReturnValues(AwsInput& in) {
  const std::string* rv = in.String("ReturnValues");
  in.Enum("ReturnValues", rv,
          {"NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"});
  if (!rv || *rv == "NONE") return ReturnValues::kNone;
  if (*rv == "ALL_OLD") return ReturnValues::kAllOld;
  if (*rv == "UPDATED_OLD") return ReturnValues::kUpdatedOld;
  if (*rv == "ALL_NEW") return ReturnValues::kAllNew;
  if (*rv == "UPDATED_NEW") return ReturnValues::kUpdatedNew;
  return std::nullopt;
}

bool ReadReturnOnFailure(AwsInput& in) {
  const std::string* s = in.String("ReturnValuesOnConditionCheckFailure");
  in.Enum("ReturnValuesOnConditionCheckFailure", s, {"ALL_OLD", "NONE"});
  return s && *s == "ALL_OLD";
}

bool ReadItemCollectionMetrics(AwsInput& in) {
  const std::string* s = in.String("ReturnItemCollectionMetrics");
  in.Enum("ReturnItemCollectionMetrics", s, {"SIZE", "NONE"});
  return s && *s == "SIZE";
}

void WriteItemOrEmpty(Writer& w, const char* key,
                      const std::optional<Item>& item) {
  if (item && !item->empty()) {
    w.Key(key);
    WriteItem(w, *item);
  }
}

}  // namespace

http::AwsError DynamoDbError(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return {"ValidationException", status.message(), 400};
    case StatusCode::kNotFound:
      return {"ResourceNotFoundException", status.message(), 400};
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return {"ResourceInUseException", status.message(), 400};
    case StatusCode::kAborted:
      return {"ConditionalCheckFailedException", status.message(), 400};
    case StatusCode::kQuotaExceeded:
      return {"LimitExceededException", status.message(), 400};
    case StatusCode::kResourceExhausted:
      return {"ProvisionedThroughputExceededException", status.message(), 400};
    case StatusCode::kUnavailable:
      return {"InternalServerError", status.message(), 500};
    default:
      return {"InternalServerError", status.message(), 500};
  }
}

}  // namespace riffle::tables

namespace riffle::tables {
namespace {

// Reads a KeySchema list ("keySchema" in messages); names in order.
struct KeyNames {
  std::string hash;
  std::optional<std::string> range;
};

std::optional<KeyNames> ReadKeySchema(AwsInput& in, const json::Value* list,
                                      const std::string& path,
                                      std::optional<AwsError>* semantic) {
  if (!list) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> elements;
  int n = 0;
  for (const json::Value& e : list->items()) {
    ++n;
    if (!e.is_object()) {
      in.SerializationError("Unexpected value type in payload");
      return std::nullopt;
    }
    AwsInput c = in.Child(e, fmt::format("{}.{}.member", path, n));
    const std::string* name = c.String("AttributeName");
    c.Required("AttributeName", name != nullptr);
    c.Length("AttributeName", name, 1, 255);
    const std::string* type = c.String("KeyType");
    c.Required("KeyType", type != nullptr);
    c.Enum("KeyType", type, {"HASH", "RANGE"});
    elements.emplace_back(name ? *name : "", type ? *type : "");
  }
  if (elements.empty() || elements.size() > 2 || semantic->has_value())
    return std::nullopt;
  if (elements[0].second != "HASH") {
    *semantic = Validation(
        "Invalid KeySchema: The first KeySchemaElement is not a "
        "HASH key type");
    return std::nullopt;
  }
  KeyNames k;
  k.hash = elements[0].first;
  if (elements.size() == 2) {
    if (elements[1].second != "RANGE") {
      *semantic = Validation(
          "Invalid KeySchema: The second KeySchemaElement is not a "
          "RANGE key type");
      return std::nullopt;
    }
    if (elements[1].first == elements[0].first) {
      *semantic = Validation(
          "Both the Hash Key and the Range Key element in the KeySchema have "
          "the same name");
      return std::nullopt;
    }
    k.range = elements[1].first;
  }
  return k;
}

std::optional<std::pair<int64_t, int64_t>> ReadThroughput(
    AwsInput& in, const json::Value* pt, const std::string& path) {
  if (!pt) return std::nullopt;
  AwsInput c = in.Child(*pt, path);
  auto r = c.Int("ReadCapacityUnits");
  c.Required("ReadCapacityUnits", r.has_value());
  c.Range("ReadCapacityUnits", r, 1, INT64_MAX);
  auto w = c.Int("WriteCapacityUnits");
  c.Required("WriteCapacityUnits", w.has_value());
  c.Range("WriteCapacityUnits", w, 1, INT64_MAX);
  return std::make_pair(r.value_or(0), w.value_or(0));
}

struct IndexInput {
  std::string name;
  std::optional<KeyNames> key;
  ProjectionType projection = ProjectionType::kAll;
  std::vector<std::string> non_key;
  bool non_key_given = false;
  std::optional<std::pair<int64_t, int64_t>> throughput;
};

std::vector<IndexInput> ReadIndexes(AwsInput& in, const json::Value* list,
                                    const std::string& path, bool global,
                                    std::optional<AwsError>* semantic) {
  std::vector<IndexInput> out;
  if (!list) return out;
  int n = 0;
  for (const json::Value& e : list->items()) {
    ++n;
    if (!e.is_object()) {
      in.SerializationError("Unexpected value type in payload");
      return out;
    }
    std::string p = fmt::format("{}.{}.member", path, n);
    AwsInput c = in.Child(e, p);
    IndexInput idx;
    const std::string* name = c.String("IndexName");
    c.Required("IndexName", name != nullptr);
    c.Length("IndexName", name, 3, 255);
    c.Pattern("IndexName", name, kTableNamePattern, http::MatchesNamePattern);
    if (name) idx.name = *name;
    const json::Value* ks = c.List("KeySchema");
    c.Required("KeySchema", ks != nullptr);
    c.ListLength("KeySchema", ks, 1, 2);
    idx.key = ReadKeySchema(c, ks, p + ".keySchema", semantic);
    const json::Value* proj = c.Struct("Projection");
    c.Required("Projection", proj != nullptr);
    if (proj) {
      AwsInput pc = c.Child(*proj, p + ".projection");
      const std::string* type = pc.String("ProjectionType");
      pc.Enum("ProjectionType", type, {"ALL", "KEYS_ONLY", "INCLUDE"});
      if (type && *type == "KEYS_ONLY")
        idx.projection = ProjectionType::kKeysOnly;
      if (type && *type == "INCLUDE") idx.projection = ProjectionType::kInclude;
      const json::Value* nk = pc.List("NonKeyAttributes");
      pc.ListLength("NonKeyAttributes", nk, 1, 20);
      if (nk) {
        idx.non_key_given = true;
        for (const json::Value& a : nk->items())
          idx.non_key.push_back(a.text());
      }
      if (!semantic->has_value()) {
        if (idx.projection == ProjectionType::kInclude && !nk) {
          *semantic = Validation(
              "One or more parameter values were invalid: ProjectionType is "
              "INCLUDE, but NonKeyAttributes is not specified");
        } else if (idx.projection != ProjectionType::kInclude && nk) {
          *semantic = Validation(
              "One or more parameter values were invalid: ProjectionType is " +
              std::string(ProjectionTypeName(idx.projection)) +
              ", but NonKeyAttributes is specified");
        }
      }
    }
    if (global) {
      idx.throughput = ReadThroughput(c, c.Struct("ProvisionedThroughput"),
                                      p + ".provisionedThroughput");
    }
    out.push_back(std::move(idx));
  }
  return out;
}

std::string NameList(const std::vector<std::string>& names) {
  std::string s = "[";
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
  return s + "]";
}

// Resolves key names against AttributeDefinitions.
std::optional<AwsError> Resolve(
    const KeyNames& names, const std::map<std::string, AttributeType>& defs,
    KeySchema* out) {
  auto find = [&](const std::string& n, KeyElement* e) {
    auto it = defs.find(n);
    if (it == defs.end()) return false;
    *e = {n, it->second};
    return true;
  };
  std::vector<std::string> def_names;
  for (const auto& [n, t] : defs) def_names.push_back(n);
  std::vector<std::string> missing;
  if (!find(names.hash, &out->hash)) missing.push_back(names.hash);
  if (names.range) {
    KeyElement r;
    if (!find(*names.range, &r)) missing.push_back(*names.range);
    out->range = r;
  }
  if (!missing.empty()) {
    std::vector<std::string> keys = {names.hash};
    if (names.range) keys.push_back(*names.range);
    return Validation(
        "One or more parameter values were invalid: Some index key attributes "
        "are not defined in AttributeDefinitions. Keys: " +
        NameList(keys) + ", AttributeDefinitions: " + NameList(def_names));
  }
  return std::nullopt;
}

std::optional<AwsError> ReadTags(AwsInput& in, const json::Value* list,
                                 const std::string& path,
                                 std::map<std::string, std::string>* out) {
  if (!list) return std::nullopt;
  int n = 0;
  for (const json::Value& t : list->items()) {
    ++n;
    if (!t.is_object()) {
      in.SerializationError("Unexpected value type in payload");
      return std::nullopt;
    }
    AwsInput c = in.Child(t, fmt::format("{}.{}.member", path, n));
    const std::string* k = c.String("Key");
    c.Required("Key", k != nullptr);
    c.Length("Key", k, 1, 128);
    const std::string* v = c.String("Value");
    c.Required("Value", v != nullptr);
    c.Length("Value", v, 0, 256);
    if (k && v) (*out)[*k] = *v;
  }
  return std::nullopt;
}

// Idempotency of TransactWriteItems' ClientRequestToken: a token seen in
// the last 10 minutes with the same request succeeds again without writing;
// with another request it is IdempotentParameterMismatchException.
// Thread-safe.
class TokenCache {
 public:
  enum class Outcome { kNew, kReplay, kMismatch, kInProgress };
  Outcome Begin(const std::string& token, const std::string& fingerprint,
                std::string* response) {
    std::lock_guard lock(mu_);
    Expire();
    auto it = entries_.find(token);
    if (it == entries_.end()) {
      entries_[token] = {fingerprint, NowMillis() + kTtlMs, "", true};
      return Outcome::kNew;
    }
    if (it->second.fingerprint != fingerprint) return Outcome::kMismatch;
    if (it->second.in_flight) return Outcome::kInProgress;
    *response = it->second.response;
    return Outcome::kReplay;
  }
  void Finish(const std::string& token, bool ok, std::string response) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(token);
    if (it == entries_.end()) return;
    if (!ok) {
      entries_.erase(it);
      return;
    }
    it->second.in_flight = false;
    it->second.response = std::move(response);
  }

 private:
  static constexpr int64_t kTtlMs = 10 * 60 * 1000;
  struct Entry {
    std::string fingerprint;
    int64_t expires_ms;
    std::string response;
    bool in_flight;
  };
  void Expire() {
    int64_t now = NowMillis();
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.expires_ms < now && !it->second.in_flight) {
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

class DynamoDbApi {
 public:
  DynamoDbApi(Service& service, ThreadPool& blocking)
      : service_(service), blocking_(blocking) {}

  http::AwsJsonService Build() {
    http::AwsJsonService api;
    api.target_prefix = "DynamoDB_20120810";
    api.content_type = "application/x-amz-json-1.0";
    api.error_prefix = "com.amazonaws.dynamodb.v20120810#";
    api.framework_error_prefix = "com.amazon.coral.service#";
    api.missing_token_message = "Request is missing Authentication Token";
    api.internal_error_type = "InternalServerError";
    api.crc32_header = true;
    api.metrics_service = "dynamodb";
    Add(api, "CreateTable", true, &DynamoDbApi::CreateTable);
    Add(api, "DescribeTable", true, &DynamoDbApi::DescribeTable);
    Add(api, "ListTables", false, &DynamoDbApi::ListTables);
    Add(api, "DeleteTable", true, &DynamoDbApi::DeleteTable);
    Add(api, "UpdateTable", true, &DynamoDbApi::UpdateTable);
    Add(api, "PutItem", false, &DynamoDbApi::PutItem);
    Add(api, "GetItem", false, &DynamoDbApi::GetItem);
    Add(api, "DeleteItem", false, &DynamoDbApi::DeleteItem);
    Add(api, "UpdateItem", false, &DynamoDbApi::UpdateItem);
    // Reads that may walk many blocks (a 1 MB page, 100 keys) run off the
    // network threads. GetItem and the single-item writes stay inline: a
    // point read is served from the memtable or block cache in the common
    // case, and the hop would cost them a third of their throughput.
    Add(api, "Query", true, &DynamoDbApi::Query);
    Add(api, "Scan", true, &DynamoDbApi::Scan);
    Add(api, "BatchGetItem", true, &DynamoDbApi::BatchGetItem);
    Add(api, "BatchWriteItem", false, &DynamoDbApi::BatchWriteItem);
    Add(api, "TransactWriteItems", false, &DynamoDbApi::TransactWriteItems);
    Add(api, "TransactGetItems", true, &DynamoDbApi::TransactGetItems);
    Add(api, "UpdateTimeToLive", true, &DynamoDbApi::UpdateTimeToLive);
    Add(api, "DescribeTimeToLive", false, &DynamoDbApi::DescribeTimeToLive);
    Add(api, "TagResource", true, &DynamoDbApi::TagResource);
    Add(api, "UntagResource", true, &DynamoDbApi::UntagResource);
    Add(api, "ListTagsOfResource", false, &DynamoDbApi::ListTagsOfResource);
    Add(api, "DescribeLimits", false, &DynamoDbApi::DescribeLimits);
    Add(api, "DescribeEndpoints", false, &DynamoDbApi::DescribeEndpoints);
    return api;
  }

 private:
  using Method = void (DynamoDbApi::*)(const AwsJsonCall& call,
                                       AwsJsonReply& reply);

  void Add(http::AwsJsonService& api, const char* name, bool blocking,
           Method method) {
    api.operations[name] = [this, blocking, method](AwsJsonCall call,
                                                    AwsJsonReply reply) {
      if (!blocking) {
        (this->*method)(call, reply);
        return;
      }
      // Catalogue operations fsync metadata (or count a table): keep them
      // off the network threads.
      auto shared = std::make_shared<std::pair<AwsJsonCall, AwsJsonReply>>(
          std::move(call), std::move(reply));
      blocking_.Post([this, method, shared] {
        (this->*method)(shared->first, shared->second);
      });
    };
  }

  static void Fail(AwsJsonReply& reply, const Status& s) {
    reply.Error(DynamoDbError(s));
  }

  // --- Catalogue ------------------------------------------------------------

  void CreateTable(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    std::optional<AwsError> semantic;
    const json::Value* defs = in.List("AttributeDefinitions");
    in.Required("AttributeDefinitions", defs != nullptr);
    auto name = TableNameOf(in);
    const json::Value* ks = in.List("KeySchema");
    in.Required("KeySchema", ks != nullptr);
    in.ListLength("KeySchema", ks, 1, 2);
    const json::Value* lsis = in.List("LocalSecondaryIndexes");
    const json::Value* gsis = in.List("GlobalSecondaryIndexes");
    const std::string* billing = in.String("BillingMode");
    in.Enum("BillingMode", billing, {"PROVISIONED", "PAY_PER_REQUEST"});
    auto throughput = ReadThroughput(in, in.Struct("ProvisionedThroughput"),
                                     "provisionedThroughput");
    const json::Value* stream = in.Struct("StreamSpecification");
    const json::Value* tags = in.List("Tags");
    in.ListLength("Tags", tags, 1, 50);
    const std::string* table_class = in.String("TableClass");
    in.Enum("TableClass", table_class,
            {"STANDARD", "STANDARD_INFREQUENT_ACCESS"});
    auto deletion_protection = in.Bool("DeletionProtectionEnabled");
    std::map<std::string, AttributeType> types;
    std::vector<KeyElement> attributes;
    if (defs) {
      int n = 0;
      for (const json::Value& d : defs->items()) {
        ++n;
        if (!d.is_object()) {
          in.SerializationError("Unexpected value type in payload");
          break;
        }
        AwsInput c =
            in.Child(d, fmt::format("attributeDefinitions.{}.member", n));
        const std::string* an = c.String("AttributeName");
        c.Required("AttributeName", an != nullptr);
        c.Length("AttributeName", an, 1, 255);
        const std::string* at = c.String("AttributeType");
        c.Required("AttributeType", at != nullptr);
        c.Enum("AttributeType", at, {"B", "N", "S"});
        AttributeType type;
        if (an && at && AttributeTypeFromName(*at, &type)) {
          types[*an] = type;
          attributes.push_back({*an, type});
        }
      }
    }
    auto key = ReadKeySchema(in, ks, "keySchema", &semantic);
    auto lsi_in =
        ReadIndexes(in, lsis, "localSecondaryIndexes", false, &semantic);
    auto gsi_in =
        ReadIndexes(in, gsis, "globalSecondaryIndexes", true, &semantic);
    TableSpec spec;
    std::optional<AwsError> stream_error;
    if (stream) {
      AwsInput c = in.Child(*stream, "streamSpecification");
      auto enabled = c.Bool("StreamEnabled");
      c.Required("StreamEnabled", enabled.has_value());
      const std::string* view = c.String("StreamViewType");
      c.Enum("StreamViewType", view,
             {"NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"});
      spec.stream_enabled = enabled.value_or(false);
      if (view) spec.stream_view_type = *view;
      if (spec.stream_enabled && !view) {
        stream_error = Validation(
            "One or more parameter values were invalid: You must specify a "
            "StreamViewType when enabling a stream");
      }
    }
    ReadTags(in, tags, "tags", &spec.tags);
    if (Rejected(reply, FirstError(in, {}))) return;
    if (Rejected(reply, semantic)) return;
    if (Rejected(reply, stream_error)) return;
    spec.name = *name;
    spec.billing_mode = billing ? *billing : "PROVISIONED";
    bool provisioned = spec.billing_mode == "PROVISIONED";
    if (throughput) {
      spec.read_capacity = throughput->first;
      spec.write_capacity = throughput->second;
    }
    if (Rejected(reply, Resolve(*key, types, &spec.key))) return;
    std::set<std::string> used = {spec.key.hash.name};
    if (spec.key.range) used.insert(spec.key.range->name);
    if (lsi_in.size() > static_cast<size_t>(kMaxLsis)) {
      return reply.Error(
          Validation("One or more parameter values were invalid: Number of "
                     "LocalSecondaryIndexes exceeds per-table limit of 5"));
    }
    if (gsi_in.size() > static_cast<size_t>(kMaxGsis)) {
      return reply.Error({"LimitExceededException",
                          "Subscriber limit exceeded: The number of global "
                          "secondary indexes exceeds the limit of 20",
                          400});
    }
    std::set<std::string> index_names;
    for (bool local : {true, false}) {
      for (IndexInput& i : local ? lsi_in : gsi_in) {
        if (!index_names.insert(i.name).second) {
          return reply.Error(
              Validation("One or more parameter values were invalid: "
                         "Duplicate index name: " +
                         i.name));
        }
        IndexSpec index;
        index.name = i.name;
        index.local = local;
        index.projection = i.projection;
        index.non_key_attributes = i.non_key;
        if (Rejected(reply, Resolve(*i.key, types, &index.key))) return;
        used.insert(index.key.hash.name);
        if (index.key.range) used.insert(index.key.range->name);
        if (local) {
          if (!spec.key.range) {
            return reply.Error(Validation(
                "One or more parameter values were invalid: Table KeySchema "
                "does not have a range key, which is required when "
                "specifying a LocalSecondaryIndex"));
          }
          if (index.key.hash.name != spec.key.hash.name) {
            return reply.Error(Validation(
                "One or more parameter values were invalid: Index KeySchema "
                "does not have the same leading hash key as table KeySchema "
                "for index: " +
                i.name + ". index hash key: " + index.key.hash.name +
                ", table hash key: " + spec.key.hash.name));
          }
          if (!index.key.range) {
            return reply.Error(Validation(
                "One or more parameter values were invalid: Index KeySchema "
                "does not have a range key for index: " +
                i.name));
          }
        } else {
          if (provisioned && !i.throughput) {
            return reply.Error(Validation(
                "One or more parameter values were invalid: "
                "ProvisionedThroughput must be specified for index: " +
                i.name));
          }
          if (!provisioned && i.throughput) {
            return reply.Error(Validation(
                "One or more parameter values were invalid: "
                "ProvisionedThroughput should not be specified for index: " +
                i.name + " when BillingMode is PAY_PER_REQUEST"));
          }
          if (i.throughput) {
            index.read_capacity = i.throughput->first;
            index.write_capacity = i.throughput->second;
          }
        }
        spec.indexes.push_back(std::move(index));
      }
    }
    if (used.size() != types.size() || attributes.size() != types.size()) {
      return reply.Error(Validation(
          "One or more parameter values were invalid: Number of attributes "
          "in KeySchema does not exactly match number of attributes defined "
          "in AttributeDefinitions"));
    }
    if (provisioned && !throughput) {
      return reply.Error(Validation(
          "One or more parameter values were invalid: ReadCapacityUnits and "
          "WriteCapacityUnits must both be specified when BillingMode is "
          "PROVISIONED"));
    }
    if (!provisioned && throughput) {
      return reply.Error(Validation(
          "One or more parameter values were invalid: Neither "
          "ReadCapacityUnits nor WriteCapacityUnits can be specified when "
          "BillingMode is PAY_PER_REQUEST"));
    }
    spec.attributes = std::move(attributes);
    if (table_class) spec.table_class = *table_class;
    spec.deletion_protection = deletion_protection.value_or(false);
    auto t = service_.CreateTable(spec);
    if (!t.ok()) return Fail(reply, t.status());
    TableStats empty;
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("TableDescription");
    WriteTableDescription(w, *t, RegionOf(call), &empty);
    w.EndObject();
    reply.Ok(std::move(out));
  }

  void DescribeTable(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    auto name = TableNameOf(in);
    if (Rejected(reply, in.Error())) return;
    auto t = service_.DescribeTable(*name);
    if (!t.ok()) return Fail(reply, t.status());
    auto stats = service_.CountTable(*name);
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("Table");
    WriteTableDescription(w, *t, RegionOf(call),
                          stats.ok() ? &*stats : nullptr);
    w.EndObject();
    reply.Ok(std::move(out));
  }

  void ListTables(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    auto start = TableNameOf(in, "ExclusiveStartTableName", false);
    auto limit = in.Int("Limit");
    in.Range("Limit", limit, 1, 100);
    if (Rejected(reply, in.Error())) return;
    std::optional<std::string> last;
    auto names = service_.ListTables(
        start.value_or(""), static_cast<int>(limit.value_or(100)), &last);
    if (!names.ok()) return Fail(reply, names.status());
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("TableNames").BeginArray();
    for (const std::string& n : *names) w.String(n);
    w.EndArray();
    if (last) w.Key("LastEvaluatedTableName").String(*last);
    w.EndObject();
    reply.Ok(std::move(out));
  }

  void DeleteTable(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    auto name = TableNameOf(in);
    if (Rejected(reply, in.Error())) return;
    auto t = service_.DeleteTable(*name);
    if (t.status().code() == StatusCode::kNotFound) {
      return Fail(reply, NotFound("Requested resource not found: Table: " +
                                  *name + " not found"));
    }
    if (!t.ok()) return Fail(reply, t.status());
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("TableDescription");
    WriteTableDescription(w, *t, RegionOf(call), nullptr);
    w.EndObject();
    reply.Ok(std::move(out));
  }

  void UpdateTable(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    std::optional<AwsError> semantic;
    auto name = TableNameOf(in);
    const json::Value* defs = in.List("AttributeDefinitions");
    const std::string* billing = in.String("BillingMode");
    in.Enum("BillingMode", billing, {"PROVISIONED", "PAY_PER_REQUEST"});
    auto throughput = ReadThroughput(in, in.Struct("ProvisionedThroughput"),
                                     "provisionedThroughput");
    const json::Value* updates = in.List("GlobalSecondaryIndexUpdates");
    const json::Value* stream = in.Struct("StreamSpecification");
    auto deletion_protection = in.Bool("DeletionProtectionEnabled");
    const std::string* table_class = in.String("TableClass");
    in.Enum("TableClass", table_class,
            {"STANDARD", "STANDARD_INFREQUENT_ACCESS"});
    Service::TableUpdate update;
    std::map<std::string, AttributeType> types;
    if (defs) {
      for (const json::Value& d : defs->items()) {
        if (!d.is_object()) continue;
        AttributeType type;
        const json::Value* an = d.Find("AttributeName");
        const json::Value* at = d.Find("AttributeType");
        if (an && at && AttributeTypeFromName(at->text(), &type)) {
          types[an->text()] = type;
          update.attributes.push_back({an->text(), type});
        }
      }
    }
    std::vector<json::Value> creates_holder;
    if (updates) {
      int n = 0;
      for (const json::Value& u : updates->items()) {
        ++n;
        if (!u.is_object()) continue;
        std::string p = fmt::format("globalSecondaryIndexUpdates.{}.member", n);
        AwsInput c = in.Child(u, p);
        if (const json::Value* create = c.Struct("Create")) {
          json::Value list = json::Value::Array();
          list.Push(*create);
          creates_holder.push_back(std::move(list));
        }
        if (const json::Value* del = c.Struct("Delete")) {
          AwsInput dc = c.Child(*del, p + ".delete");
          const std::string* idx = dc.String("IndexName");
          dc.Required("IndexName", idx != nullptr);
          if (idx) update.delete_indexes.push_back(*idx);
        }
        if (const json::Value* upd = c.Struct("Update")) {
          AwsInput uc = c.Child(*upd, p + ".update");
          const std::string* idx = uc.String("IndexName");
          uc.Required("IndexName", idx != nullptr);
          auto tp = ReadThroughput(uc, uc.Struct("ProvisionedThroughput"),
                                   p + ".update.provisionedThroughput");
          if (idx && tp) update.index_throughput[*idx] = *tp;
        }
      }
    }
    std::vector<IndexInput> creates;
    for (const json::Value& list : creates_holder) {
      auto one = ReadIndexes(in, &list, "globalSecondaryIndexUpdates.create",
                             true, &semantic);
      for (IndexInput& i : one) creates.push_back(std::move(i));
    }
    if (stream) {
      auto enabled = stream->Find("StreamEnabled");
      auto view = stream->Find("StreamViewType");
      update.stream = std::make_pair(
          enabled && enabled->is_bool() && enabled->bool_value(),
          view && view->is_string() ? view->text() : std::string());
    }
    if (Rejected(reply, FirstError(in, {}))) return;
    if (Rejected(reply, semantic)) return;
    if (!billing && !throughput && !updates && !stream &&
        !deletion_protection && !table_class) {
      return reply.Error(
          Validation("At least one of ProvisionedThroughput, BillingMode, "
                     "UpdateStreamEnabled, GlobalSecondaryIndexUpdates or "
                     "SSESpecification or ReplicaUpdates is required"));
    }
    auto current = service_.DescribeTable(*name);
    if (!current.ok()) return Fail(reply, current.status());
    for (const KeyElement& a : current->spec.attributes)
      types.try_emplace(a.name, a.type);
    std::string mode = billing ? *billing : current->spec.billing_mode;
    if (mode == "PAY_PER_REQUEST" && throughput) {
      return reply.Error(Validation(
          "One or more parameter values were invalid: Neither "
          "ReadCapacityUnits nor WriteCapacityUnits can be specified when "
          "BillingMode is PAY_PER_REQUEST"));
    }
    for (IndexInput& i : creates) {
      IndexSpec index;
      index.name = i.name;
      index.projection = i.projection;
      index.non_key_attributes = i.non_key;
      if (!i.key) continue;
      if (Rejected(reply, Resolve(*i.key, types, &index.key))) return;
      if (mode == "PROVISIONED" && !i.throughput) {
        return reply.Error(
            Validation("One or more parameter values were invalid: "
                       "ProvisionedThroughput must be specified for index: " +
                       i.name));
      }
      if (i.throughput) {
        index.read_capacity = i.throughput->first;
        index.write_capacity = i.throughput->second;
      }
      update.create_indexes.push_back(std::move(index));
    }
    int gsis = 0;
    for (const IndexSpec& i : current->spec.indexes) gsis += !i.local;
    if (gsis + update.create_indexes.size() > static_cast<size_t>(kMaxGsis)) {
      return reply.Error({"LimitExceededException",
                          "Subscriber limit exceeded: The number of global "
                          "secondary indexes exceeds the limit of 20",
                          400});
    }
    if (billing) update.billing_mode = *billing;
    update.throughput = throughput;
    update.deletion_protection = deletion_protection;
    if (table_class) update.table_class = *table_class;
    auto t = service_.UpdateTable(*name, update);
    if (!t.ok()) return Fail(reply, t.status());
    auto stats = service_.CountTable(*name);
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("TableDescription");
    WriteTableDescription(w, *t, RegionOf(call),
                          stats.ok() ? &*stats : nullptr);
    w.EndObject();
    reply.Ok(std::move(out));
  }

  // --- Items ----------------------------------------------------------------

  std::shared_ptr<const TableDescription> Describe(const std::string& name) {
    auto t = service_.DescribeTable(name);
    if (!t.ok()) return nullptr;
    return std::make_shared<const TableDescription>(std::move(t).value());
  }

  // ItemCollectionMetrics for a table with LSIs: DynamoDB reports the
  // partition key and a size estimate in GB.
  void WriteCollectionMetrics(Writer& w, const TableDescription& t,
                              const Item& item) {
    bool has_lsi = false;
    for (const IndexSpec& i : t.spec.indexes) has_lsi |= i.local;
    if (!has_lsi) return;
    auto h = item.find(t.spec.key.hash.name);
    if (h == item.end()) return;
    w.Key("ItemCollectionMetrics").BeginObject();
    w.Key("ItemCollectionKey").BeginObject().Key(h->first);
    WriteAttributeValue(w, h->second);
    w.EndObject();
    w.Key("SizeEstimateRangeGB").BeginArray().Double(0).Double(1).EndArray();
    w.EndObject();
  }

  void WriteFailed(AwsJsonReply& reply, Status status,
                   const Service::FailureSink& failure) {
    http::AwsError error = DynamoDbError(status);
    if (status.code() == StatusCode::kAborted && failure && failure->item) {
      error.extra_members = "\"Item\":";
      Writer w(&error.extra_members);
      WriteItem(w, *failure->item);
    }
    reply.Error(error);
  }

  // Completes an item write: Attributes, ConsumedCapacity and
  // ItemCollectionMetrics, or the error (with the old item when asked).
  Service::WriteCallback WriteReply(AwsJsonReply reply, std::string table,
                                    CapacityDetail detail, bool metrics,
                                    Item key, Service::FailureSink failure) {
    return [this, reply, table = std::move(table), detail, metrics,
            key = std::move(key), failure](Result<WriteResult> r) mutable {
      if (!r.ok()) return WriteFailed(reply, r.status(), failure);
      std::string out;
      Writer w(&out);
      w.BeginObject();
      WriteItemOrEmpty(w, "Attributes", r->attributes);
      if (detail != CapacityDetail::kNone || metrics) {
        auto desc = Describe(table);
        if (detail != CapacityDetail::kNone) {
          w.Key("ConsumedCapacity");
          WriteCapacity(w, detail, table, r->capacity, true, desc);
        }
        if (metrics && desc) WriteCollectionMetrics(w, *desc, key);
      }
      w.EndObject();
      reply.Ok(std::move(out));
    };
  }

  // PutItem and DeleteItem read the same members around one item-valued
  // member ("Item" or "Key") and differ only in the service call.
  using SingleWrite = void (Service::*)(const std::string& table, Item item,
                                        ConditionalWrite options,
                                        Service::WriteCallback done,
                                        Service::FailureSink failure);

  void SingleItemWrite(const AwsJsonCall& call, AwsJsonReply& reply,
                       std::string_view member, SingleWrite write) {
    AwsInput in(call.body);
    auto table = TableNameOf(in);
    const json::Value* item_json = in.Map(member);
    in.Required(member, item_json != nullptr);
    ExpressionMembers m = ReadExpressionMembers(in);
    auto rv = ReadReturnValues(in);
    CapacityDetail detail = ReadCapacityDetail(in);
    bool metrics = ReadItemCollectionMetrics(in);
    bool old_on_failure = ReadReturnOnFailure(in);
    std::vector<json::Value> scratch;
    std::vector<const json::Value*> maps = {item_json, m.values};
    CollectLegacyValues(m.expected, &maps, &scratch);
    if (Rejected(reply, FirstError(in, maps))) return;
    Item item;
    if (Rejected(reply, ToItem(*item_json, &item))) return;
    Parsed p;
    if (Rejected(reply, ParseExpressions(m, &p))) return;
    if (*rv != ReturnValues::kNone && *rv != ReturnValues::kAllOld) {
      return reply.Error(
          Validation("ReturnValues can only be ALL_OLD or NONE"));
    }
    ConditionalWrite options;
    options.condition = std::move(p.condition);
    options.return_values = *rv;
    options.return_old_on_failure = old_on_failure;
    auto failure = std::make_shared<Service::WriteFailure>();
    Item key_for_metrics = item;
    (service_.*write)(*table, std::move(item), std::move(options),
                      WriteReply(reply, *table, detail, metrics,
                                 std::move(key_for_metrics), failure),
                      failure);
  }

  void PutItem(const AwsJsonCall& call, AwsJsonReply& reply) {
    SingleItemWrite(call, reply, "Item", &Service::PutItem);
  }

  void DeleteItem(const AwsJsonCall& call, AwsJsonReply& reply) {
    SingleItemWrite(call, reply, "Key", &Service::DeleteItem);
  }

  void UpdateItem(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    auto table = TableNameOf(in);
    const json::Value* key_json = in.Map("Key");
    in.Required("Key", key_json != nullptr);
    ExpressionMembers m = ReadExpressionMembers(in);
    auto rv = ReadReturnValues(in);
    CapacityDetail detail = ReadCapacityDetail(in);
    bool metrics = ReadItemCollectionMetrics(in);
    bool old_on_failure = ReadReturnOnFailure(in);
    std::vector<json::Value> scratch;
    std::vector<const json::Value*> maps = {key_json, m.values};
    CollectLegacyValues(m.expected, &maps, &scratch);
    std::vector<json::Value> update_values;
    if (m.attribute_updates && m.attribute_updates->is_object()) {
      json::Value wrapper = json::Value::Object();
      for (const auto& [n, u] : m.attribute_updates->members()) {
        if (const json::Value* v = u.Find("Value")) wrapper.Set(n, *v);
      }
      update_values.push_back(std::move(wrapper));
      maps.push_back(&update_values.back());
    }
    if (Rejected(reply, FirstError(in, maps))) return;
    Item key;
    if (Rejected(reply, ToItem(*key_json, &key))) return;
    Parsed p;
    if (Rejected(reply, ParseExpressions(m, &p))) return;
    ConditionalWrite options;
    options.condition = std::move(p.condition);
    options.return_values = *rv;
    options.return_old_on_failure = old_on_failure;
    auto failure = std::make_shared<Service::WriteFailure>();
    Item key_copy = key;
    service_.UpdateItem(*table, std::move(key),
                        p.update.value_or(UpdateExpression()),
                        std::move(options),
                        WriteReply(reply, *table, detail, metrics,
                                   std::move(key_copy), failure),
                        failure);
  }

  void GetItem(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    auto table = TableNameOf(in);
    const json::Value* key_json = in.Map("Key");
    in.Required("Key", key_json != nullptr);
    ExpressionMembers m = ReadExpressionMembers(in);
    auto consistent = in.Bool("ConsistentRead");
    CapacityDetail detail = ReadCapacityDetail(in);
    if (Rejected(reply, FirstError(in, {key_json}))) return;
    Item key;
    if (Rejected(reply, ToItem(*key_json, &key))) return;
    Parsed p;
    if (Rejected(reply, ParseExpressions(m, &p))) return;
    size_t bytes = 0;
    auto item = service_.GetItem(*table, key, p.projection, &bytes);
    if (!item.ok()) return Fail(reply, item.status());
    std::string out;
    out.reserve(256);
    Writer w(&out);
    w.BeginObject();
    if (*item) {
      w.Key("Item");
      WriteItem(w, **item);
    }
    if (detail != CapacityDetail::kNone) {
      Capacity c;
      c.table = ReadUnits(bytes, consistent.value_or(false));
      w.Key("ConsumedCapacity");
      WriteCapacity(w, detail, *table, c, false, nullptr);
    }
    w.EndObject();
    reply.Ok(std::move(out));
  }

  // Query and Scan share Select, Limit, ExclusiveStartKey, IndexName and
  // the reply.
  struct ReadCommon {
    std::optional<std::string> table;
    const std::string* index = nullptr;
    const std::string* select = nullptr;
    std::optional<int64_t> limit;
    const json::Value* start = nullptr;
    std::optional<bool> consistent;
    CapacityDetail detail = CapacityDetail::kNone;
  };

  ReadCommon ReadCommonMembers(AwsInput& in) {
    ReadCommon c;
    c.table = TableNameOf(in);
    c.index = in.String("IndexName");
    in.Length("IndexName", c.index, 3, 255);
    in.Pattern("IndexName", c.index, kTableNamePattern,
               http::MatchesNamePattern);
    c.select = in.String("Select");
    in.Enum("Select", c.select,
            {"SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES",
             "ALL_PROJECTED_ATTRIBUTES"});
    c.limit = in.Int("Limit");
    in.Range("Limit", c.limit, 1, INT64_MAX);
    c.start = in.Map("ExclusiveStartKey");
    c.consistent = in.Bool("ConsistentRead");
    c.detail = ReadCapacityDetail(in);
    return c;
  }

  // Select's rules; sets *fetch for ALL_ATTRIBUTES on an LSI.
  std::optional<AwsError> CheckSelect(const ReadCommon& c, const Parsed& p,
                                      const ExpressionMembers& m,
                                      const TableDescription* t, bool* fetch) {
    *fetch = false;
    const char* what =
        m.attributes_to_get ? "AttributesToGet" : "ProjectionExpression";
    if (c.select && *c.select == "SPECIFIC_ATTRIBUTES" && !p.projection) {
      return Validation(
          "One or more parameter values were invalid: Must specify the "
          "AttributesToGet or ProjectionExpression when choosing to get "
          "SPECIFIC_ATTRIBUTES");
    }
    if (c.select && *c.select != "SPECIFIC_ATTRIBUTES" && p.projection) {
      return Validation(
          std::string("One or more parameter values were invalid: Cannot "
                      "specify the ") +
          what + " when choosing to get " + *c.select);
    }
    if (c.select && *c.select == "ALL_PROJECTED_ATTRIBUTES" && !c.index) {
      return Validation(
          "One or more parameter values were invalid: Select type "
          "ALL_PROJECTED_ATTRIBUTES is supported only for index queries");
    }
    if (c.index && t) {
      const IndexSpec* index = t->FindIndex(*c.index);
      if (!index) {
        return Validation("The table does not have the specified index: " +
                          *c.index);
      }
      if (!index->local && c.consistent.value_or(false)) {
        return Validation(
            "Consistent reads are not supported on global secondary indexes");
      }
      if (c.select && *c.select == "ALL_ATTRIBUTES" &&
          index->projection != ProjectionType::kAll) {
        if (!index->local) {
          return Validation(
              "One or more parameter values were invalid: Select type "
              "ALL_ATTRIBUTES is not supported for global secondary index " +
              index->name + " because its projection type is not ALL");
        }
        *fetch = true;
      }
    }
    return std::nullopt;
  }

  void ReplyRead(AwsJsonReply& reply, const ReadCommon& c, const ReadResult& r,
                 const std::shared_ptr<const TableDescription>& t) {
    std::string out;
    out.reserve(256 + r.bytes_read * 2);
    Writer w(&out);
    w.BeginObject();
    bool count_only = c.select && *c.select == "COUNT";
    if (!count_only) {
      w.Key("Items").BeginArray();
      for (const Item& item : r.items) WriteItem(w, item);
      w.EndArray();
    }
    w.Key("Count").Int(static_cast<int64_t>(r.items.size()));
    w.Key("ScannedCount").Int(r.scanned_count);
    if (r.last_evaluated_key) {
      w.Key("LastEvaluatedKey");
      WriteItem(w, *r.last_evaluated_key);
    }
    if (c.detail != CapacityDetail::kNone) {
      Capacity cap;
      double units = std::max<double>(
          1, std::ceil(static_cast<double>(r.bytes_read) / 4096.0));
      if (!c.consistent.value_or(false)) units /= 2;
      if (c.index) {
        cap.indexes[*c.index] = units;
      } else {
        cap.table = units;
      }
      w.Key("ConsumedCapacity");
      WriteCapacity(w, c.detail, *c.table, cap, false, t);
    }
    w.EndObject();
    reply.Ok(std::move(out));
  }

  void Query(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    ReadCommon c = ReadCommonMembers(in);
    ExpressionMembers m = ReadExpressionMembers(in);
    auto forward = in.Bool("ScanIndexForward");
    std::vector<json::Value> scratch;
    std::vector<const json::Value*> maps = {c.start, m.values};
    CollectLegacyValues(m.key_conditions, &maps, &scratch);
    std::vector<json::Value> scratch2;
    CollectLegacyValues(m.query_filter, &maps, &scratch2);
    if (Rejected(reply, FirstError(in, maps))) return;
    std::optional<Item> start;
    if (c.start) {
      Item s;
      if (Rejected(reply, ToItem(*c.start, &s))) return;
      start = std::move(s);
    }
    Parsed p;
    if (Rejected(reply, ParseExpressions(m, &p))) return;
    if (!p.key) {
      return reply.Error(Validation(
          "Either the KeyConditions or KeyConditionExpression parameter must "
          "be specified in the request."));
    }
    auto t = service_.DescribeTable(*c.table);
    if (!t.ok()) return Fail(reply, t.status());
    bool fetch = false;
    if (Rejected(reply, CheckSelect(c, p, m, &*t, &fetch))) return;
    QueryRequest q;
    q.table = *c.table;
    if (c.index) q.index = *c.index;
    q.key_conditions = std::move(*p.key);
    q.filter = std::move(p.filter);
    q.projection = std::move(p.projection);
    q.forward = forward.value_or(true);
    q.limit = c.limit;
    q.exclusive_start_key = std::move(start);
    q.fetch_table_items = fetch;
    auto r = service_.Query(q);
    if (!r.ok()) return Fail(reply, r.status());
    ReplyRead(reply, c, *r,
              c.detail == CapacityDetail::kIndexes
                  ? std::make_shared<const TableDescription>(*t)
                  : nullptr);
  }

  void Scan(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    ReadCommon c = ReadCommonMembers(in);
    ExpressionMembers m = ReadExpressionMembers(in);
    auto segment = in.Int("Segment");
    in.Range("Segment", segment, 0, 999999);
    auto total = in.Int("TotalSegments");
    in.Range("TotalSegments", total, 1, 1000000);
    std::vector<json::Value> scratch;
    std::vector<const json::Value*> maps = {c.start, m.values};
    CollectLegacyValues(m.scan_filter, &maps, &scratch);
    if (Rejected(reply, FirstError(in, maps))) return;
    if (segment && !total) {
      return reply.Error(Validation(
          "The TotalSegments parameter is required but was not present in "
          "the request when Segment parameter is present"));
    }
    if (total && !segment) {
      return reply.Error(Validation(
          "The Segment parameter is required but was not present in the "
          "request when parameter TotalSegments is present"));
    }
    if (segment && *segment >= *total) {
      return reply.Error(Validation(fmt::format(
          "The Segment parameter is zero-based and must be less than "
          "parameter TotalSegments: Segment: {} is not less than "
          "TotalSegments: {}",
          *segment, *total)));
    }
    std::optional<Item> start;
    if (c.start) {
      Item s;
      if (Rejected(reply, ToItem(*c.start, &s))) return;
      start = std::move(s);
    }
    Parsed p;
    if (Rejected(reply, ParseExpressions(m, &p))) return;
    auto t = service_.DescribeTable(*c.table);
    if (!t.ok()) return Fail(reply, t.status());
    bool fetch = false;
    if (Rejected(reply, CheckSelect(c, p, m, &*t, &fetch))) return;
    ScanRequest s;
    s.table = *c.table;
    if (c.index) s.index = *c.index;
    s.filter = std::move(p.filter);
    s.projection = std::move(p.projection);
    s.limit = c.limit;
    s.exclusive_start_key = std::move(start);
    s.segment = static_cast<int>(segment.value_or(0));
    s.total_segments = static_cast<int>(total.value_or(1));
    auto r = service_.Scan(s);
    if (!r.ok()) return Fail(reply, r.status());
    ReplyRead(reply, c, *r,
              c.detail == CapacityDetail::kIndexes
                  ? std::make_shared<const TableDescription>(*t)
                  : nullptr);
  }

  // --- Batches --------------------------------------------------------------

  void BatchGetItem(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    const json::Value* request_items = in.Map("RequestItems");
    in.Required("RequestItems", request_items != nullptr);
    in.ListLength("RequestItems", request_items, 1, 100);
    CapacityDetail detail = ReadCapacityDetail(in);
    struct TableRequest {
      std::string table;
      std::vector<Item> keys;
      Parsed parsed;
      bool consistent = false;
      const json::Value* spec = nullptr;
    };
    std::vector<TableRequest> tables;
    std::vector<const json::Value*> maps;
    std::vector<ExpressionMembers> members;
    size_t total = 0;
    if (request_items) {
      for (const auto& [name, spec] : request_items->members()) {
        if (!spec.is_object()) {
          in.SerializationError("Unexpected value type in payload");
          break;
        }
        AwsInput c = in.Child(spec, "requestItems." + name + ".member");
        const json::Value* keys = c.List("Keys");
        c.Required("Keys", keys != nullptr);
        c.ListLength("Keys", keys, 1, 100);
        members.push_back(ReadExpressionMembers(c));
        auto consistent = c.Bool("ConsistentRead");
        TableRequest tr;
        tr.table = name;
        tr.consistent = consistent.value_or(false);
        tr.spec = &spec;
        if (keys) {
          for (const json::Value& k : keys->items()) maps.push_back(&k);
          total += keys->items().size();
        }
        tables.push_back(std::move(tr));
      }
    }
    if (Rejected(reply, FirstError(in, maps))) return;
    if (total > kMaxBatchGetKeys) {
      return reply.Error(
          Validation("Too many items requested for the BatchGetItem call"));
    }
    std::vector<GetRequest> requests;
    std::vector<size_t> owner;
    for (size_t i = 0; i < tables.size(); ++i) {
      TableRequest& tr = tables[i];
      if (Rejected(reply, ParseExpressions(members[i], &tr.parsed))) return;
      std::set<std::string> seen;
      for (const json::Value& kj : tr.spec->Find("Keys")->items()) {
        Item key;
        if (Rejected(reply, ToItem(kj, &key))) return;
        if (!seen.insert(ItemToJson(key)).second) {
          return reply.Error(
              Validation("Provided list of item keys contains duplicates"));
        }
        requests.push_back({tr.table, key, tr.parsed.projection});
        owner.push_back(i);
        tr.keys.push_back(std::move(key));
      }
    }
    std::vector<size_t> bytes;
    auto items = service_.GetItems(requests, &bytes);
    if (!items.ok()) return Fail(reply, items.status());
    // Past 16 MB of items the rest is left for the caller to ask again,
    // in UnprocessedKeys, as DynamoDB does.
    std::vector<bool> unprocessed(requests.size(), false);
    size_t sum = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
      sum += bytes[i];
      if (sum > kMaxBatchGetBytes) unprocessed[i] = true;
    }
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("Responses").BeginObject();
    for (size_t t = 0; t < tables.size(); ++t) {
      w.Key(tables[t].table).BeginArray();
      for (size_t i = 0; i < requests.size(); ++i) {
        if (owner[i] != t || unprocessed[i] || !(*items)[i]) continue;
        WriteItem(w, *(*items)[i]);
      }
      w.EndArray();
    }
    w.EndObject();
    w.Key("UnprocessedKeys").BeginObject();
    for (size_t t = 0; t < tables.size(); ++t) {
      bool any = false;
      for (size_t i = 0; i < requests.size(); ++i) {
        if (owner[i] != t || !unprocessed[i]) continue;
        if (!any) {
          w.Key(tables[t].table).BeginObject().Key("Keys").BeginArray();
          any = true;
        }
        WriteItem(w, requests[i].key);
      }
      if (any) {
        w.EndArray();
        for (const char* k : {"ProjectionExpression", "AttributesToGet",
                              "ExpressionAttributeNames", "ConsistentRead"}) {
          if (const json::Value* v = tables[t].spec->Find(k)) {
            w.Key(k).Raw(json::Serialize(*v));
          }
        }
        w.EndObject();
      }
    }
    w.EndObject();
    if (detail != CapacityDetail::kNone) {
      w.Key("ConsumedCapacity").BeginArray();
      for (size_t t = 0; t < tables.size(); ++t) {
        Capacity c;
        for (size_t i = 0; i < requests.size(); ++i) {
          if (owner[i] == t && !unprocessed[i])
            c.table += ReadUnits(bytes[i], tables[t].consistent);
        }
        WriteCapacity(w, detail, tables[t].table, c, false, nullptr);
      }
      w.EndArray();
    }
    w.EndObject();
    reply.Ok(std::move(out));
  }

  void BatchWriteItem(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    const json::Value* request_items = in.Map("RequestItems");
    in.Required("RequestItems", request_items != nullptr);
    in.ListLength("RequestItems", request_items, 1, 25);
    CapacityDetail detail = ReadCapacityDetail(in);
    bool metrics = ReadItemCollectionMetrics(in);
    struct Write {
      std::string table;
      bool put = true;
      const json::Value* value = nullptr;
      Item item;
    };
    std::vector<Write> writes;
    std::vector<const json::Value*> maps;
    std::vector<std::string> table_order;
    if (request_items) {
      for (const auto& [name, list] : request_items->members()) {
        table_order.push_back(name);
        if (!list.is_array()) {
          in.SerializationError(list.is_object()
                                    ? "Start of structure or map found where "
                                      "not expected."
                                    : "Expected list or null");
          break;
        }
        if (list.items().empty() || list.items().size() > kMaxBatchWrites) {
          in.AddViolation(
              "RequestItems", "'{...}'",
              "Map value must satisfy constraint: [Member must have length "
              "less than or equal to 25, Member must have length greater "
              "than or equal to 1]");
        }
        for (const json::Value& r : list.items()) {
          if (!r.is_object()) {
            in.SerializationError("Unexpected value type in payload");
            break;
          }
          const json::Value* put = r.Find("PutRequest");
          const json::Value* del = r.Find("DeleteRequest");
          Write wr;
          wr.table = name;
          if (put && put->is_object()) {
            wr.value = put->Find("Item");
          } else if (del && del->is_object()) {
            wr.put = false;
            wr.value = del->Find("Key");
          }
          if (wr.value) maps.push_back(wr.value);
          writes.push_back(std::move(wr));
        }
      }
    }
    if (Rejected(reply, FirstError(in, maps))) return;
    if (writes.size() > kMaxBatchWrites) {
      return reply.Error(
          Validation("Too many items requested for the BatchWriteItem call"));
    }
    std::set<std::pair<std::string, std::string>> seen;
    for (Write& wr : writes) {
      if (!wr.value || !wr.value->is_object()) {
        return reply.Error(Validation(
            "Supplied AttributeValue has more than one datatypes set, must "
            "contain exactly one of the supported datatypes"));
      }
      if (Rejected(reply, ToItem(*wr.value, &wr.item))) return;
      auto t = service_.DescribeTable(wr.table);
      if (!t.ok()) return Fail(reply, t.status());
      auto k = EncodeItemKey(*t, wr.item, /*from_full_item=*/wr.put);
      if (!k.ok()) return Fail(reply, k.status());
      // Every put is checked before any write starts: DynamoDB applies
      // none of the batch when one request is invalid.
      if (wr.put) {
        if (Status c = CheckItemForPut(*t, wr.item); !c.ok())
          return Fail(reply, c);
      }
      if (!seen.insert({wr.table, *k}).second) {
        return reply.Error(
            Validation("Provided list of item keys contains duplicates"));
      }
    }
    // Every write goes to the store at once (one group commit); the reply
    // is sent when the last completes.
    struct State {
      std::mutex mu;
      size_t left = 0;
      Status error;
      std::map<std::string, Capacity> capacity;
    };
    auto state = std::make_shared<State>();
    state->left = writes.size();
    auto tables = std::make_shared<std::vector<std::string>>(table_order);
    for (Write& wr : writes) {
      std::string table = wr.table;
      auto done = [this, state, reply, table, detail, metrics,
                   tables](Result<WriteResult> r) mutable {
        bool last;
        {
          std::lock_guard lock(state->mu);
          if (!r.ok() && state->error.ok()) state->error = r.status();
          if (r.ok()) {
            Capacity& c = state->capacity[table];
            c.table += r->capacity.table;
            for (const auto& [k, v] : r->capacity.indexes) c.indexes[k] += v;
          }
          last = --state->left == 0;
        }
        if (!last) return;
        if (!state->error.ok()) return Fail(reply, state->error);
        std::string out;
        Writer w(&out);
        w.BeginObject().Key("UnprocessedItems").BeginObject().EndObject();
        if (detail != CapacityDetail::kNone) {
          w.Key("ConsumedCapacity").BeginArray();
          for (const std::string& t : *tables) {
            WriteCapacity(w, detail, t, state->capacity[t], true, Describe(t));
          }
          w.EndArray();
        }
        if (metrics) w.Key("ItemCollectionMetrics").BeginObject().EndObject();
        w.EndObject();
        reply.Ok(std::move(out));
      };
      if (wr.put) {
        service_.PutItem(wr.table, std::move(wr.item), {}, std::move(done));
      } else {
        service_.DeleteItem(wr.table, std::move(wr.item), {}, std::move(done));
      }
    }
  }

  // --- Transactions ---------------------------------------------------------

  void TransactWriteItems(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    const json::Value* items = in.List("TransactItems");
    in.Required("TransactItems", items != nullptr);
    in.ListLength("TransactItems", items, 1, kMaxTransactItems);
    const std::string* token = in.String("ClientRequestToken");
    in.Length("ClientRequestToken", token, 1, 36);
    CapacityDetail detail = ReadCapacityDetail(in);
    ReadItemCollectionMetrics(in);
    struct Entry {
      TransactWriteAction::Kind kind;
      const json::Value* body;
      ExpressionMembers members;
      const json::Value* item = nullptr;
      bool old_on_failure = false;
      std::optional<std::string> table;
    };
    std::vector<Entry> entries;
    std::vector<const json::Value*> maps;
    if (items) {
      int n = 0;
      for (const json::Value& ti : items->items()) {
        ++n;
        if (!ti.is_object()) {
          in.SerializationError("Unexpected value type in payload");
          break;
        }
        int kinds = 0;
        static const std::pair<const char*, TransactWriteAction::Kind>
            kKinds[] = {
                {"ConditionCheck", TransactWriteAction::Kind::kConditionCheck},
                {"Put", TransactWriteAction::Kind::kPut},
                {"Update", TransactWriteAction::Kind::kUpdate},
                {"Delete", TransactWriteAction::Kind::kDelete}};
        for (const auto& [member, kind] : kKinds) {
          const json::Value* body = ti.Find(member);
          if (!body || body->is_null()) continue;
          ++kinds;
          if (!body->is_object()) {
            in.SerializationError("Unexpected value type in payload");
            continue;
          }
          std::string p = fmt::format("transactItems.{}.member.{}", n,
                                      LowerFirstAscii(member));
          AwsInput c = in.Child(*body, p);
          Entry e{kind, body, {}, nullptr, false, std::nullopt};
          e.table = TableNameOf(c);
          const char* item_member =
              kind == TransactWriteAction::Kind::kPut ? "Item" : "Key";
          e.item = c.Map(item_member);
          c.Required(item_member, e.item != nullptr);
          e.members.condition = c.String("ConditionExpression");
          e.members.names = c.Map("ExpressionAttributeNames");
          e.members.values = c.Map("ExpressionAttributeValues");
          if (kind == TransactWriteAction::Kind::kUpdate) {
            e.members.update = c.String("UpdateExpression");
            c.Required("UpdateExpression", e.members.update != nullptr);
          }
          if (kind == TransactWriteAction::Kind::kConditionCheck) {
            c.Required("ConditionExpression", e.members.condition != nullptr);
          }
          e.old_on_failure = ReadReturnOnFailure(c);
          maps.push_back(e.item);
          maps.push_back(e.members.values);
          entries.push_back(std::move(e));
        }
        if (kinds != 1 && in.ok()) {
          return reply.Error(Validation(
              "TransactItems can only contain one of Check, Put, Update or "
              "Delete"));
        }
      }
    }
    if (Rejected(reply, FirstError(in, maps))) return;
    std::vector<TransactWriteAction> actions;
    size_t total_bytes = 0;
    for (Entry& e : entries) {
      TransactWriteAction a;
      a.kind = e.kind;
      a.table = *e.table;
      if (Rejected(reply, ToItem(*e.item, &a.item))) return;
      total_bytes += ItemSize(a.item);
      Parsed p;
      if (Rejected(reply, ParseExpressions(e.members, &p))) return;
      a.condition = std::move(p.condition);
      a.update = std::move(p.update);
      a.return_old_on_failure = e.old_on_failure;
      actions.push_back(std::move(a));
    }
    if (total_bytes > kMaxTransactBytes) {
      return reply.Error(Validation(
          "Transaction request size exceeds the maximum allowed size of 4 "
          "MB"));
    }
    std::optional<std::string> idempotency;
    if (token) {
      std::string fingerprint = json::Serialize(*items);
      std::string previous;
      switch (tokens_.Begin(*token, fingerprint, &previous)) {
        case TokenCache::Outcome::kNew:
          idempotency = *token;
          break;
        case TokenCache::Outcome::kReplay:
          return reply.Ok(std::move(previous));
        case TokenCache::Outcome::kMismatch:
          return reply.Error(
              {"IdempotentParameterMismatchException",
               "The request uses the same client token as a previous, but "
               "non-identical request.",
               400});
        case TokenCache::Outcome::kInProgress:
          return reply.Error(
              {"TransactionInProgressException",
               "The transaction with the given request token is already in "
               "progress.",
               400});
      }
    }
    service_.TransactWrite(
        std::move(actions), [this, reply, detail, idempotency](
                                Result<TransactWriteResult> r) mutable {
          auto finish_token = [&](bool ok, const std::string& body) {
            if (idempotency) tokens_.Finish(*idempotency, ok, body);
          };
          if (!r.ok()) {
            finish_token(false, "");
            return Fail(reply, r.status());
          }
          if (r->cancelled) {
            finish_token(false, "");
            std::string codes;
            std::string extra = "\"CancellationReasons\":";
            Writer w(&extra);
            w.BeginArray();
            for (const CancellationReason& c : r->reasons) {
              codes += (codes.empty() ? "" : ", ") + c.code;
              w.BeginObject().Key("Code").String(c.code);
              if (!c.message.empty()) w.Key("Message").String(c.message);
              if (c.item) {
                w.Key("Item");
                WriteItem(w, *c.item);
              }
              w.EndObject();
            }
            w.EndArray();
            http::AwsError error{
                "TransactionCanceledException",
                "Transaction cancelled, please refer cancellation reasons "
                "for specific reasons [" +
                    codes + "]",
                400};
            error.extra_members = std::move(extra);
            return reply.Error(error);
          }
          std::string out;
          Writer w(&out);
          w.BeginObject();
          if (detail != CapacityDetail::kNone) {
            w.Key("ConsumedCapacity").BeginArray();
            for (auto& [table, c] : r->capacity) {
              // Transactions cost twice the units of plain writes.
              c.table *= 2;
              for (auto& [k, v] : c.indexes) v *= 2;
              WriteCapacity(w, detail, table, c, true, Describe(table));
            }
            w.EndArray();
          }
          w.EndObject();
          finish_token(true, out);
          reply.Ok(std::move(out));
        });
  }

  static std::string LowerFirstAscii(std::string_view s) {
    return http::LowerFirst(s);
  }

  void TransactGetItems(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    const json::Value* items = in.List("TransactItems");
    in.Required("TransactItems", items != nullptr);
    in.ListLength("TransactItems", items, 1, kMaxTransactItems);
    CapacityDetail detail = ReadCapacityDetail(in);
    struct Entry {
      std::optional<std::string> table;
      const json::Value* key = nullptr;
      ExpressionMembers members;
    };
    std::vector<Entry> entries;
    std::vector<const json::Value*> maps;
    if (items) {
      int n = 0;
      for (const json::Value& ti : items->items()) {
        ++n;
        const json::Value* get = ti.is_object() ? ti.Find("Get") : nullptr;
        if (!get || !get->is_object()) {
          in.SerializationError("Unexpected value type in payload");
          break;
        }
        AwsInput c =
            in.Child(*get, fmt::format("transactItems.{}.member.get", n));
        Entry e;
        e.table = TableNameOf(c);
        e.key = c.Map("Key");
        c.Required("Key", e.key != nullptr);
        e.members.projection = c.String("ProjectionExpression");
        e.members.names = c.Map("ExpressionAttributeNames");
        maps.push_back(e.key);
        entries.push_back(std::move(e));
      }
    }
    if (Rejected(reply, FirstError(in, maps))) return;
    std::vector<GetRequest> requests;
    std::set<std::pair<std::string, std::string>> seen;
    for (Entry& e : entries) {
      GetRequest r;
      r.table = *e.table;
      if (Rejected(reply, ToItem(*e.key, &r.key))) return;
      Parsed p;
      if (Rejected(reply, ParseExpressions(e.members, &p))) return;
      r.projection = std::move(p.projection);
      if (!seen.insert({r.table, ItemToJson(r.key)}).second) {
        return reply.Error(Validation(
            "Transaction request cannot include multiple operations on one "
            "item"));
      }
      requests.push_back(std::move(r));
    }
    std::vector<size_t> bytes;
    auto got = service_.GetItems(requests, &bytes);
    if (!got.ok()) return Fail(reply, got.status());
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("Responses").BeginArray();
    for (const auto& item : *got) {
      w.BeginObject();
      if (item) {
        w.Key("Item");
        WriteItem(w, *item);
      }
      w.EndObject();
    }
    w.EndArray();
    if (detail != CapacityDetail::kNone) {
      std::map<std::string, Capacity> per_table;
      for (size_t i = 0; i < requests.size(); ++i)
        per_table[requests[i].table].table += 2 * ReadUnits(bytes[i], true);
      w.Key("ConsumedCapacity").BeginArray();
      for (const auto& [table, c] : per_table)
        WriteCapacity(w, detail, table, c, false, nullptr);
      w.EndArray();
    }
    w.EndObject();
    reply.Ok(std::move(out));
  }

  // --- TTL, tags, limits, endpoints -----------------------------------------

  void UpdateTimeToLive(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    auto name = TableNameOf(in);
    const json::Value* spec = in.Struct("TimeToLiveSpecification");
    in.Required("TimeToLiveSpecification", spec != nullptr);
    TimeToLive ttl;
    if (spec) {
      AwsInput c = in.Child(*spec, "timeToLiveSpecification");
      auto enabled = c.Bool("Enabled");
      c.Required("Enabled", enabled.has_value());
      const std::string* attr = c.String("AttributeName");
      c.Required("AttributeName", attr != nullptr);
      c.Length("AttributeName", attr, 1, 255);
      ttl.enabled = enabled.value_or(false);
      if (attr) ttl.attribute = *attr;
    }
    if (Rejected(reply, in.Error())) return;
    auto r = service_.UpdateTimeToLive(*name, ttl);
    if (!r.ok()) return Fail(reply, r.status());
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("TimeToLiveSpecification").BeginObject();
    w.Key("Enabled").Bool(r->enabled).Key("AttributeName").String(r->attribute);
    w.EndObject().EndObject();
    reply.Ok(std::move(out));
  }

  void DescribeTimeToLive(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    auto name = TableNameOf(in);
    if (Rejected(reply, in.Error())) return;
    auto t = service_.DescribeTable(*name);
    if (!t.ok()) return Fail(reply, t.status());
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("TimeToLiveDescription").BeginObject();
    w.Key("TimeToLiveStatus").String(t->ttl.enabled ? "ENABLED" : "DISABLED");
    if (t->ttl.enabled) w.Key("AttributeName").String(t->ttl.attribute);
    w.EndObject().EndObject();
    reply.Ok(std::move(out));
  }

  // The table a ResourceArn names, or the error to answer.
  std::optional<std::string> TableOfArn(AwsInput& in) {
    const std::string* arn = in.String("ResourceArn");
    in.Required("ResourceArn", arn != nullptr);
    in.Length("ResourceArn", arn, 1, 1283);
    if (!arn) return std::nullopt;
    return TableFromArn(*arn);
  }

  static std::optional<AwsError> CheckArn(
      AwsInput& in, const json::Value& body,
      const std::optional<std::string>& table) {
    if (auto e = in.Error()) return e;
    if (!table) {
      return Validation(
          "Invalid TableArn: Invalid ResourceArn provided as "
          "input " +
          body.Find("ResourceArn")->text());
    }
    return std::nullopt;
  }

  void TagResource(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    auto table = TableOfArn(in);
    const json::Value* tags = in.List("Tags");
    in.Required("Tags", tags != nullptr);
    std::map<std::string, std::string> add;
    ReadTags(in, tags, "tags", &add);
    if (Rejected(reply, CheckArn(in, call.body, table))) return;
    auto r = service_.UpdateTags(*table, add, {});
    if (r.status().code() == StatusCode::kNotFound) {
      return Fail(reply, NotFound("Requested resource not found: ResourcArn: " +
                                  call.body.Find("ResourceArn")->text() +
                                  " not found"));
    }
    if (!r.ok()) return Fail(reply, r.status());
    reply.Ok("{}");
  }

  void UntagResource(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    auto table = TableOfArn(in);
    const json::Value* keys = in.List("TagKeys");
    in.Required("TagKeys", keys != nullptr);
    std::vector<std::string> remove;
    if (keys) {
      for (const json::Value& k : keys->items()) remove.push_back(k.text());
    }
    if (Rejected(reply, CheckArn(in, call.body, table))) return;
    auto r = service_.UpdateTags(*table, {}, remove);
    if (r.status().code() == StatusCode::kNotFound) {
      return Fail(reply, NotFound("Requested resource not found: ResourcArn: " +
                                  call.body.Find("ResourceArn")->text() +
                                  " not found"));
    }
    if (!r.ok()) return Fail(reply, r.status());
    reply.Ok("{}");
  }

  void ListTagsOfResource(const AwsJsonCall& call, AwsJsonReply& reply) {
    AwsInput in(call.body);
    auto table = TableOfArn(in);
    in.String("NextToken");
    if (Rejected(reply, CheckArn(in, call.body, table))) return;
    auto t = service_.DescribeTable(*table);
    if (t.status().code() == StatusCode::kNotFound) {
      return Fail(reply, NotFound("Requested resource not found: ResourcArn: " +
                                  call.body.Find("ResourceArn")->text() +
                                  " not found"));
    }
    if (!t.ok()) return Fail(reply, t.status());
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("Tags").BeginArray();
    for (const auto& [k, v] : t->spec.tags) {
      w.BeginObject().Key("Key").String(k).Key("Value").String(v).EndObject();
    }
    w.EndArray().EndObject();
    reply.Ok(std::move(out));
  }

  void DescribeLimits(const AwsJsonCall&, AwsJsonReply& reply) {
    reply.Ok(
        "{\"AccountMaxReadCapacityUnits\":80000,"
        "\"AccountMaxWriteCapacityUnits\":80000,"
        "\"TableMaxReadCapacityUnits\":40000,"
        "\"TableMaxWriteCapacityUnits\":40000}");
  }

  void DescribeEndpoints(const AwsJsonCall& call, AwsJsonReply& reply) {
    const std::string* host = call.request.FindHeader("host");
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("Endpoints").BeginArray().BeginObject();
    w.Key("Address").String(host ? *host : "localhost");
    w.Key("CachePeriodInMinutes").Int(1440);
    w.EndObject().EndArray().EndObject();
    reply.Ok(std::move(out));
  }

  Service& service_;
  ThreadPool& blocking_;
  TokenCache tokens_;
};

}  // namespace

http::AwsJsonService MakeDynamoDbApi(Service& service, ThreadPool& blocking) {
  // The API object lives as long as the operations that capture it.
  auto api = std::make_shared<DynamoDbApi>(service, blocking);
  http::AwsJsonService built = api->Build();
  for (auto& [name, op] : built.operations) {
    op = [api, inner = std::move(op)](AwsJsonCall call, AwsJsonReply reply) {
      inner(std::move(call), std::move(reply));
    };
  }
  return built;
}

}  // namespace riffle::tables
