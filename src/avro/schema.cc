#include "avro/schema.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

namespace riffle::avro {
namespace {

constexpr std::string_view kTypeNames[] = {
    "null",   "boolean", "int",  "long",  "float", "double", "bytes",
    "string", "record",  "enum", "array", "map",   "union",  "fixed"};

std::optional<Type> PrimitiveType(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(Type::kString); ++i) {
    if (kTypeNames[i] == name) return static_cast<Type>(i);
  }
  return std::nullopt;
}

bool IsValidName(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  };
  if (!alpha(name[0])) return false;
  for (char c : name) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

// A dotted namespace or full name: every component a valid name.
bool IsValidDottedName(std::string_view name) {
  if (name.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    if (!IsValidName(name.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string Quote(std::string_view s) {
  std::string out;
  json::AppendQuoted(s, &out);
  return out;
}

std::string Where(const std::string& where) {
  return where.empty() ? std::string() : where + ": ";
}

bool IsPlainInteger(const json::Value& v) {
  return v.is_number() && v.text().find_first_of(".eE") == std::string::npos;
}

// Number of code points of a UTF-8 string, or -1 if one is above U+00FF
// (Avro's JSON form of bytes and fixed maps each byte to one code point).
int64_t Latin1Length(std::string_view s) {
  int64_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++n;
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size()) {
      ++i;
      ++n;
    } else {
      return -1;
    }
  }
  return n;
}

bool IsFloatText(const json::Value& v) {
  return v.is_string() && (v.text() == "NaN" || v.text() == "Infinity" ||
                           v.text() == "-Infinity");
}

}  // namespace

std::string_view TypeName(Type type) {
  return kTypeNames[static_cast<int>(type)];
}

bool IsNamed(Type type) {
  return type == Type::kRecord || type == Type::kEnum || type == Type::kFixed;
}

std::string_view LogicalTypeName(LogicalType type) {
  switch (type) {
    case LogicalType::kNone:
      return "";
    case LogicalType::kDecimal:
      return "decimal";
    case LogicalType::kUuid:
      return "uuid";
    case LogicalType::kDate:
      return "date";
    case LogicalType::kTimeMillis:
      return "time-millis";
    case LogicalType::kTimeMicros:
      return "time-micros";
    case LogicalType::kTimestampMillis:
      return "timestamp-millis";
    case LogicalType::kTimestampMicros:
      return "timestamp-micros";
    case LogicalType::kTimestampNanos:
      return "timestamp-nanos";
    case LogicalType::kLocalTimestampMillis:
      return "local-timestamp-millis";
    case LogicalType::kLocalTimestampMicros:
      return "local-timestamp-micros";
    case LogicalType::kLocalTimestampNanos:
      return "local-timestamp-nanos";
    case LogicalType::kDuration:
      return "duration";
  }
  return "";
}

int Node::FieldIndex(std::string_view field_name) const {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == field_name) return static_cast<int>(i);
  }
  return -1;
}

int Node::SymbolIndex(std::string_view symbol) const {
  for (size_t i = 0; i < symbols.size(); ++i) {
    if (symbols[i] == symbol) return static_cast<int>(i);
  }
  return -1;
}

const Node* Schema::FindNamed(std::string_view full_name) const {
  auto it = named_.find(full_name);
  return it == named_.end() ? nullptr : it->second;
}

