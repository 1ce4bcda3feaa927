#include "avro/json_codec.h"

#include <cmath>
#include <limits>

#include "avro/logical.h"
#include "core/base64.h"
#include "core/bytes.h"

namespace riffle::avro {
namespace {

using internal::TimeUnit;

enum class Mode { kAvro, kPlain, kDefault };

constexpr int kMaxDepth = 256;

TimeUnit UnitOf(LogicalType lt) {
  switch (lt) {
    case LogicalType::kTimestampMillis:
    case LogicalType::kLocalTimestampMillis:
    case LogicalType::kTimeMillis:
      return TimeUnit::kMillis;
    case LogicalType::kTimestampMicros:
    case LogicalType::kLocalTimestampMicros:
    case LogicalType::kTimeMicros:
      return TimeUnit::kMicros;
    default:
      return TimeUnit::kNanos;
  }
}

bool IsTimestamp(LogicalType lt) {
  return lt >= LogicalType::kTimestampMillis &&
         lt <= LogicalType::kLocalTimestampNanos;
}
bool IsUtc(LogicalType lt) {
  return lt >= LogicalType::kTimestampMillis &&
         lt <= LogicalType::kTimestampNanos;
}

int FindBranch(const Node& node, const Value& v) {
  if (v.branch >= 0 && v.branch < static_cast<int>(node.branches.size())) {
    return v.branch;
  }
  for (size_t i = 0; i < node.branches.size(); ++i) {
    if (node.branches[i]->type == v.type) return static_cast<int>(i);
  }
  return -1;
}

Status ToJson(const Node& node, const Value& v, JsonFormat f, std::string* out,
              int depth) {
  if (depth > kMaxDepth)
    return InvalidArgument("avro: value nested too deeply");
  bool plain = f == JsonFormat::kPlain;
  if (node.type == Type::kUnion) {
    int b = FindBranch(node, v);
    if (b < 0) {
      return InvalidArgument("avro: value of type " +
                             std::string(TypeName(v.type)) + " not in union");
    }
    const Node& bn = *node.branches[b];
    if (plain || bn.type == Type::kNull)
      return ToJson(bn, v, f, out, depth + 1);
    out->push_back('{');
    internal::AppendJsonString(
        bn.is_named() ? bn.full_name : std::string(TypeName(bn.type)), out);
    out->push_back(':');
    RETURN_IF_ERROR(ToJson(bn, v, f, out, depth + 1));
    out->push_back('}');
    return Status::Ok();
  }
  bool promoted = (node.type == Type::kLong && v.type == Type::kInt) ||
                  (node.type == Type::kDouble && v.type == Type::kFloat);
  if (v.type != node.type && !promoted) {
    return InvalidArgument("avro: a " + std::string(TypeName(v.type)) +
                           " value does not fit a " +
                           std::string(TypeName(node.type)));
  }
  LogicalType lt = plain ? node.logical_type : LogicalType::kNone;
  switch (node.type) {
    case Type::kNull:
      out->append("null");
      return Status::Ok();
    case Type::kBoolean:
      out->append(v.boolean ? "true" : "false");
      return Status::Ok();
    case Type::kInt:
      if (lt == LogicalType::kDate && internal::AppendDate(v.integer, out)) {
        return Status::Ok();
      }
      if (lt == LogicalType::kTimeMillis &&
          internal::AppendTimeOfDay(v.integer, TimeUnit::kMillis, out)) {
        return Status::Ok();
      }
      internal::AppendInt(v.integer, out);
      return Status::Ok();
    case Type::kLong:
      if (lt == LogicalType::kTimeMicros &&
          internal::AppendTimeOfDay(v.integer, TimeUnit::kMicros, out)) {
        return Status::Ok();
      }
      if (IsTimestamp(lt) &&
          internal::AppendTimestamp(v.integer, UnitOf(lt), IsUtc(lt), out)) {
        return Status::Ok();
      }
      internal::AppendInt(v.integer, out);
      return Status::Ok();
    case Type::kFloat:
      internal::AppendFloat(v.float_value, out);
      return Status::Ok();
    case Type::kDouble:
      internal::AppendDouble(
          v.type == Type::kFloat ? v.float_value : v.double_value, out);
      return Status::Ok();
    case Type::kString:
      internal::AppendJsonString(v.bytes, out);
      return Status::Ok();
    case Type::kBytes:
    case Type::kFixed:
      if (!plain) {
        internal::AppendLatin1String(v.bytes, out);
      } else if (lt == LogicalType::kDecimal) {
        internal::AppendDecimal(v.bytes, node.scale, out);
      } else if (lt == LogicalType::kUuid && v.bytes.size() == 16) {
        internal::AppendUuid(v.bytes, out);
      } else if (lt == LogicalType::kDuration && v.bytes.size() == 12) {
        out->append("{\"months\":");
        internal::AppendInt(bytes::DecodeFixed32(v.bytes.data()), out);
        out->append(",\"days\":");
        internal::AppendInt(bytes::DecodeFixed32(v.bytes.data() + 4), out);
        out->append(",\"millis\":");
        internal::AppendInt(bytes::DecodeFixed32(v.bytes.data() + 8), out);
        out->push_back('}');
      } else {
        internal::AppendBase64String(v.bytes, out);
      }
      return Status::Ok();
    case Type::kEnum:
      if (v.integer < 0 ||
          v.integer >= static_cast<int64_t>(node.symbols.size())) {
        return InvalidArgument("avro: enum index out of range");
      }
      internal::AppendJsonString(node.symbols[v.integer], out);
      return Status::Ok();
    case Type::kArray:
      out->push_back('[');
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i) out->push_back(',');
        RETURN_IF_ERROR(ToJson(*node.items, v.items[i], f, out, depth + 1));
      }
      out->push_back(']');
      return Status::Ok();
    case Type::kMap:
      if (v.keys.size() != v.items.size()) {
        return InvalidArgument("avro: map keys and values differ in number");
      }
      out->push_back('{');
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i) out->push_back(',');
        internal::AppendJsonString(v.keys[i], out);
        out->push_back(':');
        RETURN_IF_ERROR(ToJson(*node.values, v.items[i], f, out, depth + 1));
      }
      out->push_back('}');
      return Status::Ok();
    case Type::kRecord:
      if (v.items.size() != node.fields.size()) {
        return InvalidArgument("avro: record '" + node.full_name +
                               "' value has the wrong number of fields");
      }
      out->push_back('{');
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i) out->push_back(',');
        internal::AppendJsonString(node.fields[i].name, out);
        out->push_back(':');
        RETURN_IF_ERROR(
            ToJson(*node.fields[i].type, v.items[i], f, out, depth + 1));
      }
      out->push_back('}');
      return Status::Ok();
    case Type::kUnion:
      break;
  }
  return Internal("unreachable");
}

