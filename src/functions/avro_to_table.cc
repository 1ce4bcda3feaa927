#include "functions/avro_to_table.h"

#include <fmt/format.h>

#include <atomic>

#include "avro/framing.h"
#include "avro/json_codec.h"
#include "json/json.h"
#include "json/writer.h"
#include "tables/number.h"

namespace riffle::functions {

namespace {

using avro::Node;
using avro::Type;
using avro::Value;
using tables::AttributeValue;
using tables::Number;

// DynamoDB allows 32 levels of nesting in an item; Avro data is bounded by
// the decoder's own limit (128), so this only guards the recursion.
constexpr int kMaxDepth = 130;

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

// A JSON number as N, or as S (its text) when DynamoDB cannot hold it
// (more than 38 digits, or out of range): the value is kept either way.
AttributeValue NumberOrString(const std::string& text) {
  Result<Number> n = Number::Parse(text);
  if (n.ok()) return AttributeValue::N(*n);
  return AttributeValue::S(text);
}

AttributeValue FromJson(const json::Value& j) {
  switch (j.type()) {
    case json::Value::Type::kNull:
      return AttributeValue::Null();
    case json::Value::Type::kBool:
      return AttributeValue::Bool(j.bool_value());
    case json::Value::Type::kNumber:
      return NumberOrString(j.text());
    case json::Value::Type::kString:
      return AttributeValue::S(j.text());
    case json::Value::Type::kArray: {
      AttributeValue::List l;
      l.reserve(j.items().size());
      for (const json::Value& item : j.items()) l.push_back(FromJson(item));
      return AttributeValue::L(std::move(l));
    }
    case json::Value::Type::kObject: {
      AttributeValue::Map m;
      for (const auto& [k, v] : j.members()) m[k] = FromJson(v);
      return AttributeValue::M(std::move(m));
    }
  }
  return AttributeValue::Null();
}

// A leaf through the plain-JSON projection itself, so that logical types
// (dates, timestamps, decimals, durations) and the odd cases (NaN, invalid
// UTF-8) read exactly as docs/avro.md shows them. `number_from_string`
// stores a decimal's exact string as N.
Result<AttributeValue> ViaPlainJson(const Node& node, const Value& v,
                                    bool number_from_string) {
  std::string text;
  RETURN_IF_ERROR(avro::ValueToJson(node, v, avro::JsonFormat::kPlain, &text));
  ASSIGN_OR_RETURN(json::Value j, json::Parse(text));
  if (number_from_string && j.is_string()) return NumberOrString(j.text());
  return FromJson(j);
}

Result<AttributeValue> Convert(const Node& node, const Value& v, int depth) {
  if (depth > kMaxDepth)
    return InvalidArgument("avro-to-table: value nested too deeply");
  if (node.type == Type::kUnion) {
    int b = v.branch;
    if (b < 0 || b >= static_cast<int>(node.branches.size())) {
      b = -1;
      for (size_t i = 0; i < node.branches.size(); ++i)
        if (node.branches[i]->type == v.type) {
          b = static_cast<int>(i);
          break;
        }
    }
    if (b < 0)
      return InvalidArgument(fmt::format(
          "avro-to-table: a {} value is not in the union", TypeName(v.type)));
    return Convert(*node.branches[b], v, depth + 1);
  }
  if (v.type != node.type)
    return InvalidArgument(
        fmt::format("avro-to-table: a {} value does not fit a {}",
                    TypeName(v.type), TypeName(node.type)));
  switch (node.type) {
    case Type::kNull:
      return AttributeValue::Null();
    case Type::kBoolean:
      return AttributeValue::Bool(v.boolean);
    case Type::kInt:
    case Type::kLong:
      if (node.logical_type != avro::LogicalType::kNone)
        return ViaPlainJson(node, v, false);
      return AttributeValue::N(Number::FromInt64(v.integer));
    case Type::kFloat:
    case Type::kDouble:
      return ViaPlainJson(node, v, false);
    case Type::kString:
      if (IsValidUtf8(v.bytes)) return AttributeValue::S(v.bytes);
      return ViaPlainJson(node, v, false);  // U+FFFD for bad bytes
    case Type::kBytes:
    case Type::kFixed:
      if (node.logical_type == avro::LogicalType::kDecimal)
        return ViaPlainJson(node, v, true);
      // A uuid or duration of the wrong size has no plain form: bytes.
      if ((node.logical_type == avro::LogicalType::kUuid &&
           v.bytes.size() == 16) ||
          (node.logical_type == avro::LogicalType::kDuration &&
           v.bytes.size() == 12))
        return ViaPlainJson(node, v, false);
      return AttributeValue::B(v.bytes);
    case Type::kEnum:
      if (v.integer < 0 ||
          v.integer >= static_cast<int64_t>(node.symbols.size()))
        return InvalidArgument("avro-to-table: enum index out of range");
      return AttributeValue::S(node.symbols[static_cast<size_t>(v.integer)]);
    case Type::kArray: {
      AttributeValue::List l;
      l.reserve(v.items.size());
      for (const Value& item : v.items) {
        ASSIGN_OR_RETURN(AttributeValue a,
                         Convert(*node.items, item, depth + 1));
        l.push_back(std::move(a));
      }
      return AttributeValue::L(std::move(l));
    }
    case Type::kMap: {
      if (v.keys.size() != v.items.size())
        return InvalidArgument("avro-to-table: map keys and values differ");
      AttributeValue::Map m;
      for (size_t i = 0; i < v.items.size(); ++i) {
        ASSIGN_OR_RETURN(AttributeValue a,
                         Convert(*node.values, v.items[i], depth + 1));
        m[v.keys[i]] = std::move(a);  // the last duplicate wins, as in JSON
      }
      return AttributeValue::M(std::move(m));
    }
    case Type::kRecord: {
      if (v.items.size() != node.fields.size())
        return InvalidArgument("avro-to-table: record '" + node.full_name +
                               "' value has the wrong number of fields");
      AttributeValue::Map m;
      for (size_t i = 0; i < v.items.size(); ++i) {
        ASSIGN_OR_RETURN(AttributeValue a,
                         Convert(*node.fields[i].type, v.items[i], depth + 1));
        m[node.fields[i].name] = std::move(a);
      }
      return AttributeValue::M(std::move(m));
    }
    case Type::kUnion:
      break;
  }
  return Internal("avro-to-table: unreachable");
}

// A key attribute's value as bytes that tell keys apart: the type, then the
// string, bytes or normalised number.
void AppendKeyPart(const AttributeValue& a, std::string* out) {
  out->push_back(static_cast<char>(a.type()));
  const std::string& s =
      a.is(tables::AttributeType::kN) ? a.number().ToString() : a.bytes();
  out->append(std::to_string(s.size()));
  out->push_back(':');
  out->append(s);
}

}  // namespace

Result<AttributeValue> AvroToAttribute(const Node& node, const Value& value) {
  return Convert(node, value, 0);
}

Result<tables::Item> AvroToItem(const Node& node, const Value& value) {
  ASSIGN_OR_RETURN(AttributeValue a, Convert(node, value, 0));
  if (!a.is(tables::AttributeType::kM))
    return InvalidArgument(
        "avro-to-table: the record's schema is not a record, so it has no "
        "fields to store as attributes");
  return std::move(a.map());
}

Result<std::shared_ptr<const avro::Decoder>> AvroToTable::DecoderForId(
    uint32_t id) {
  {
    std::lock_guard l(mu_);
    if (auto it = by_id_.find(id); it != by_id_.end()) return it->second;
  }
  // Unknown ids are not remembered: the schema may be registered later.
  ASSIGN_OR_RETURN(std::shared_ptr<const avro::Schema> schema,
                   schemas_.GetAvroSchemaById(static_cast<int>(id)));
  ASSIGN_OR_RETURN(std::shared_ptr<const avro::Decoder> decoder,
                   avro::Decoder::Create(std::move(schema)));
  std::lock_guard l(mu_);
  return by_id_.emplace(id, std::move(decoder)).first->second;
}

Result<std::shared_ptr<const avro::Decoder>> AvroToTable::DecoderForGlue(
    const std::array<uint8_t, 16>& uuid) {
  {
    std::lock_guard l(mu_);
    if (auto it = by_glue_.find(uuid); it != by_glue_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const avro::Schema> schema,
                   schemas_.GetAvroSchemaByGlueId(uuid));
  ASSIGN_OR_RETURN(std::shared_ptr<const avro::Decoder> decoder,
                   avro::Decoder::Create(std::move(schema)));
  std::lock_guard l(mu_);
  return by_glue_.emplace(uuid, std::move(decoder)).first->second;
}

Result<TableKey> AvroToTable::KeyOf(const std::string& table) {
  {
    std::lock_guard l(mu_);
    if (auto it = keys_.find(table); it != keys_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(TableKey key, tables_.DescribeKey(table));
  std::lock_guard l(mu_);
  keys_[table] = key;
  return key;
}

void AvroToTable::ForgetTable(const std::string& table) {
  std::lock_guard l(mu_);
  keys_.erase(table);
}

Result<tables::Item> AvroToTable::MessageToItem(std::string_view message,
                                                const TableKey& key) {
  std::shared_ptr<const avro::Decoder> decoder;
  std::string glue_payload;  // owns a decompressed Glue datum
  std::string_view datum;
  switch (avro::DetectFraming(message)) {
    case avro::Framing::kConfluent: {
      ASSIGN_OR_RETURN(avro::ConfluentMessage m, avro::ParseConfluent(message));
      ASSIGN_OR_RETURN(decoder, DecoderForId(m.schema_id));
      datum = m.payload;
      break;
    }
    case avro::Framing::kGlue: {
      ASSIGN_OR_RETURN(avro::GlueMessage m, avro::ParseGlue(message));
      ASSIGN_OR_RETURN(decoder, DecoderForGlue(m.schema_version_id));
      glue_payload = std::move(m.payload);
      datum = glue_payload;
      break;
    }
    default:
      return InvalidArgument(
          "avro-to-table: the record is neither in the Confluent wire format "
          "(0x00 + schema id) nor Glue-framed (0x03)");
  }
  Value value;
  if (Status s = decoder->DecodeExact(datum, &value); !s.ok())
    return InvalidArgument("avro-to-table: cannot decode the record: " +
                           s.message());
  ASSIGN_OR_RETURN(tables::Item item,
                   AvroToItem(decoder->writer().root(), value));
  for (const std::string* name :
       {&key.hash, key.range ? &*key.range : nullptr}) {
    if (!name) continue;
    auto it = item.find(*name);
    if (it == item.end())
      return InvalidArgument("avro-to-table: the record has no field '" +
                             *name + "', a key attribute of the table");
    if (!it->second.is(tables::AttributeType::kS) &&
        !it->second.is(tables::AttributeType::kN) &&
        !it->second.is(tables::AttributeType::kB))
      return InvalidArgument(fmt::format(
          "avro-to-table: key field '{}' is {}, not a string, number or bytes",
          *name, tables::AttributeTypeName(it->second.type())));
  }
  return item;
}

void AvroToTable::Process(const std::string& table,
                          const std::vector<std::string_view>& messages,
                          Done done) {
  std::vector<Status> statuses(messages.size());
  if (messages.empty()) return done(std::move(statuses));
  if (table.empty()) {
    for (Status& s : statuses)
      s = FailedPrecondition(
          "avro-to-table: the function has no TABLE_NAME environment "
          "variable");
    return done(std::move(statuses));
  }
  Result<TableKey> key = KeyOf(table);
  if (!key.ok()) {
    for (Status& s : statuses) s = key.status();
    return done(std::move(statuses));
  }

  // Decode everything first; then one write per distinct key (the last
  // record with that key wins, as it would when written in order).
  std::vector<tables::Item> items;
  std::vector<size_t> owner(messages.size(), SIZE_MAX);  // index into items
  std::map<std::string, size_t> by_key;
  items.reserve(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    Result<tables::Item> item = MessageToItem(messages[i], *key);
    if (!item.ok()) {
      statuses[i] = item.status();
      continue;
    }
    std::string k;
    AppendKeyPart(item->at(key->hash), &k);
    if (key->range) AppendKeyPart(item->at(*key->range), &k);
    auto [it, inserted] = by_key.emplace(std::move(k), items.size());
    if (inserted) {
      items.push_back(std::move(*item));
    } else {
      items[it->second] = std::move(*item);
    }
    owner[i] = it->second;
  }
  if (items.empty()) return done(std::move(statuses));

  tables_.PutItems(
      table, std::move(items),
      [this, table, statuses = std::move(statuses), owner = std::move(owner),
       done = std::move(done)](std::vector<Status> written) mutable {
        bool stale_key = false;
        for (size_t i = 0; i < owner.size(); ++i) {
          if (owner[i] == SIZE_MAX) continue;
          statuses[i] = owner[i] < written.size()
                            ? written[owner[i]]
                            : Internal("avro-to-table: no write outcome");
          StatusCode c = statuses[i].code();
          stale_key |=
              c == StatusCode::kNotFound || c == StatusCode::kInvalidArgument;
        }
        // The table may have been deleted or re-created with another key:
        // look it up again on the next batch.
        if (stale_key) ForgetTable(table);
        done(std::move(statuses));
      });
}

BuiltinOutcome SummarizeBuiltin(const std::vector<BuiltinRecord>& records,
                                const std::vector<Status>& statuses,
                                bool report_item_failures) {
  BuiltinOutcome out;
  const Status* first_error = nullptr;
  std::string_view first_id;
  for (size_t i = 0; i < statuses.size() && i < records.size(); ++i) {
    if (statuses[i].ok()) continue;
    ++out.failed;
    if (!first_error) {
      first_error = &statuses[i];
      first_id = records[i].id;
    }
  }
  json::Writer w(&out.payload);
  if (out.failed > 0 && !report_item_failures) {
    out.function_error = "Unhandled";
    w.BeginObject();
    w.Key("errorType").String("RecordFailed");
    w.Key("errorMessage")
        .String(fmt::format("{} of {} record(s) failed; the first ({}): {}",
                            out.failed, records.size(), first_id,
                            first_error->message()));
    w.EndObject();
    return out;
  }
  w.BeginObject().Key("batchItemFailures").BeginArray();
  for (size_t i = 0; i < statuses.size() && i < records.size(); ++i) {
    if (statuses[i].ok()) continue;
    w.BeginObject().Key("itemIdentifier").String(records[i].id).EndObject();
  }
  w.EndArray().EndObject();
  return out;
}

}  // namespace riffle::functions