Status ValidateDefault(const Node& node, const json::Value& v,
                       const std::string& where) {
  auto bad = [&](std::string_view why = {}) {
    std::string text = json::Serialize(v);
    if (text.size() > 80) text = text.substr(0, 77) + "...";
    std::string m = Where(where) + "invalid default value " + text +
                    " for type " + std::string(TypeName(node.type));
    if (node.is_named()) m += " '" + node.full_name + "'";
    if (!why.empty()) m += " (" + std::string(why) + ")";
    return InvalidArgument(std::move(m));
  };
  switch (node.type) {
    case Type::kNull:
      return v.is_null() ? Status::Ok() : bad();
    case Type::kBoolean:
      return v.is_bool() ? Status::Ok() : bad();
    case Type::kInt: {
      auto n = IsPlainInteger(v) ? v.AsInt64() : std::nullopt;
      return n && *n >= INT32_MIN && *n <= INT32_MAX ? Status::Ok() : bad();
    }
    case Type::kLong:
      return IsPlainInteger(v) && v.AsInt64() ? Status::Ok() : bad();
    case Type::kFloat:
    case Type::kDouble:
      return v.is_number() || IsFloatText(v) ? Status::Ok() : bad();
    case Type::kString:
      return v.is_string() ? Status::Ok() : bad();
    case Type::kBytes:
      return v.is_string() && Latin1Length(v.text()) >= 0 ? Status::Ok()
                                                          : bad();
    case Type::kFixed:
      if (!v.is_string()) return bad();
      if (Latin1Length(v.text()) != node.fixed_size) {
        return bad("expected " + std::to_string(node.fixed_size) + " bytes");
      }
      return Status::Ok();
    case Type::kEnum:
      if (!v.is_string()) return bad();
      return node.SymbolIndex(v.text()) >= 0 ? Status::Ok()
                                             : bad("not a symbol");
    case Type::kArray:
      if (!v.is_array()) return bad();
      for (const auto& item : v.items()) {
        RETURN_IF_ERROR(ValidateDefault(*node.items, item, where));
      }
      return Status::Ok();
    case Type::kMap:
      if (!v.is_object()) return bad();
      for (const auto& [k, item] : v.members()) {
        RETURN_IF_ERROR(ValidateDefault(*node.values, item, where));
      }
      return Status::Ok();
    case Type::kRecord:
      if (!v.is_object()) return bad();
      for (const auto& f : node.fields) {
        const json::Value* fv = v.Find(f.name);
        if (fv == nullptr) {
          if (!f.default_value) {
            return bad("field '" + f.name + "' missing and has no default");
          }
          continue;
        }
        RETURN_IF_ERROR(ValidateDefault(*f.type, *fv, where));
      }
      return Status::Ok();
    case Type::kUnion:
      // Spec: a union's default corresponds to its first branch.
      if (node.branches.empty()) return bad("empty union");
      return ValidateDefault(*node.branches[0], v, where);
  }
  return bad();
}

// Builds one Schema from JSON. Single use; not thread-safe.
class SchemaParser {
 public:
  explicit SchemaParser(const SchemaParseOptions& options)
      : options_(options), schema_(new Schema()) {
    schema_->references_ = options.references;
    for (const auto& ref : options.references) {
      for (const auto& [name, node] : ref->named_) {
        schema_->named_.emplace(name, node);
      }
    }
  }

  Result<std::shared_ptr<const Schema>> Run(const json::Value& json) {
    ASSIGN_OR_RETURN(const Node* root, ParseNode(json, "", "", 0));
    schema_->root_ = root;
    return std::shared_ptr<const Schema>(std::move(schema_));
  }

 private:
  Node* NewNode(Type type) {
    auto node = std::make_unique<Node>();
    node->type = type;
    node->id = static_cast<int>(schema_->nodes_.size());
    schema_->nodes_.push_back(std::move(node));
    return schema_->nodes_.back().get();
  }

  Result<const Node*> Lookup(std::string_view name, const std::string& ns,
                             const std::string& where) {
    if (name.find('.') == std::string_view::npos && !ns.empty()) {
      if (const Node* n = schema_->FindNamed(ns + "." + std::string(name))) {
        return n;
      }
    }
    if (const Node* n = schema_->FindNamed(name)) return n;
    return InvalidArgument(Where(where) + "unknown type " + Quote(name));
  }