class JsonReader {
 public:
  explicit JsonReader(Mode mode) : mode_(mode) {}

  Result<Value> Read(const Node& node, const json::Value& j,
                     const std::string& path, int depth) {
    if (depth > kMaxDepth) return Bad(path, "nested too deeply");
    if (node.type == Type::kUnion) return ReadUnion(node, j, path, depth);
    return ReadNonUnion(node, j, path, depth, /*coerce=*/true);
  }

 private:
  static Status Bad(const std::string& path, std::string what) {
    return InvalidArgument("avro: " + (path.empty() ? std::string("/") : path) +
                           ": " + std::move(what));
  }

  static bool Natural(const Node& n, const json::Value& j) {
    switch (j.type()) {
      case json::Value::Type::kNull:
        return n.type == Type::kNull;
      case json::Value::Type::kBool:
        return n.type == Type::kBoolean;
      case json::Value::Type::kNumber:
        if (j.text().find_first_of(".eE") == std::string::npos &&
            (n.type == Type::kInt || n.type == Type::kLong)) {
          return true;
        }
        return n.type == Type::kFloat || n.type == Type::kDouble;
      case json::Value::Type::kString:
        return n.type == Type::kString ||
               (n.type == Type::kEnum && n.SymbolIndex(j.text()) >= 0);
      case json::Value::Type::kArray:
        return n.type == Type::kArray;
      case json::Value::Type::kObject:
        return n.type == Type::kRecord || n.type == Type::kMap;
    }
    return false;
  }