  Result<const Node*> ParseNode(const json::Value& j, const std::string& ns,
                                const std::string& where, int depth) {
    if (depth > options_.max_depth) {
      return InvalidArgument(Where(where) + "schema nested too deeply");
    }
    if (j.is_string()) {
      if (auto t = PrimitiveType(j.text())) return NewNode(*t);
      return Lookup(j.text(), ns, where);
    }
    if (j.is_array()) return ParseUnion(j, ns, where, depth);
    if (!j.is_object()) {
      return InvalidArgument(Where(where) +
                             "a schema must be a string, "
                             "object or array, not " +
                             json::Serialize(j));
    }
    const json::Value* type = j.Find("type");
    if (type == nullptr) {
      return InvalidArgument(Where(where) + "missing \"type\"");
    }
    if (!type->is_string()) {
      return InvalidArgument(Where(where) + "\"type\" must be a string");
    }
    const std::string& t = type->text();
    if (auto prim = PrimitiveType(t)) return ParsePrimitive(j, *prim, where);
    if (t == "record" || t == "error") return ParseRecord(j, ns, where, depth);
    if (t == "enum") return ParseEnum(j, ns, where);
    if (t == "fixed") return ParseFixed(j, ns, where);
    if (t == "array" || t == "map") {
      bool array = t == "array";
      const char* key = array ? "items" : "values";
      const json::Value* inner = j.Find(key);
      if (inner == nullptr) {
        return InvalidArgument(Where(where) + t + " without \"" + key + "\"");
      }
      Node* node = NewNode(array ? Type::kArray : Type::kMap);
      ASSIGN_OR_RETURN(
          const Node* child,
          ParseNode(*inner, ns,
                    where + (where.empty() ? "" : " ") + t + " " + key,
                    depth + 1));
      (array ? node->items : node->values) = child;
      CopyProperties(j, {"type", key}, &node->properties);
      return node;
    }
    if (t == "union") {
      return InvalidArgument(Where(where) +
                             "a union is written as a JSON array");
    }
    // {"type": "SomeNamedType"} refers to a defined type.
    return Lookup(t, ns, where);
  }

  static void CopyProperties(const json::Value& j,
                             std::initializer_list<std::string_view> reserved,
                             std::vector<json::Value::Member>* out) {
    for (const auto& m : j.members()) {
      if (std::find(reserved.begin(), reserved.end(), m.first) ==
          reserved.end()) {
        out->push_back(m);
      }
    }
  }

  Result<const Node*> ParseUnion(const json::Value& j, const std::string& ns,
                                 const std::string& where, int depth) {
    Node* node = NewNode(Type::kUnion);
    std::set<std::string> seen;
    for (size_t i = 0; i < j.items().size(); ++i) {
      std::string bw = where + (where.empty() ? "" : " ") + "union branch " +
                       std::to_string(i);
      ASSIGN_OR_RETURN(const Node* b,
                       ParseNode(j.items()[i], ns, bw, depth + 1));
      if (b->type == Type::kUnion) {
        return InvalidArgument(bw +
                               ": unions may not immediately contain "
                               "other unions");
      }
      std::string key =
          b->is_named() ? b->full_name : std::string(TypeName(b->type));
      if (!seen.insert(key).second) {
        return InvalidArgument(bw + ": duplicate type " + key + " in union");
      }
      node->branches.push_back(b);
    }
    return node;
  }

  // Reads "precision"/"scale" style integer attributes.
  static std::optional<int64_t> IntAttr(const json::Value& j,
                                        std::string_view key) {
    const json::Value* v = j.Find(key);
    if (v == nullptr || !IsPlainInteger(*v)) return std::nullopt;
    return v->AsInt64();
  }

  // Sets node->logical_type when "logicalType" is valid on this node;
  // otherwise leaves kNone, as the specification asks.
  static void ApplyLogicalType(const json::Value& j, Node* node) {
    const json::Value* lt = j.Find("logicalType");
    if (lt == nullptr || !lt->is_string()) return;
    const std::string& name = lt->text();
    Type t = node->type;
    auto set_if = [&](bool ok, LogicalType type) {
      if (ok) node->logical_type = type;
    };
    if (name == "decimal") {
      if (t != Type::kBytes && t != Type::kFixed) return;
      auto precision = IntAttr(j, "precision");
      std::optional<int64_t> scale = int64_t{0};
      if (j.Find("scale") != nullptr) scale = IntAttr(j, "scale");
      if (!precision || *precision <= 0 || !scale || *scale < 0 ||
          *scale > *precision || *precision > INT32_MAX) {
        return;
      }
      if (t == Type::kFixed) {
        // Largest precision that 8*size-1 bits of magnitude can hold.
        double max =
            std::floor((8.0 * static_cast<double>(node->fixed_size) - 1) *
                       std::log10(2.0));
        if (static_cast<double>(*precision) > max) return;
      }
      node->logical_type = LogicalType::kDecimal;
      node->precision = static_cast<int>(*precision);
      node->scale = static_cast<int>(*scale);
    } else if (name == "uuid") {
      set_if(
          t == Type::kString || (t == Type::kFixed && node->fixed_size == 16),
          LogicalType::kUuid);
    } else if (name == "date") {
      set_if(t == Type::kInt, LogicalType::kDate);
    } else if (name == "time-millis") {
      set_if(t == Type::kInt, LogicalType::kTimeMillis);
    } else if (name == "time-micros") {
      set_if(t == Type::kLong, LogicalType::kTimeMicros);
    } else if (name == "timestamp-millis") {
      set_if(t == Type::kLong, LogicalType::kTimestampMillis);
    } else if (name == "timestamp-micros") {
      set_if(t == Type::kLong, LogicalType::kTimestampMicros);
    } else if (name == "timestamp-nanos") {
      set_if(t == Type::kLong, LogicalType::kTimestampNanos);
    } else if (name == "local-timestamp-millis") {
      set_if(t == Type::kLong, LogicalType::kLocalTimestampMillis);
    } else if (name == "local-timestamp-micros") {
      set_if(t == Type::kLong, LogicalType::kLocalTimestampMicros);
    } else if (name == "local-timestamp-nanos") {
      set_if(t == Type::kLong, LogicalType::kLocalTimestampNanos);
    } else if (name == "duration") {
      set_if(t == Type::kFixed && node->fixed_size == 12,
             LogicalType::kDuration);
    }
  }

  Result<const Node*> ParsePrimitive(const json::Value& j, Type type,
                                     const std::string&) {
    Node* node = NewNode(type);
    CopyProperties(j, {"type"}, &node->properties);
    ApplyLogicalType(j, node);
    return node;
  }

  // Resolves name + namespace of a named type definition, registers it, and
  // fills the name fields of `node`.
  Status DefineName(const json::Value& j, const std::string& enclosing_ns,
                    const std::string& where, Node* node) {
    std::string kind(TypeName(node->type));
    const json::Value* name = j.Find("name");
    if (name == nullptr) {
      return InvalidArgument(Where(where) + kind + " without \"name\"");
    }
    if (!name->is_string()) {
      return InvalidArgument(Where(where) + kind +
                             " \"name\" must be a string");
    }
    std::string ns = enclosing_ns;
    if (const json::Value* n = j.Find("namespace")) {
      if (n->is_string()) {
        ns = n->text();
      } else if (!n->is_null()) {
        return InvalidArgument(Where(where) + kind + " " + Quote(name->text()) +
                               ": \"namespace\" must be a string");
      }
    }
    const std::string& nm = name->text();
    size_t dot = nm.rfind('.');
    if (dot != std::string::npos) {
      ns = nm.substr(0, dot);
      node->name = nm.substr(dot + 1);
    } else {
      node->name = nm;
    }
    if (!IsValidName(node->name) ||
        (dot != std::string::npos && !IsValidDottedName(ns))) {
      return InvalidArgument(Where(where) + kind + " name " + Quote(nm) +
                             " is not a valid Avro name");
    }
    if (!ns.empty() && !IsValidDottedName(ns)) {
      return InvalidArgument(Where(where) + kind + " " + Quote(nm) +
                             ": namespace " + Quote(ns) + " is not valid");
    }
    node->name_space = ns;
    node->full_name = ns.empty() ? node->name : ns + "." + node->name;
    if (PrimitiveType(node->full_name)) {
      return InvalidArgument(Where(where) + kind +
                             " may not be named after "
                             "the primitive type " +
                             Quote(node->full_name));
    }
    if (!schema_->named_.emplace(node->full_name, node).second) {
      return InvalidArgument(Where(where) + "redefinition of " +
                             Quote(node->full_name));
    }
    if (const json::Value* doc = j.Find("doc"); doc && doc->is_string()) {
      node->doc = doc->text();
    }
    if (const json::Value* aliases = j.Find("aliases")) {
      if (!aliases->is_array()) {
        return InvalidArgument(Where(where) + kind + " '" + node->full_name +
                               "': \"aliases\" must be an array of names");
      }
      for (const auto& a : aliases->items()) {
        if (!a.is_string() || !IsValidDottedName(a.text())) {
          return InvalidArgument(Where(where) + kind + " '" + node->full_name +
                                 "': invalid alias " + json::Serialize(a));
        }
        node->aliases.push_back(a.text().find('.') != std::string::npos ||
                                        ns.empty()
                                    ? a.text()
                                    : ns + "." + a.text());
      }
    }
    return Status::Ok();
  }