  Result<Value> ReadUnion(const Node& node, const json::Value& j,
                          const std::string& path, int depth) {
    if (node.branches.empty()) return Bad(path, "empty union has no values");
    if (mode_ == Mode::kDefault) {
      ASSIGN_OR_RETURN(Value v, Read(*node.branches[0], j, path, depth + 1));
      return std::move(v).InBranch(0);
    }
    if (mode_ == Mode::kAvro) {
      if (j.is_null()) {
        for (size_t i = 0; i < node.branches.size(); ++i) {
          if (node.branches[i]->type == Type::kNull) {
            return Value::Null().InBranch(static_cast<int>(i));
          }
        }
        return Bad(path, "null is not in the union");
      }
      if (!j.is_object() || j.members().size() != 1) {
        return Bad(path, "a union value must be null or {\"type\": value}");
      }
      const auto& [name, inner] = j.members()[0];
      for (size_t i = 0; i < node.branches.size(); ++i) {
        const Node& b = *node.branches[i];
        if (b.is_named() ? (b.full_name == name || b.name == name)
                         : TypeName(b.type) == name) {
          ASSIGN_OR_RETURN(Value v, Read(b, inner, path, depth + 1));
          return std::move(v).InBranch(static_cast<int>(i));
        }
      }
      return Bad(path, "union has no branch '" + name + "'");
    }
    // Plain: natural matches first, then conversions.
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t i = 0; i < node.branches.size(); ++i) {
        const Node& b = *node.branches[i];
        if (pass == 0 && !Natural(b, j)) continue;
        auto v = ReadNonUnion(b, j, path, depth + 1, pass == 1);
        if (v.ok()) return std::move(*v).InBranch(static_cast<int>(i));
      }
    }
    return Bad(path, "no union branch accepts " + Excerpt(j));
  }

  static std::string Excerpt(const json::Value& j) {
    std::string s = json::Serialize(j);
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
  }

  Result<int64_t> Integer(const json::Value& j, const std::string& path,
                          int64_t lo, int64_t hi) {
    if (j.is_number() && j.text().find_first_of(".eE") == std::string::npos) {
      if (auto n = j.AsInt64(); n && *n >= lo && *n <= hi) return *n;
    }
    return Bad(path, "expected an integer in range, got " + Excerpt(j));
  }

  Result<double> Floating(const json::Value& j, const std::string& path) {
    if (j.is_number()) return *j.AsDouble();
    if (j.is_string()) {
      if (j.text() == "NaN") return std::numeric_limits<double>::quiet_NaN();
      if (j.text() == "Infinity")
        return std::numeric_limits<double>::infinity();
      if (j.text() == "-Infinity")
        return -std::numeric_limits<double>::infinity();
    }
    return Bad(path, "expected a number, got " + Excerpt(j));
  }

  Result<std::string> Binary(const Node& node, const json::Value& j,
                             const std::string& path) {
    if (!j.is_string())
      return Bad(path, "expected a string, got " + Excerpt(j));
    if (mode_ != Mode::kPlain) {
      auto b = internal::Latin1ToBytes(j.text());
      if (!b) return Bad(path, "code point above U+00FF in bytes");
      return *b;
    }
    LogicalType lt = node.logical_type;
    if (lt == LogicalType::kDecimal) {
      auto u = internal::DecimalToUnscaled(j.text(), node.scale);
      if (!u)
        return Bad(path,
                   "not a decimal with scale " + std::to_string(node.scale));
      if (node.type == Type::kFixed) {
        u = internal::SignExtend(*u, static_cast<size_t>(node.fixed_size));
        if (!u)
          return Bad(path,
                     "decimal too large for fixed '" + node.full_name + "'");
      }
      return *u;
    }
    if (lt == LogicalType::kUuid && node.type == Type::kFixed) {
      auto u = internal::ParseUuid(j.text());
      if (!u) return Bad(path, "not a UUID");
      return *u;
    }
    auto b = base64::Decode(j.text());
    if (!b) return Bad(path, "not valid base64");
    return *b;
  }

  Result<Value> ReadNonUnion(const Node& node, const json::Value& j,
                             const std::string& path, int depth, bool coerce) {
    bool plain = mode_ == Mode::kPlain;
    LogicalType lt = plain ? node.logical_type : LogicalType::kNone;
    switch (node.type) {
      case Type::kNull:
        if (!j.is_null()) return Bad(path, "expected null");
        return Value::Null();
      case Type::kBoolean:
        if (!j.is_bool()) return Bad(path, "expected a boolean");
        return Value::Boolean(j.bool_value());
      case Type::kInt: {
        if (j.is_string() && coerce && lt == LogicalType::kDate) {
          auto d = internal::ParseDate(j.text());
          if (d && *d >= INT32_MIN && *d <= INT32_MAX)
            return Value::Int(static_cast<int32_t>(*d));
          return Bad(path, "not a date (YYYY-MM-DD)");
        }
        if (j.is_string() && coerce && lt == LogicalType::kTimeMillis) {
          auto t = internal::ParseTimeOfDay(j.text(), TimeUnit::kMillis);
          if (t) return Value::Int(static_cast<int32_t>(*t));
          return Bad(path, "not a time of day (HH:MM:SS.sss)");
        }
        ASSIGN_OR_RETURN(int64_t n, Integer(j, path, INT32_MIN, INT32_MAX));
        return Value::Int(static_cast<int32_t>(n));
      }
      case Type::kLong: {
        if (j.is_string() && coerce && lt == LogicalType::kTimeMicros) {
          auto t = internal::ParseTimeOfDay(j.text(), TimeUnit::kMicros);
          if (t) return Value::Long(*t);
          return Bad(path, "not a time of day (HH:MM:SS.ssssss)");
        }
        if (j.is_string() && coerce && IsTimestamp(lt)) {
          auto t = internal::ParseTimestamp(j.text(), UnitOf(lt));
          if (t) return Value::Long(*t);
          return Bad(path, "not an ISO-8601 timestamp");
        }
        ASSIGN_OR_RETURN(int64_t n, Integer(j, path, INT64_MIN, INT64_MAX));
        return Value::Long(n);
      }
      case Type::kFloat: {
        ASSIGN_OR_RETURN(double d, Floating(j, path));
        return Value::Float(static_cast<float>(d));
      }
      case Type::kDouble: {
        ASSIGN_OR_RETURN(double d, Floating(j, path));
        return Value::Double(d);
      }
      case Type::kString:
        if (!j.is_string())
          return Bad(path, "expected a string, got " + Excerpt(j));
        return Value::String(j.text());
      case Type::kBytes: {
        if (plain && lt == LogicalType::kDecimal && j.is_number()) {
          json::Value s = json::Value::String(j.text());
          ASSIGN_OR_RETURN(std::string b, Binary(node, s, path));
          return Value::Bytes(std::move(b));
        }
        ASSIGN_OR_RETURN(std::string b, Binary(node, j, path));
        return Value::Bytes(std::move(b));
      }
      case Type::kFixed: {
        if (plain && lt == LogicalType::kDuration && j.is_object()) {
          std::string b;
          for (const char* k : {"months", "days", "millis"}) {
            const json::Value* m = j.Find(k);
            if (m == nullptr)
              return Bad(path, std::string("duration without ") + k);
            ASSIGN_OR_RETURN(int64_t n,
                             Integer(*m, path + "/" + k, 0, UINT32_MAX));
            bytes::PutFixed32(&b, static_cast<uint32_t>(n));
          }
          return Value::Fixed(std::move(b));
        }
        json::Value text = j;
        if (plain && lt == LogicalType::kDecimal && j.is_number()) {
          text = json::Value::String(j.text());
        }
        ASSIGN_OR_RETURN(std::string b, Binary(node, text, path));
        if (static_cast<int64_t>(b.size()) != node.fixed_size) {
          return Bad(path, "fixed '" + node.full_name + "' needs " +
                               std::to_string(node.fixed_size) +
                               " bytes, got " + std::to_string(b.size()));
        }
        return Value::Fixed(std::move(b));
      }
      case Type::kEnum: {
        int i = j.is_string() ? node.SymbolIndex(j.text()) : -1;
        if (i < 0) {
          return Bad(path, Excerpt(j) + " is not a symbol of enum '" +
                               node.full_name + "'");
        }
        return Value::Enum(i);
      }
      case Type::kArray: {
        if (!j.is_array()) return Bad(path, "expected an array");
        Value v = Value::Array();
        v.items.reserve(j.items().size());
        for (size_t i = 0; i < j.items().size(); ++i) {
          ASSIGN_OR_RETURN(Value item,
                           Read(*node.items, j.items()[i],
                                path + "/" + std::to_string(i), depth + 1));
          v.items.push_back(std::move(item));
        }
        return v;
      }
      case Type::kMap: {
        if (!j.is_object()) return Bad(path, "expected an object");
        Value v = Value::Map();
        for (const auto& [k, item] : j.members()) {
          ASSIGN_OR_RETURN(Value x,
                           Read(*node.values, item, path + "/" + k, depth + 1));
          v.Put(k, std::move(x));
        }
        return v;
      }
      case Type::kRecord: {
        if (!j.is_object())
          return Bad(path,
                     "expected an object for record '" + node.full_name + "'");
        std::vector<Value> fields;
        fields.reserve(node.fields.size());
        for (const Field& f : node.fields) {
          std::string fp = path + "/" + f.name;
          const json::Value* fj = j.Find(f.name);
          if (fj != nullptr) {
            ASSIGN_OR_RETURN(Value x, Read(*f.type, *fj, fp, depth + 1));
            fields.push_back(std::move(x));
          } else if (f.default_value) {
            JsonReader defaults(Mode::kDefault);
            ASSIGN_OR_RETURN(Value x, defaults.Read(*f.type, *f.default_value,
                                                    fp, depth + 1));
            fields.push_back(std::move(x));
          } else {
            return Bad(fp, "missing field of record '" + node.full_name +
                               "' (it has no default)");
          }
        }
        return Value::Record(std::move(fields));
      }
      case Type::kUnion:
        break;
    }
    return Internal("unreachable");
  }

  Mode mode_;
};

}  // namespace

Status ValueToJson(const Node& node, const Value& value, JsonFormat format,
                   std::string* out) {
  return ToJson(node, value, format, out, 0);
}

Result<Value> JsonToValue(const Node& node, const json::Value& json,
                          JsonFormat format) {
  return JsonReader(format == JsonFormat::kAvro ? Mode::kAvro : Mode::kPlain)
      .Read(node, json, "", 0);
}

Result<Value> DefaultToValue(const Node& node, const json::Value& json) {
  return JsonReader(Mode::kDefault).Read(node, json, "", 0);
}

Status JsonToBinary(const Schema& schema, std::string_view json_text,
                    JsonFormat format, std::string* out) {
  ASSIGN_OR_RETURN(json::Value j, json::Parse(json_text));
  ASSIGN_OR_RETURN(Value v, JsonToValue(schema.root(), j, format));
  return Encode(schema, v, out);
}

}  // namespace riffle::avro