  Result<const Node*> ParseRecord(const json::Value& j, const std::string& ns,
                                  const std::string& where, int depth) {
    Node* node = NewNode(Type::kRecord);
    RETURN_IF_ERROR(DefineName(j, ns, where, node));
    std::string rw = "record '" + node->full_name + "'";
    const json::Value* fields = j.Find("fields");
    if (fields == nullptr || !fields->is_array()) {
      return InvalidArgument(rw + ": \"fields\" must be an array");
    }
    CopyProperties(j, {"type", "name", "namespace", "doc", "aliases", "fields"},
                   &node->properties);
    for (const auto& fj : fields->items()) {
      std::string fw = rw + " field " + std::to_string(node->fields.size());
      if (!fj.is_object()) return InvalidArgument(fw + ": must be an object");
      const json::Value* name = fj.Find("name");
      if (name == nullptr || !name->is_string()) {
        return InvalidArgument(fw + ": missing or non-string \"name\"");
      }
      fw = rw + " field '" + name->text() + "'";
      if (!IsValidName(name->text())) {
        return InvalidArgument(fw + ": not a valid Avro name");
      }
      if (node->FieldIndex(name->text()) >= 0) {
        return InvalidArgument(fw + ": duplicate field name");
      }
      const json::Value* type = fj.Find("type");
      if (type == nullptr) return InvalidArgument(fw + ": missing \"type\"");
      Field f;
      f.name = name->text();
      f.position = static_cast<int>(node->fields.size());
      ASSIGN_OR_RETURN(f.type,
                       ParseNode(*type, node->name_space, fw, depth + 1));
      if (const json::Value* doc = fj.Find("doc"); doc && doc->is_string()) {
        f.doc = doc->text();
      }
      if (const json::Value* order = fj.Find("order")) {
        std::string o = order->is_string() ? order->text() : "";
        if (o == "ascending") {
          f.order = SortOrder::kAscending;
        } else if (o == "descending") {
          f.order = SortOrder::kDescending;
        } else if (o == "ignore") {
          f.order = SortOrder::kIgnore;
        } else {
          return InvalidArgument(fw + ": invalid \"order\" " +
                                 json::Serialize(*order));
        }
      }
      if (const json::Value* aliases = fj.Find("aliases")) {
        if (!aliases->is_array()) {
          return InvalidArgument(fw + ": \"aliases\" must be an array");
        }
        for (const auto& a : aliases->items()) {
          if (!a.is_string() || !IsValidName(a.text())) {
            return InvalidArgument(fw + ": invalid alias " +
                                   json::Serialize(a));
          }
          f.aliases.push_back(a.text());
        }
      }
      if (const json::Value* def = fj.Find("default")) {
        f.default_value = *def;
      }
      CopyProperties(fj, {"name", "type", "default", "doc", "aliases", "order"},
                     &f.properties);
      node->fields.push_back(std::move(f));
    }
    // Defaults are checked once every field is known: a default of a
    // recursive record type may rely on the defaults of later fields.
    if (options_.validate_defaults) {
      for (const auto& f : node->fields) {
        if (f.default_value) {
          RETURN_IF_ERROR(ValidateDefault(*f.type, *f.default_value,
                                          rw + " field '" + f.name + "'"));
        }
      }
    }
    return node;
  }

  Result<const Node*> ParseEnum(const json::Value& j, const std::string& ns,
                                const std::string& where) {
    Node* node = NewNode(Type::kEnum);
    RETURN_IF_ERROR(DefineName(j, ns, where, node));
    std::string ew = "enum '" + node->full_name + "'";
    const json::Value* symbols = j.Find("symbols");
    if (symbols == nullptr || !symbols->is_array()) {
      return InvalidArgument(ew + ": \"symbols\" must be an array");
    }
    for (const auto& s : symbols->items()) {
      if (!s.is_string() || !IsValidName(s.text())) {
        return InvalidArgument(ew + ": invalid symbol " + json::Serialize(s));
      }
      if (node->SymbolIndex(s.text()) >= 0) {
        return InvalidArgument(ew + ": duplicate symbol " + Quote(s.text()));
      }
      node->symbols.push_back(s.text());
    }
    if (const json::Value* def = j.Find("default")) {
      int index = def->is_string() ? node->SymbolIndex(def->text()) : -1;
      if (index < 0) {
        return InvalidArgument(ew + ": default " + json::Serialize(*def) +
                               " is not one of its symbols");
      }
      node->enum_default = index;
    }
    CopyProperties(
        j,
        {"type", "name", "namespace", "doc", "aliases", "symbols", "default"},
        &node->properties);
    return node;
  }

  Result<const Node*> ParseFixed(const json::Value& j, const std::string& ns,
                                 const std::string& where) {
    Node* node = NewNode(Type::kFixed);
    RETURN_IF_ERROR(DefineName(j, ns, where, node));
    const json::Value* size = j.Find("size");
    std::optional<int64_t> n;
    if (size != nullptr && IsPlainInteger(*size)) n = size->AsInt64();
    if (!n || *n < 0 || *n > INT32_MAX) {
      return InvalidArgument("fixed '" + node->full_name +
                             "': \"size\" must be a non-negative integer");
    }
    node->fixed_size = *n;
    CopyProperties(j, {"type", "name", "namespace", "doc", "aliases", "size"},
                   &node->properties);
    ApplyLogicalType(j, node);
    return node;
  }

  const SchemaParseOptions& options_;
  std::unique_ptr<Schema> schema_;
};

Result<std::shared_ptr<const Schema>> Schema::FromJson(
    const json::Value& json, const SchemaParseOptions& options) {
  return SchemaParser(options).Run(json);
}

Result<std::shared_ptr<const Schema>> Schema::Parse(
    std::string_view json_text, const SchemaParseOptions& options) {
  json::ParseOptions po;
  po.max_depth = options.max_depth * 2 + 8;
  auto j = json::Parse(json_text, po);
  if (!j.ok()) {
    return InvalidArgument("schema is not valid JSON: " + j.status().message());
  }
  return FromJson(*j, options);
}

namespace {

void WriteProperties(const std::vector<json::Value::Member>& props,
                     std::string* out) {
  for (const auto& [k, v] : props) {
    out->push_back(',');
    json::AppendQuoted(k, out);
    out->push_back(':');
    json::SerializeTo(v, out);
  }
}

void WriteStringArray(const std::vector<std::string>& items, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out->push_back(',');
    json::AppendQuoted(items[i], out);
  }
  out->push_back(']');
}

}  // namespace

void WriteSchemaJson(const Node& node, bool canonical,
                     std::vector<const Node*>* defined, std::string* out) {
  if (node.is_named()) {
    if (std::find(defined->begin(), defined->end(), &node) != defined->end()) {
      json::AppendQuoted(node.full_name, out);
      return;
    }
    defined->push_back(&node);
    out->append("{\"name\":");
    // The full form states the namespace, even an empty one: a bare name
    // would otherwise inherit the enclosing type's namespace when read back.
    json::AppendQuoted(canonical ? node.full_name : node.name, out);
    if (!canonical) {
      out->append(",\"namespace\":");
      json::AppendQuoted(node.name_space, out);
    }
    out->append(",\"type\":");
    json::AppendQuoted(TypeName(node.type), out);
    if (!canonical) {
      if (!node.doc.empty()) {
        out->append(",\"doc\":");
        json::AppendQuoted(node.doc, out);
      }
      if (!node.aliases.empty()) {
        out->append(",\"aliases\":");
        WriteStringArray(node.aliases, out);
      }
    }
    switch (node.type) {
      case Type::kRecord:
        out->append(",\"fields\":[");
        for (size_t i = 0; i < node.fields.size(); ++i) {
          const Field& f = node.fields[i];
          if (i) out->push_back(',');
          out->append("{\"name\":");
          json::AppendQuoted(f.name, out);
          out->append(",\"type\":");
          WriteSchemaJson(*f.type, canonical, defined, out);
          if (!canonical) {
            if (!f.doc.empty()) {
              out->append(",\"doc\":");
              json::AppendQuoted(f.doc, out);
            }
            if (f.default_value) {
              out->append(",\"default\":");
              json::SerializeTo(*f.default_value, out);
            }
            if (f.order != SortOrder::kAscending) {
              out->append(f.order == SortOrder::kDescending
                              ? ",\"order\":\"descending\""
                              : ",\"order\":\"ignore\"");
            }
            if (!f.aliases.empty()) {
              out->append(",\"aliases\":");
              WriteStringArray(f.aliases, out);
            }
            WriteProperties(f.properties, out);
          }
          out->push_back('}');
        }
        out->push_back(']');
        break;
      case Type::kEnum:
        out->append(",\"symbols\":");
        WriteStringArray(node.symbols, out);
        if (!canonical && node.enum_default) {
          out->append(",\"default\":");
          json::AppendQuoted(node.symbols[*node.enum_default], out);
        }
        break;
      default:
        out->append(",\"size\":");
        out->append(std::to_string(node.fixed_size));
        break;
    }
    if (!canonical) WriteProperties(node.properties, out);
    out->push_back('}');
    return;
  }
  switch (node.type) {
    case Type::kArray:
    case Type::kMap: {
      bool array = node.type == Type::kArray;
      out->append(array ? "{\"type\":\"array\",\"items\":"
                        : "{\"type\":\"map\",\"values\":");
      WriteSchemaJson(array ? *node.items : *node.values, canonical, defined,
                      out);
      if (!canonical) WriteProperties(node.properties, out);
      out->push_back('}');
      return;
    }
    case Type::kUnion:
      out->push_back('[');
      for (size_t i = 0; i < node.branches.size(); ++i) {
        if (i) out->push_back(',');
        WriteSchemaJson(*node.branches[i], canonical, defined, out);
      }
      out->push_back(']');
      return;
    default:
      if (canonical || node.properties.empty()) {
        json::AppendQuoted(TypeName(node.type), out);
      } else {
        out->append("{\"type\":");
        json::AppendQuoted(TypeName(node.type), out);
        WriteProperties(node.properties, out);
        out->push_back('}');
      }
  }
}

std::string Schema::ToJson() const {
  std::string out;
  std::vector<const Node*> defined;
  WriteSchemaJson(*root_, false, &defined, &out);
  return out;
}

std::string Schema::CanonicalForm() const {
  std::string out;
  std::vector<const Node*> defined;
  WriteSchemaJson(*root_, true, &defined, &out);
  return out;
}

}  // namespace riffle::avro
