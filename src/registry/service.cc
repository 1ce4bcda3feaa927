#include "registry/service.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <set>

#include "avro/compatibility.h"
#include "json/json.h"
#include "json/writer.h"
#include "registry/schema_syntax.h"

namespace riffle::registry {

// ---- names ----

std::string_view SchemaTypeName(SchemaType type) {
  switch (type) {
    case SchemaType::kAvro:
      return "AVRO";
    case SchemaType::kJson:
      return "JSON";
    case SchemaType::kProtobuf:
      return "PROTOBUF";
  }
  return "AVRO";
}

namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::optional<SchemaType> ParseSchemaType(std::string_view name) {
  std::string u = Upper(name);
  if (u == "AVRO") return SchemaType::kAvro;
  if (u == "JSON") return SchemaType::kJson;
  if (u == "PROTOBUF") return SchemaType::kProtobuf;
  return std::nullopt;
}

std::string_view CompatibilityLevelName(CompatibilityLevel level) {
  switch (level) {
    case CompatibilityLevel::kNone:
      return "NONE";
    case CompatibilityLevel::kBackward:
      return "BACKWARD";
    case CompatibilityLevel::kBackwardTransitive:
      return "BACKWARD_TRANSITIVE";
    case CompatibilityLevel::kForward:
      return "FORWARD";
    case CompatibilityLevel::kForwardTransitive:
      return "FORWARD_TRANSITIVE";
    case CompatibilityLevel::kFull:
      return "FULL";
    case CompatibilityLevel::kFullTransitive:
      return "FULL_TRANSITIVE";
  }
  return "NONE";
}

std::optional<CompatibilityLevel> ParseCompatibilityLevel(
    std::string_view name) {
  std::string u = Upper(name);
  for (int i = 0; i <= 6; ++i) {
    auto level = static_cast<CompatibilityLevel>(i);
    if (u == CompatibilityLevelName(level)) return level;
  }
  return std::nullopt;
}

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kReadWrite:
      return "READWRITE";
    case Mode::kReadOnly:
      return "READONLY";
    case Mode::kImport:
      return "IMPORT";
  }
  return "READWRITE";
}

std::optional<Mode> ParseMode(std::string_view name) {
  if (name == "READWRITE") return Mode::kReadWrite;
  if (name == "READONLY") return Mode::kReadOnly;
  if (name == "IMPORT") return Mode::kImport;
  return std::nullopt;
}

Result<VersionSpec> VersionSpec::Parse(std::string_view text) {
  if (text == "latest" || text == "-1") return VersionSpec::Latest();
  int value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1) {
    return InvalidVersion(text);
  }
  return VersionSpec::Number(value);
}

// ---- storage keys (docs/formats/registry.md) ----

namespace {

constexpr std::string_view kNextIdKey = "meta/next_id";
constexpr std::string_view kSchemaPrefix = "schema/";
constexpr std::string_view kVersionPrefix = "version/";
constexpr std::string_view kGlobalConfigKey = "config/global";
constexpr std::string_view kSubjectConfigPrefix = "config/subject/";
constexpr std::string_view kGlobalModeKey = "mode/global";
constexpr std::string_view kSubjectModePrefix = "mode/subject/";

void AppendBigEndian32(uint32_t v, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

uint32_t ReadBigEndian32(std::string_view s) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

std::string SchemaKey(int id) {
  std::string k(kSchemaPrefix);
  AppendBigEndian32(static_cast<uint32_t>(id), &k);
  return k;
}

// Invariant: subjects never contain NUL (the adapter rejects them), so the
// separator keeps one subject's versions contiguous and ordered.
std::string VersionKey(std::string_view subject, int version) {
  std::string k(kVersionPrefix);
  k.append(subject);
  k.push_back('\0');
  AppendBigEndian32(static_cast<uint32_t>(version), &k);
  return k;
}

std::string ConfigKey(const std::optional<std::string>& subject) {
  return subject ? std::string(kSubjectConfigPrefix) + *subject
                 : std::string(kGlobalConfigKey);
}

std::string ModeKey(const std::optional<std::string>& subject) {
  return subject ? std::string(kSubjectModePrefix) + *subject
                 : std::string(kGlobalModeKey);
}

std::string EncodeSchemaRecord(const StoredSchema& s) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject();
  w.Key("schemaType").String(SchemaTypeName(s.type));
  w.Key("schema").String(s.schema);
  w.Key("references").BeginArray();
  for (const Reference& r : s.references) {
    w.BeginObject()
        .Key("name")
        .String(r.name)
        .Key("subject")
        .String(r.subject)
        .Key("version")
        .Int(r.version)
        .EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

std::string EncodeVersionRecord(int id, bool deleted) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject().Key("id").Int(id).Key("deleted").Bool(deleted).EndObject();
  return out;
}

std::string Identity(SchemaType type, std::string_view text,
                     const std::vector<Reference>& refs) {
  std::string id;
  id.push_back(static_cast<char>('0' + static_cast<int>(type)));
  id.push_back('\0');
  id.append(text);
  for (const Reference& r : refs) {
    id.push_back('\0');
    id.append(r.name);
    id.push_back('\0');
    id.append(r.subject);
    id.push_back('\0');
    id.append(std::to_string(r.version));
  }
  return id;
}

// ---- Confluent's normalized Avro form (normalize=true) ----

void WriteSortedProperties(const std::vector<json::Value::Member>& props,
                           std::string* out) {
  std::vector<const json::Value::Member*> sorted;
  for (const auto& m : props) sorted.push_back(&m);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  for (const auto* m : sorted) {
    out->push_back(',');
    json::AppendQuoted(m->first, out);
    out->push_back(':');
    json::SerializeTo(m->second, out);
  }
}

void WriteSortedNames(std::vector<std::string> names, std::string* out) {
  std::sort(names.begin(), names.end());
  out->append("[");
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out->push_back(',');
    json::AppendQuoted(names[i], out);
  }
  out->append("]");
}

// Writes `node` as Confluent normalizes it: full names, attributes in a
// fixed order, aliases and properties sorted. Unlike Parsing Canonical Form
// it keeps docs, defaults, aliases, sort orders, logical types and other
// properties: the stored text is what readers resolve data with. Named
// types defined elsewhere (`own` lacks them: a referenced schema's) and
// those already written go by name.
void WriteNormalized(const avro::Node& node,
                     const std::set<const avro::Node*>& own,
                     std::set<const avro::Node*>* defined, std::string* out) {
  using avro::Type;
  if (node.is_named()) {
    if (!own.count(&node) || !defined->insert(&node).second) {
      json::AppendQuoted(node.full_name, out);
      return;
    }
    out->append("{\"name\":");
    json::AppendQuoted(node.full_name, out);
    out->append(",\"type\":");
    json::AppendQuoted(avro::TypeName(node.type), out);
    if (node.type == Type::kEnum) {
      out->append(",\"symbols\":[");
      for (size_t i = 0; i < node.symbols.size(); ++i) {
        if (i) out->push_back(',');
        json::AppendQuoted(node.symbols[i], out);
      }
      out->push_back(']');
    } else if (node.type == Type::kFixed) {
      out->append(",\"size\":");
      out->append(std::to_string(node.fixed_size));
    } else {
      out->append(",\"fields\":[");
      for (size_t i = 0; i < node.fields.size(); ++i) {
        const avro::Field& f = node.fields[i];
        if (i) out->push_back(',');
        out->append("{\"name\":");
        json::AppendQuoted(f.name, out);
        out->append(",\"type\":");
        WriteNormalized(*f.type, own, defined, out);
        if (f.order != avro::SortOrder::kAscending) {
          out->append(f.order == avro::SortOrder::kDescending
                          ? ",\"order\":\"descending\""
                          : ",\"order\":\"ignore\"");
        }
        if (!f.doc.empty()) {
          out->append(",\"doc\":");
          json::AppendQuoted(f.doc, out);
        }
        if (!f.aliases.empty()) {
          out->append(",\"aliases\":");
          WriteSortedNames(f.aliases, out);
        }
        if (f.default_value) {
          out->append(",\"default\":");
          json::SerializeTo(*f.default_value, out);
        }
        WriteSortedProperties(f.properties, out);
        out->push_back('}');
      }
      out->push_back(']');
    }
    if (!node.doc.empty()) {
      out->append(",\"doc\":");
      json::AppendQuoted(node.doc, out);
    }
    if (!node.aliases.empty()) {
      out->append(",\"aliases\":");
      WriteSortedNames(node.aliases, out);
    }
    if (node.type == Type::kEnum && node.enum_default) {
      out->append(",\"default\":");
      json::AppendQuoted(node.symbols[*node.enum_default], out);
    }
    WriteSortedProperties(node.properties, out);
    out->push_back('}');
    return;
  }
  switch (node.type) {
    case Type::kUnion:
      out->push_back('[');
      for (size_t i = 0; i < node.branches.size(); ++i) {
        if (i) out->push_back(',');
        WriteNormalized(*node.branches[i], own, defined, out);
      }
      out->push_back(']');
      return;
    case Type::kArray:
    case Type::kMap: {
      bool array = node.type == Type::kArray;
      out->append(array ? "{\"type\":\"array\",\"items\":"
                        : "{\"type\":\"map\",\"values\":");
      WriteNormalized(array ? *node.items : *node.values, own, defined, out);
      WriteSortedProperties(node.properties, out);
      out->push_back('}');
      return;
    }
    default:
      if (node.properties.empty()) {
        json::AppendQuoted(avro::TypeName(node.type), out);
        return;
      }
      out->append("{\"type\":");
      json::AppendQuoted(avro::TypeName(node.type), out);
      WriteSortedProperties(node.properties, out);
      out->push_back('}');
  }
}

std::string NormalizedForm(const avro::Schema& schema) {
  std::set<const avro::Node*> own;
  for (const auto& n : schema.nodes()) own.insert(n.get());
  std::set<const avro::Node*> defined;
  std::string out;
  WriteNormalized(schema.root(), own, &defined, &out);
  return out;
}

// The text an Avro schema's id hangs on. Confluent compares its rendering
// of the parsed schema (Avro's Schema.toString: fixed attribute order, full
// names split, {"type":"string"} written "string"), not the JSON as sent, so
// the same schema written another way keeps its id and makes no new version;
// docs, defaults, aliases and properties still count. ToJson is riffle's
// such rendering. Text stored in normalized form (normalize=true; before it
// Parsing Canonical Form, which is the normalized form of a schema without
// docs, defaults or properties) keys as itself, so normalized registrations
// keep matching each other; with
// references the text as sent does (ToJson would inline the referenced
// types, whose resolution may move with a "latest" reference).
std::string AvroIdentityText(const avro::Schema& schema,
                             const std::string& text, bool has_references) {
  if (has_references || text == NormalizedForm(schema)) return text;
  return schema.ToJson();
}

}  // namespace

// ---- in-memory state ----

struct Service::State {
  struct Version {
    int id = 0;
    bool deleted = false;
  };
  std::map<int, std::shared_ptr<const StoredSchema>> by_id;
  std::map<std::string, int, std::less<>> by_identity;
  // Subjects with at least one version (live or soft-deleted).
  std::map<std::string, std::map<int, Version>, std::less<>> subjects;
  std::optional<CompatibilityLevel> global_compat;
  std::map<std::string, CompatibilityLevel, std::less<>> subject_compat;
  std::optional<Mode> global_mode;
  std::map<std::string, Mode, std::less<>> subject_mode;
  int next_id = 1;

  const std::map<int, Version>* FindSubject(std::string_view s) const {
    auto it = subjects.find(s);
    return it == subjects.end() ? nullptr : &it->second;
  }
  bool HasLive(std::string_view s) const {
    const auto* versions = FindSubject(s);
    if (!versions) return false;
    for (const auto& [v, ver] : *versions) {
      if (!ver.deleted) return true;
    }
    return false;
  }
  // Forgets schema `id`, and its identity if that names this id (records
  // stored before the identity rules changed may share one).
  void DropSchema(int id) {
    auto it = by_identity.find(by_id.at(id)->identity);
    if (it != by_identity.end() && it->second == id) by_identity.erase(it);
    by_id.erase(id);
  }
  Mode EffectiveMode(std::string_view s) const {
    auto it = subject_mode.find(s);
    if (it != subject_mode.end()) return it->second;
    return global_mode.value_or(Mode::kReadWrite);
  }
  // Ids of schemas referencing subject/version; with `live_only` only those
  // still used by a live version.
  std::vector<int> ReferencedBy(std::string_view subject, int version,
                                bool live_only) const {
    std::set<int> ids;
    for (const auto& [id, schema] : by_id) {
      for (const Reference& r : schema->references) {
        if (r.subject == subject && r.version == version) ids.insert(id);
      }
    }
    if (live_only) {
      std::set<int> live;
      for (const auto& [s, versions] : subjects) {
        for (const auto& [v, ver] : versions) {
          if (!ver.deleted && ids.count(ver.id)) live.insert(ver.id);
        }
      }
      ids = std::move(live);
    }
    return {ids.begin(), ids.end()};
  }
};

// A planned write: its batch, how it changes memory once durable, and how
// it answers.
struct Service::Planned {
  kv::WriteBatch batch;
  std::function<void(State&)> apply;
  std::function<void(Status)> finish;
};

namespace {

// A schema parsed and resolved against the committed state, ready to be
// compared or stored.
struct Prepared {
  SchemaType type = SchemaType::kAvro;
  std::string text;
  std::vector<Reference> references;
  std::shared_ptr<const avro::Schema> avro;
  std::string identity;
};

Status Closing() {
  return Error(ErrorCode::kOperationTimeout, "The registry is shutting down");
}

Status InvalidSchema(std::string_view details) {
  return Error(ErrorCode::kInvalidSchema,
               fmt::format("Invalid schema: {}", details));
}

}  // namespace

namespace {

// Parses `input` with its references resolved in `state`.
template <typename StateT>
Result<Prepared> Prepare(const StateT& state, const SchemaInput& input) {
  Prepared p;
  p.type = input.type;
  p.references = input.references;
  std::vector<std::shared_ptr<const avro::Schema>> avro_refs;
  for (const Reference& r : input.references) {
    if (r.name.empty() || r.subject.empty()) {
      return InvalidSchema("a reference needs a name, a subject and a version");
    }
    const auto* versions = state.FindSubject(r.subject);
    // Version -1 in a reference means "latest", as Confluent resolves it.
    int version = r.version;
    if (versions && version == -1 && !versions->empty()) {
      version = versions->rbegin()->first;
    }
    auto it = versions ? versions->find(version) : decltype(versions->end()){};
    if (!versions || it == versions->end()) {
      return InvalidSchema(
          fmt::format("reference '{}' names subject '{}' version {}, which "
                      "does not exist",
                      r.name, r.subject, r.version));
    }
    auto schema = state.by_id.at(it->second.id);
    if (schema->type != input.type) {
      return InvalidSchema(fmt::format("reference '{}' is a {} schema", r.name,
                                       SchemaTypeName(schema->type)));
    }
    if (schema->avro) avro_refs.push_back(schema->avro);
  }
  if (input.schema.empty()) return InvalidSchema("empty schema");
  switch (input.type) {
    case SchemaType::kAvro: {
      auto json = json::Parse(input.schema);
      if (!json.ok()) return InvalidSchema(json.status().message());
      avro::SchemaParseOptions options;
      options.references = std::move(avro_refs);
      auto parsed = avro::Schema::FromJson(*json, options);
      if (!parsed.ok()) return InvalidSchema(parsed.status().message());
      p.avro = std::move(parsed).value();
      // The compact form of the text as sent (so that whitespace does not
      // make a new schema), or with normalize Confluent's normalized form.
      p.text =
          input.normalize ? NormalizedForm(*p.avro) : json::Serialize(*json);
      break;
    }
    case SchemaType::kJson: {
      auto json = json::Parse(input.schema);
      if (!json.ok()) return InvalidSchema(json.status().message());
      if (!json->is_object() && !json->is_bool()) {
        return InvalidSchema("a JSON schema is an object or a boolean");
      }
      p.text = json::Serialize(*json);
      break;
    }
    case SchemaType::kProtobuf: {
      RETURN_IF_ERROR(CheckProtobufSyntax(input.schema));
      p.text = input.schema;
      break;
    }
  }
  p.identity =
      Identity(p.type,
               p.avro ? AvroIdentityText(*p.avro, p.text, !p.references.empty())
                      : p.text,
               p.references);
  return p;
}

// Confluent's per-incompatibility detail, e.g.
// {errorType:'TYPE_MISMATCH', description:'...', additionalInfo:'...'}.
std::string Describe(const avro::Incompatibility& inc) {
  return fmt::format(
      "{{errorType:'{}', description:'The {} at path '{}' in the reader "
      "schema does not match the writer schema', additionalInfo:'{}'}}",
      avro::IncompatibilityTypeName(inc.type),
      inc.type == avro::IncompatibilityType::kReaderFieldMissingDefaultValue
          ? "field"
          : "type",
      inc.location, inc.message);
}

}  // namespace

// The versions `level` checks a new schema against, newest first.
namespace {

template <typename VersionMap>
std::vector<std::pair<int, int>> VersionsToCheck(const VersionMap& versions,
                                                 bool transitive) {
  std::vector<std::pair<int, int>> out;  // (version, id)
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (it->second.deleted) continue;
    out.emplace_back(it->first, it->second.id);
    if (!transitive) break;
  }
  return out;
}

// Checks `candidate` against `old` in the directions `level` asks.
Result<CompatibilityReport> CheckPair(const Prepared& candidate,
                                      const StoredSchema& old, int old_version,
                                      CompatibilityLevel level) {
  CompatibilityReport report;
  if (level == CompatibilityLevel::kNone) return report;
  if (old.type != candidate.type) {
    report.compatible = false;
    report.messages.push_back(fmt::format(
        "Incompatible schema type: version {} is {}, the new schema is {}",
        old_version, SchemaTypeName(old.type), SchemaTypeName(candidate.type)));
    return report;
  }
  if (candidate.type != SchemaType::kAvro) {
    return Error(
        ErrorCode::kInvalidSchema,
        fmt::format("riffle cannot check the compatibility of {} schemas yet; "
                    "set the subject's compatibility to NONE to register new "
                    "versions without a check",
                    SchemaTypeName(candidate.type)));
  }
  bool backward = level == CompatibilityLevel::kBackward ||
                  level == CompatibilityLevel::kBackwardTransitive ||
                  level == CompatibilityLevel::kFull ||
                  level == CompatibilityLevel::kFullTransitive;
  bool forward = level == CompatibilityLevel::kForward ||
                 level == CompatibilityLevel::kForwardTransitive ||
                 level == CompatibilityLevel::kFull ||
                 level == CompatibilityLevel::kFullTransitive;
  auto add = [&](const avro::Compatibility& c) {
    for (const auto& inc : c.incompatibilities) {
      report.compatible = false;
      report.messages.push_back(Describe(inc));
    }
  };
  // BACKWARD: the new schema reads data written with the old one.
  if (backward) add(avro::CheckCompatibility(*candidate.avro, *old.avro));
  // FORWARD: the old schema reads data written with the new one.
  if (forward) add(avro::CheckCompatibility(*old.avro, *candidate.avro));
  if (!report.compatible) {
    report.messages.push_back(
        fmt::format("{{oldSchemaVersion: {}}}", old_version));
    report.messages.push_back(fmt::format("{{oldSchema: '{}'}}", old.schema));
    report.messages.push_back(
        fmt::format("{{compatibility: '{}'}}", CompatibilityLevelName(level)));
  }
  return report;
}

bool IsTransitive(CompatibilityLevel level) {
  return level == CompatibilityLevel::kBackwardTransitive ||
         level == CompatibilityLevel::kForwardTransitive ||
         level == CompatibilityLevel::kFullTransitive;
}

}  // namespace

// ---- open and load ----

Service::Service(const ServiceOptions& options)
    : options_(options), state_(std::make_unique<State>()) {}

Service::~Service() {
  std::unique_lock l(queue_mu_);
  closing_ = true;
  idle_.wait(l, [this] { return !writing_; });
}

Result<std::unique_ptr<Service>> Service::Open(const ServiceOptions& options) {
  if (!options.store || !options.executor) {
    return InvalidArgument("registry::Service needs a store and an executor");
  }
  std::unique_ptr<Service> service(new Service(options));
  RETURN_IF_ERROR(service->Load());
  return service;
}

namespace {

Result<json::Value> ParseRecord(std::string_view key, std::string_view value) {
  auto v = json::Parse(value);
  if (!v.ok() || !v->is_object()) {
    return DataLoss(fmt::format("registry record '{}' is unreadable", key));
  }
  return std::move(v).value();
}

}  // namespace

Status Service::Load() {
  kv::Store& store = *options_.store;
  State& st = *state_;
  // Raw schema records first; they are parsed once every record is known,
  // because references may point at any of them.
  struct RawSchema {
    SchemaType type;
    std::string text;
    std::vector<Reference> refs;
  };
  std::map<int, RawSchema> raw;
  {
    auto it = store.NewIterator(kv::Family::kRegistry,
                                kv::ReadOptions::Prefix(kSchemaPrefix));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view key = it->key();
      if (key.size() != kSchemaPrefix.size() + 4) continue;
      int id =
          static_cast<int>(ReadBigEndian32(key.substr(kSchemaPrefix.size())));
      ASSIGN_OR_RETURN(json::Value v, ParseRecord(key, it->value()));
      RawSchema r;
      const json::Value* type = v.Find("schemaType");
      const json::Value* text = v.Find("schema");
      auto parsed_type = type ? ParseSchemaType(type->text()) : std::nullopt;
      if (!parsed_type || !text) {
        return DataLoss(fmt::format("schema record {} is unreadable", id));
      }
      r.type = *parsed_type;
      r.text = text->text();
      if (const json::Value* refs = v.Find("references")) {
        for (const json::Value& ref : refs->items()) {
          Reference rr;
          if (const auto* n = ref.Find("name")) rr.name = n->text();
          if (const auto* s = ref.Find("subject")) rr.subject = s->text();
          if (const auto* ver = ref.Find("version"))
            rr.version = static_cast<int>(ver->AsInt64().value_or(0));
          r.refs.push_back(std::move(rr));
        }
      }
      raw.emplace(id, std::move(r));
    }
    RETURN_IF_ERROR(it->status());
  }
  {
    auto it = store.NewIterator(kv::Family::kRegistry,
                                kv::ReadOptions::Prefix(kVersionPrefix));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view key = it->key();
      std::string_view rest = key.substr(kVersionPrefix.size());
      // subject, NUL, 4-byte version (whose bytes may be NUL too).
      if (rest.size() < 5 || rest[rest.size() - 5] != '\0') {
        return DataLoss("registry version key is malformed");
      }
      size_t nul = rest.size() - 5;
      std::string subject(rest.substr(0, nul));
      int version = static_cast<int>(ReadBigEndian32(rest.substr(nul + 1)));
      ASSIGN_OR_RETURN(json::Value v, ParseRecord(key, it->value()));
      State::Version ver;
      if (const auto* id = v.Find("id"))
        ver.id = static_cast<int>(id->AsInt64().value_or(0));
      if (const auto* d = v.Find("deleted")) ver.deleted = d->bool_value();
      st.subjects[subject][version] = ver;
    }
    RETURN_IF_ERROR(it->status());
  }
  auto read_level = [&](std::string_view key,
                        std::string_view value) -> Result<CompatibilityLevel> {
    auto level = ParseCompatibilityLevel(value);
    if (!level) return DataLoss(fmt::format("bad level in '{}'", key));
    return *level;
  };
  auto read_mode = [&](std::string_view key,
                       std::string_view value) -> Result<Mode> {
    auto mode = ParseMode(value);
    if (!mode) return DataLoss(fmt::format("bad mode in '{}'", key));
    return *mode;
  };
  {
    auto it = store.NewIterator(kv::Family::kRegistry,
                                kv::ReadOptions::Prefix("config/"));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view key = it->key();
      ASSIGN_OR_RETURN(CompatibilityLevel level, read_level(key, it->value()));
      if (key == kGlobalConfigKey) {
        st.global_compat = level;
      } else if (key.substr(0, kSubjectConfigPrefix.size()) ==
                 kSubjectConfigPrefix) {
        st.subject_compat[std::string(
            key.substr(kSubjectConfigPrefix.size()))] = level;
      }
    }
    RETURN_IF_ERROR(it->status());
  }
  {
    auto it = store.NewIterator(kv::Family::kRegistry,
                                kv::ReadOptions::Prefix("mode/"));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view key = it->key();
      ASSIGN_OR_RETURN(Mode mode, read_mode(key, it->value()));
      if (key == kGlobalModeKey) {
        st.global_mode = mode;
      } else if (key.substr(0, kSubjectModePrefix.size()) ==
                 kSubjectModePrefix) {
        st.subject_mode[std::string(key.substr(kSubjectModePrefix.size()))] =
            mode;
      }
    }
    RETURN_IF_ERROR(it->status());
  }
  auto next = store.Get(kv::Family::kRegistry, kNextIdKey);
  if (next.ok()) {
    int value = 0;
    auto [end, ec] =
        std::from_chars(next->data(), next->data() + next->size(), value);
    if (ec != std::errc() || value < 1) return DataLoss("bad registry next id");
    st.next_id = value;
  } else if (next.status().code() != StatusCode::kNotFound) {
    return next.status();
  }

  // Parse every schema, references first (depth-first by id).
  std::set<int> in_progress;
  std::function<Status(int)> parse = [&](int id) -> Status {
    if (st.by_id.count(id)) return Status::Ok();
    if (!in_progress.insert(id).second) {
      return DataLoss(fmt::format("schema {} references itself", id));
    }
    const RawSchema& r = raw.at(id);
    for (const Reference& ref : r.refs) {
      const auto* versions = st.FindSubject(ref.subject);
      auto it =
          versions ? versions->find(ref.version) : decltype(versions->end()){};
      if (!versions || it == versions->end() || !raw.count(it->second.id)) {
        return DataLoss(
            fmt::format("schema {} references {} version {}, "
                        "which is missing",
                        id, ref.subject, ref.version));
      }
      RETURN_IF_ERROR(parse(it->second.id));
    }
    SchemaInput input;
    input.type = r.type;
    input.schema = r.text;
    input.references = r.refs;
    auto prepared = Prepare(st, input);
    if (!prepared.ok()) {
      return DataLoss(fmt::format("stored schema {} no longer parses: {}", id,
                                  prepared.status().message()));
    }
    auto stored = std::make_shared<StoredSchema>();
    stored->id = id;
    stored->type = r.type;
    // The stored text is kept verbatim (it may be a canonical form).
    stored->schema = r.text;
    stored->references = r.refs;
    stored->avro = prepared->avro;
    // Rebuilt with today's rules, so that an upgrade keys old records as
    // new registrations would be (the first id of a duplicate wins).
    stored->identity = prepared->identity;
    st.by_identity.emplace(stored->identity, id);
    st.by_id.emplace(id, std::move(stored));
    return Status::Ok();
  };
  for (const auto& [id, r] : raw) RETURN_IF_ERROR(parse(id));
  for (const auto& [subject, versions] : st.subjects) {
    for (const auto& [v, ver] : versions) {
      if (!st.by_id.count(ver.id)) {
        return DataLoss(fmt::format("{} version {} uses missing schema {}",
                                    subject, v, ver.id));
      }
    }
  }
  if (!st.by_id.empty() && st.next_id <= st.by_id.rbegin()->first) {
    return DataLoss("registry next id is behind the stored schemas");
  }
  pending_ = std::make_unique<State>(st);
  return Status::Ok();
}

// ---- reads ----

Result<std::shared_ptr<const StoredSchema>> Service::GetSchemaById(
    int id) const {
  std::shared_lock l(mu_);
  auto it = state_->by_id.find(id);
  if (it == state_->by_id.end()) return SchemaIdNotFound(id);
  return it->second;
}

std::vector<std::string> Service::ListSubjects(bool deleted, bool deleted_only,
                                               std::string_view prefix) const {
  std::shared_lock l(mu_);
  std::vector<std::string> out;
  for (const auto& [subject, versions] : state_->subjects) {
    if (subject.compare(0, prefix.size(), prefix) != 0) continue;
    bool live = state_->HasLive(subject);
    if (deleted_only ? !live : (live || deleted)) out.push_back(subject);
  }
  return out;
}

Result<std::vector<int>> Service::ListVersions(std::string_view subject,
                                               bool deleted,
                                               bool deleted_only) const {
  std::shared_lock l(mu_);
  const auto* versions = state_->FindSubject(subject);
  std::vector<int> out;
  if (versions) {
    for (const auto& [v, ver] : *versions) {
      if (deleted_only ? ver.deleted : (!ver.deleted || deleted))
        out.push_back(v);
    }
  }
  if (out.empty() && (!versions || !deleted_only)) {
    return SubjectNotFound(subject);
  }
  return out;
}

Result<VersionedSchema> Service::GetVersion(std::string_view subject,
                                            VersionSpec version,
                                            bool deleted) const {
  std::shared_lock l(mu_);
  const auto* versions = state_->FindSubject(subject);
  if (!versions || (!deleted && !state_->HasLive(subject))) {
    return SubjectNotFound(subject);
  }
  const State::Version* found = nullptr;
  int number = 0;
  if (!version.number) {
    for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
      if (!it->second.deleted || deleted) {
        found = &it->second;
        number = it->first;
        break;
      }
    }
    if (!found) return VersionNotFound(-1);
  } else {
    auto it = versions->find(*version.number);
    if (it == versions->end() || (it->second.deleted && !deleted)) {
      return VersionNotFound(*version.number);
    }
    found = &it->second;
    number = it->first;
  }
  VersionedSchema out;
  out.version =
      SubjectVersion{std::string(subject), number, found->id, found->deleted};
  out.schema = state_->by_id.at(found->id);
  return out;
}

Result<VersionedSchema> Service::Lookup(std::string_view subject,
                                        const SchemaInput& input,
                                        bool deleted) const {
  std::shared_lock l(mu_);
  const auto* versions = state_->FindSubject(subject);
  if (!versions || (!deleted && !state_->HasLive(subject))) {
    return SubjectNotFound(subject);
  }
  ASSIGN_OR_RETURN(Prepared p, Prepare(*state_, input));
  std::optional<std::string> input_normalized;  // computed once if needed
  // Newest first: the version a client most likely means.
  for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
    if (it->second.deleted && !deleted) continue;
    const auto& schema = state_->by_id.at(it->second.id);
    bool same = schema->identity == p.identity;
    // Without normalize a stored normalized form still matches the
    // normalized form of the input, as Confluent compares normalized forms
    // when the stored schema was normalized.
    if (!same && p.avro && schema->avro && schema->type == p.type &&
        schema->references == p.references) {
      if (!input_normalized) input_normalized = NormalizedForm(*p.avro);
      same = schema->schema == *input_normalized &&
             schema->schema == NormalizedForm(*schema->avro);
      if (input.normalize) {
        same = NormalizedForm(*schema->avro) == *input_normalized;
      }
    }
    if (same) {
      VersionedSchema out;
      out.version = SubjectVersion{std::string(subject), it->first,
                                   it->second.id, it->second.deleted};
      out.schema = schema;
      return out;
    }
  }
  return SchemaNotFound();
}

Result<std::vector<SubjectVersion>> Service::VersionsOfId(int id,
                                                          bool deleted) const {
  std::shared_lock l(mu_);
  if (!state_->by_id.count(id)) return SchemaIdNotFound(id);
  std::vector<SubjectVersion> out;
  for (const auto& [subject, versions] : state_->subjects) {
    for (const auto& [v, ver] : versions) {
      if (ver.id == id && (!ver.deleted || deleted)) {
        out.push_back(SubjectVersion{subject, v, id, ver.deleted});
      }
    }
  }
  return out;
}

Result<std::vector<int>> Service::ReferencedBy(std::string_view subject,
                                               VersionSpec version) const {
  std::shared_lock l(mu_);
  const auto* versions = state_->FindSubject(subject);
  if (!versions) return SubjectNotFound(subject);
  int number = 0;
  if (version.number) {
    if (!versions->count(*version.number)) {
      return VersionNotFound(*version.number);
    }
    number = *version.number;
  } else {
    number = versions->rbegin()->first;
  }
  return state_->ReferencedBy(subject, number, /*live_only=*/true);
}

std::vector<VersionedSchema> Service::ListSchemas(std::string_view prefix,
                                                  bool deleted,
                                                  bool latest_only) const {
  std::shared_lock l(mu_);
  std::vector<VersionedSchema> out;
  for (const auto& [subject, versions] : state_->subjects) {
    if (subject.compare(0, prefix.size(), prefix) != 0) continue;
    std::vector<VersionedSchema> mine;
    for (const auto& [v, ver] : versions) {
      if (ver.deleted && !deleted) continue;
      mine.push_back(
          VersionedSchema{SubjectVersion{subject, v, ver.id, ver.deleted},
                          state_->by_id.at(ver.id)});
    }
    if (latest_only && mine.size() > 1)
      mine.erase(mine.begin(), mine.end() - 1);
    for (auto& m : mine) out.push_back(std::move(m));
  }
  return out;
}

int Service::MaxId() const {
  std::shared_lock l(mu_);
  return state_->next_id - 1;
}

CompatibilityLevel Service::GlobalCompatibility() const {
  std::shared_lock l(mu_);
  return state_->global_compat.value_or(options_.default_compatibility);
}

Result<CompatibilityLevel> Service::SubjectCompatibility(
    std::string_view subject, bool default_to_global) const {
  std::shared_lock l(mu_);
  auto it = state_->subject_compat.find(subject);
  if (it != state_->subject_compat.end()) return it->second;
  if (default_to_global) {
    return state_->global_compat.value_or(options_.default_compatibility);
  }
  return Error(ErrorCode::kSubjectCompatibilityNotConfigured,
               fmt::format("Subject '{}' does not have subject-level "
                           "compatibility configured",
                           subject));
}

Mode Service::GlobalMode() const {
  std::shared_lock l(mu_);
  return state_->global_mode.value_or(Mode::kReadWrite);
}

Result<Mode> Service::SubjectMode(std::string_view subject,
                                  bool default_to_global) const {
  std::shared_lock l(mu_);
  auto it = state_->subject_mode.find(subject);
  if (it != state_->subject_mode.end()) return it->second;
  if (default_to_global) return state_->global_mode.value_or(Mode::kReadWrite);
  return Error(
      ErrorCode::kSubjectModeNotConfigured,
      fmt::format("Subject '{}' does not have subject-level mode configured",
                  subject));
}

namespace {

template <typename StateT>
CompatibilityLevel LevelOf(const StateT& st, std::string_view subject,
                           CompatibilityLevel fallback) {
  auto it = st.subject_compat.find(subject);
  if (it != st.subject_compat.end()) return it->second;
  return st.global_compat.value_or(fallback);
}

}  // namespace

Result<CompatibilityReport> Service::TestCompatibility(
    std::string_view subject, std::optional<VersionSpec> version,
    const SchemaInput& input) const {
  std::shared_lock l(mu_);
  const State& st = *state_;
  const auto* versions = st.FindSubject(subject);
  ASSIGN_OR_RETURN(Prepared p, Prepare(st, input));
  CompatibilityLevel level =
      LevelOf(st, subject, options_.default_compatibility);
  std::vector<std::pair<int, int>> targets;
  if (version) {
    // As Confluent 7.x does: no 40401. A numbered version the
    // subject lacks (or has soft-deleted) is 40402; "latest" of a subject
    // without a live version checks against nothing, so a CI check made
    // before the first registration passes.
    if (version->number) {
      auto it = versions ? versions->find(*version->number)
                         : decltype(versions->end()){};
      if (!versions || it == versions->end() || it->second.deleted) {
        return VersionNotFound(*version->number);
      }
      targets.emplace_back(it->first, it->second.id);
    } else if (versions) {
      targets = VersionsToCheck(*versions, /*transitive=*/false);
    }
  } else if (versions) {
    targets = VersionsToCheck(*versions, IsTransitive(level));
  }
  CompatibilityReport report;
  for (const auto& [v, id] : targets) {
    ASSIGN_OR_RETURN(CompatibilityReport one,
                     CheckPair(p, *st.by_id.at(id), v, level));
    if (!one.compatible) {
      report.compatible = false;
      for (auto& m : one.messages) report.messages.push_back(std::move(m));
    }
  }
  return report;
}

// ---- writes ----

namespace {
// The most queued writes planned into one kv batch.
constexpr size_t kMaxGroup = 64;
}  // namespace

bool Service::Mutate(std::function<Result<Planned>(const State&)> plan) {
  std::lock_guard l(queue_mu_);
  if (closing_ && !writing_) return false;
  queue_.push_back(std::move(plan));
  if (!writing_) {
    writing_ = true;
    options_.executor->Post([this] { RunNext(); });
  }
  return true;
}

// Runs on the executor; exactly one planned write is in flight at a time.
void Service::RunNext() {
  std::vector<std::function<Result<Planned>(const State&)>> plans;
  {
    std::lock_guard l(queue_mu_);
    if (queue_.empty()) {
      writing_ = false;
      // Nothing of this touches `this` after the unlock: the destructor
      // may run as soon as it sees writing_ false.
      idle_.notify_all();
      return;
    }
    size_t n = std::min(queue_.size(), kMaxGroup);
    plans.assign(std::make_move_iterator(queue_.begin()),
                 std::make_move_iterator(queue_.begin() + n));
    queue_.erase(queue_.begin(), queue_.begin() + n);
  }
  auto next = [this] { options_.executor->Post([this] { RunNext(); }); };
  auto store_error = [](const Status& s) {
    return s.ok() ? s
                  : Error(ErrorCode::kStoreError,
                          "Error while storing: " + s.ToString());
  };

  // Plan the group one write after the other against pending_, applying
  // each there at once so that later ones see it, and write all of them as
  // one kv batch (one sync). Once durable, the same apply steps bring
  // state_ level with pending_; readers never see a write before that.
  kv::WriteBatch merged;
  auto applies = std::make_shared<std::vector<std::function<void(State&)>>>();
  auto finishes = std::make_shared<std::vector<std::function<void(Status)>>>();
  for (auto& plan : plans) {
    auto r = plan(*pending_);
    if (!r.ok()) continue;  // answered its own error
    if (r->apply) {
      r->apply(*pending_);
      applies->push_back(std::move(r->apply));
    }
    if (merged.empty()) {
      merged = std::move(r->batch);
    } else {
      for (const kv::WriteBatch::Op& op : r->batch.ops()) {
        switch (op.type) {
          case kv::WriteBatch::OpType::kPut:
            merged.Put(op.family, op.key, op.value);
            break;
          case kv::WriteBatch::OpType::kDelete:
            merged.Delete(op.family, op.key);
            break;
          case kv::WriteBatch::OpType::kDeleteRange:
            merged.DeleteRange(op.family, op.key, op.value);
            break;
        }
      }
    }
    finishes->push_back(std::move(r->finish));
  }
  auto commit = [this, applies, finishes, next, store_error](Status s) {
    if (s.ok()) {
      std::unique_lock l(mu_);
      for (const auto& apply : *applies) apply(*state_);
    } else if (!applies->empty()) {
      // Nothing of the group is durable: start pending_ again from what
      // is (rare, so a full copy is fine).
      std::shared_lock l(mu_);
      pending_ = std::make_unique<State>(*state_);
    }
    for (auto& finish : *finishes) finish(store_error(s));
    next();
  };
  if (merged.empty()) return commit(Status::Ok());
  options_.store->Write(std::move(merged), std::move(commit));
}

namespace {

// Builds a plan that answers `done` itself on planning errors (returning a
// non-ok Result tells RunNext to skip the write).
template <typename T>
Status Fail(const Callback<T>& done, Status s) {
  done(s);
  return s;
}

}  // namespace

void Service::Register(RegisterRequest request, Callback<Registered> done) {
  // Fast path, without queueing: the subject already has this schema.
  if (!request.id && !request.version) {
    std::shared_lock l(mu_);
    const State& st = *state_;
    if (st.EffectiveMode(request.subject) != Mode::kReadOnly &&
        st.HasLive(request.subject)) {
      auto p = Prepare(st, request.input);
      if (!p.ok()) {
        l.unlock();
        done(p.status());
        return;
      }
      // One id per identity: find it by identity, then look for it among
      // the subject's versions by number rather than comparing every
      // version's schema text.
      auto known = st.by_identity.find(p->identity);
      if (known != st.by_identity.end()) {
        const auto& versions = st.subjects.find(request.subject)->second;
        for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
          if (it->second.deleted || it->second.id != known->second) continue;
          Registered r{known->second, it->first, st.by_id.at(known->second)};
          l.unlock();
          done(std::move(r));
          return;
        }
      }
    }
  }
  auto req = std::make_shared<RegisterRequest>(std::move(request));
  bool queued = Mutate([this, req, done](const State& st) -> Result<Planned> {
    const std::string& subject = req->subject;
    Mode mode = st.EffectiveMode(subject);
    if (mode == Mode::kReadOnly) {
      return Fail(
          done, Error(ErrorCode::kOperationNotPermitted,
                      fmt::format("Subject {} is in read-only mode", subject)));
    }
    if ((req->id || req->version) && mode != Mode::kImport) {
      return Fail(done, Error(ErrorCode::kOperationNotPermitted,
                              fmt::format("Subject {} is not in import mode",
                                          subject)));
    }
    auto prepared = Prepare(st, req->input);
    if (!prepared.ok()) return Fail(done, prepared.status());
    Prepared p = std::move(prepared).value();
    const auto* versions = st.FindSubject(subject);

    std::optional<int> existing_id;
    if (auto it = st.by_identity.find(p.identity); it != st.by_identity.end())
      existing_id = it->second;

    // A new schema cannot be among the subject's versions: no walk of them.
    if (mode != Mode::kImport && versions && existing_id) {
      for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
        if (!it->second.deleted && it->second.id == *existing_id) {
          Planned noop;
          auto schema = st.by_id.at(*existing_id);
          int version = it->first;
          noop.finish = [done, schema, version](Status) {
            done(Registered{schema->id, version, schema});
          };
          return noop;
        }
      }
    }

    int id = 0;
    int version = 0;
    if (mode == Mode::kImport) {
      if (req->id) {
        if (*req->id < 1) {
          return Fail(done, Error(ErrorCode::kInvalidSchema,
                                  fmt::format("Invalid id {}", *req->id)));
        }
        auto used = st.by_id.find(*req->id);
        if (used != st.by_id.end() && used->second->identity != p.identity) {
          return Fail(done,
                      Error(ErrorCode::kIdDoesNotMatch,
                            fmt::format("Overwrite new schema with id {} is "
                                        "not permitted.",
                                        *req->id)));
        }
        if (existing_id && *existing_id != *req->id) {
          return Fail(done, Error(ErrorCode::kIdDoesNotMatch,
                                  fmt::format("Schema already registered with "
                                              "id {} instead of input id {}",
                                              *existing_id, *req->id)));
        }
        id = *req->id;
      } else {
        id = existing_id.value_or(st.next_id);
      }
      if (req->version) {
        if (*req->version < 1) {
          return Fail(done, InvalidVersion(std::to_string(*req->version)));
        }
        if (versions && versions->count(*req->version)) {
          const auto& ver = versions->at(*req->version);
          if (ver.id != id) {
            return Fail(done,
                        Error(ErrorCode::kOperationNotPermitted,
                              fmt::format("Version {} of subject {} already "
                                          "exists with another schema",
                                          *req->version, subject)));
          }
          Planned noop;
          auto schema = st.by_id.at(id);
          int v = *req->version;
          noop.finish = [done, schema, v](Status) {
            done(Registered{schema->id, v, schema});
          };
          return noop;
        }
        version = *req->version;
      }
    } else {
      // Compatibility with the versions the subject's level selects.
      CompatibilityLevel level =
          LevelOf(st, subject, options_.default_compatibility);
      if (versions && level != CompatibilityLevel::kNone) {
        std::vector<std::string> messages;
        for (const auto& [v, old_id] :
             VersionsToCheck(*versions, IsTransitive(level))) {
          auto report = CheckPair(p, *st.by_id.at(old_id), v, level);
          if (!report.ok()) return Fail(done, report.status());
          for (auto& m : report->messages) messages.push_back(std::move(m));
        }
        if (!messages.empty()) {
          std::string details;
          for (const auto& m : messages) {
            if (!details.empty()) details += ", ";
            details += m;
          }
          return Fail(
              done,
              Error(ErrorCode::kIncompatibleSchema,
                    fmt::format("Schema being registered is incompatible with "
                                "an earlier schema for subject \"{}\", "
                                "details: [{}]",
                                subject, details)));
        }
      }
      id = existing_id.value_or(st.next_id);
    }
    if (version == 0) {
      version =
          versions && !versions->empty() ? versions->rbegin()->first + 1 : 1;
    }

    Planned planned;
    std::shared_ptr<const StoredSchema> schema;
    bool new_schema = !st.by_id.count(id);
    if (new_schema) {
      auto s = std::make_shared<StoredSchema>();
      s->id = id;
      s->type = p.type;
      s->schema = p.text;
      s->references = p.references;
      s->avro = p.avro;
      s->identity = p.identity;
      schema = s;
      planned.batch.Put(kv::Family::kRegistry, SchemaKey(id),
                        EncodeSchemaRecord(*s));
    } else {
      schema = st.by_id.at(id);
    }
    int next_id = std::max(st.next_id, id + 1);
    if (next_id != st.next_id) {
      // Invariant: the counter moves in the same atomic batch as the schema
      // that took the id, so a crash can never hand the id out again.
      planned.batch.Put(kv::Family::kRegistry, kNextIdKey,
                        std::to_string(next_id));
    }
    planned.batch.Put(kv::Family::kRegistry, VersionKey(subject, version),
                      EncodeVersionRecord(id, false));
    planned.apply = [schema, subject, version, next_id, new_schema](State& s) {
      if (new_schema) {
        s.by_id[schema->id] = schema;
        s.by_identity.emplace(schema->identity, schema->id);
      }
      s.next_id = next_id;
      s.subjects[subject][version] = State::Version{schema->id, false};
    };
    planned.finish = [done, schema, version](Status s) {
      if (!s.ok()) {
        done(s);
        return;
      }
      done(Registered{schema->id, version, schema});
    };
    return planned;
  });
  if (!queued) done(Closing());
}

namespace {

// Removes `ids` from memory and the batch when no version uses them.
void DropUnusedSchemas(const std::set<int>& ids,
                       const std::function<bool(int)>& in_use,
                       kv::WriteBatch* batch, std::vector<int>* dropped) {
  for (int id : ids) {
    if (in_use(id)) continue;
    batch->Delete(kv::Family::kRegistry, SchemaKey(id));
    dropped->push_back(id);
  }
}

}  // namespace

void Service::DeleteSubject(std::string subject, bool permanent,
                            Callback<std::vector<int>> done) {
  bool queued = Mutate([this, subject, permanent,
                        done](const State& st) -> Result<Planned> {
    const auto* versions = st.FindSubject(subject);
    if (!versions) return Fail(done, SubjectNotFound(subject));
    if (st.EffectiveMode(subject) == Mode::kReadOnly) {
      return Fail(
          done, Error(ErrorCode::kOperationNotPermitted,
                      fmt::format("Subject {} is in read-only mode", subject)));
    }
    bool live = st.HasLive(subject);
    if (!permanent && !live) {
      return Fail(done,
                  Error(ErrorCode::kSubjectSoftDeleted,
                        fmt::format("Subject '{}' was soft deleted.Set "
                                    "permanent=true to delete permanently",
                                    subject)));
    }
    if (permanent && live) {
      return Fail(done, Error(ErrorCode::kSubjectNotSoftDeleted,
                              fmt::format("Subject '{}' was not deleted first "
                                          "before being permanently deleted",
                                          subject)));
    }
    std::vector<int> numbers;
    Planned planned;
    std::set<int> ids;
    for (const auto& [v, ver] : *versions) {
      // A soft delete answers the versions it deletes now; a permanent one
      // every version it removes.
      if (!permanent && ver.deleted) continue;
      auto refs = st.ReferencedBy(subject, v, /*live_only=*/!permanent);
      if (!refs.empty()) {
        return Fail(done,
                    Error(ErrorCode::kReferenceExists,
                          fmt::format("One or more references exist to the "
                                      "schema {{magic=1,keytype=SCHEMA,"
                                      "subject={},version={}}}.",
                                      subject, v)));
      }
      numbers.push_back(v);
      ids.insert(ver.id);
      if (permanent) {
        planned.batch.Delete(kv::Family::kRegistry, VersionKey(subject, v));
      } else {
        planned.batch.Put(kv::Family::kRegistry, VersionKey(subject, v),
                          EncodeVersionRecord(ver.id, true));
      }
    }
    std::vector<int> dropped;
    if (permanent) {
      auto in_use = [&](int id) {
        for (const auto& [s, vs] : st.subjects) {
          if (s == subject) continue;
          for (const auto& [v, ver] : vs) {
            if (ver.id == id) return true;
          }
        }
        return false;
      };
      DropUnusedSchemas(ids, in_use, &planned.batch, &dropped);
      planned.batch.Delete(kv::Family::kRegistry,
                           ConfigKey(std::optional<std::string>(subject)));
      planned.batch.Delete(kv::Family::kRegistry,
                           ModeKey(std::optional<std::string>(subject)));
    }
    planned.apply = [subject, permanent, dropped](State& s) {
      if (permanent) {
        s.subjects.erase(subject);
        if (auto it = s.subject_compat.find(subject);
            it != s.subject_compat.end())
          s.subject_compat.erase(it);
        if (auto it = s.subject_mode.find(subject); it != s.subject_mode.end())
          s.subject_mode.erase(it);
        for (int id : dropped) s.DropSchema(id);
      } else {
        for (auto& [v, ver] : s.subjects[subject]) ver.deleted = true;
      }
    };
    planned.finish = [done, numbers](Status s) {
      if (!s.ok()) {
        done(s);
        return;
      }
      done(numbers);
    };
    return planned;
  });
  if (!queued) done(Closing());
}

void Service::DeleteVersion(std::string subject, VersionSpec version,
                            bool permanent, Callback<int> done) {
  bool queued = Mutate([this, subject, version, permanent,
                        done](const State& st) -> Result<Planned> {
    const auto* versions = st.FindSubject(subject);
    if (!versions) return Fail(done, SubjectNotFound(subject));
    if (st.EffectiveMode(subject) == Mode::kReadOnly) {
      return Fail(
          done, Error(ErrorCode::kOperationNotPermitted,
                      fmt::format("Subject {} is in read-only mode", subject)));
    }
    int number = 0;
    if (version.number) {
      number = *version.number;
      if (!versions->count(number)) return Fail(done, VersionNotFound(number));
    } else {
      // "latest": the newest live version (for a permanent delete, the
      // newest soft-deleted one may be meant too).
      for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
        if (!it->second.deleted || permanent) {
          number = it->first;
          break;
        }
      }
      // Every version soft-deleted: Confluent resolves "latest" among them
      // all and so answers that it was soft-deleted.
      if (number == 0) {
        return Fail(done, Error(ErrorCode::kVersionSoftDeleted,
                                fmt::format("Subject '{}' Version latest was "
                                            "soft deleted.Set permanent=true "
                                            "to delete permanently",
                                            subject)));
      }
    }
    const State::Version ver = versions->at(number);
    if (!permanent && ver.deleted) {
      return Fail(done,
                  Error(ErrorCode::kVersionSoftDeleted,
                        fmt::format("Subject '{}' Version {} was soft "
                                    "deleted.Set permanent=true to delete "
                                    "permanently",
                                    subject, number)));
    }
    if (permanent && !ver.deleted) {
      return Fail(done,
                  Error(ErrorCode::kVersionNotSoftDeleted,
                        fmt::format("Subject '{}' Version {} was not deleted "
                                    "first before being permanently deleted",
                                    subject, number)));
    }
    if (!st.ReferencedBy(subject, number, /*live_only=*/!permanent).empty()) {
      return Fail(done, Error(ErrorCode::kReferenceExists,
                              fmt::format("One or more references exist to "
                                          "the schema {{magic=1,keytype="
                                          "SCHEMA,subject={},version={}}}.",
                                          subject, number)));
    }
    Planned planned;
    std::vector<int> dropped;
    if (permanent) {
      planned.batch.Delete(kv::Family::kRegistry, VersionKey(subject, number));
      auto in_use = [&](int id) {
        for (const auto& [s, vs] : st.subjects) {
          for (const auto& [v, other] : vs) {
            if (other.id == id && !(s == subject && v == number)) return true;
          }
        }
        return false;
      };
      DropUnusedSchemas({ver.id}, in_use, &planned.batch, &dropped);
    } else {
      planned.batch.Put(kv::Family::kRegistry, VersionKey(subject, number),
                        EncodeVersionRecord(ver.id, true));
    }
    planned.apply = [subject, number, permanent, dropped](State& s) {
      auto& vs = s.subjects[subject];
      if (permanent) {
        vs.erase(number);
        if (vs.empty()) s.subjects.erase(subject);
        for (int id : dropped) s.DropSchema(id);
      } else {
        vs[number].deleted = true;
      }
    };
    planned.finish = [done, number](Status s) {
      if (!s.ok()) {
        done(s);
        return;
      }
      done(number);
    };
    return planned;
  });
  if (!queued) done(Closing());
}

void Service::SetCompatibility(std::optional<std::string> subject,
                               CompatibilityLevel level,
                               Callback<CompatibilityLevel> done) {
  bool queued = Mutate([subject, level, done](const State&) -> Result<Planned> {
    Planned planned;
    planned.batch.Put(kv::Family::kRegistry, ConfigKey(subject),
                      CompatibilityLevelName(level));
    planned.apply = [subject, level](State& s) {
      if (subject) {
        s.subject_compat[*subject] = level;
      } else {
        s.global_compat = level;
      }
    };
    planned.finish = [done, level](Status s) {
      if (!s.ok()) {
        done(s);
        return;
      }
      done(level);
    };
    return planned;
  });
  if (!queued) done(Closing());
}

void Service::DeleteCompatibility(std::optional<std::string> subject,
                                  Callback<CompatibilityLevel> done) {
  bool queued = Mutate([this, subject,
                        done](const State& st) -> Result<Planned> {
    CompatibilityLevel previous;
    if (subject) {
      auto it = st.subject_compat.find(*subject);
      if (it == st.subject_compat.end()) {
        if (!st.FindSubject(*subject)) {
          return Fail(done, SubjectNotFound(*subject));
        }
        return Fail(done,
                    Error(ErrorCode::kSubjectCompatibilityNotConfigured,
                          fmt::format("Subject '{}' does not have "
                                      "subject-level compatibility configured",
                                      *subject)));
      }
      previous = it->second;
    } else {
      previous = st.global_compat.value_or(options_.default_compatibility);
    }
    Planned planned;
    planned.batch.Delete(kv::Family::kRegistry, ConfigKey(subject));
    planned.apply = [subject](State& s) {
      if (subject) {
        s.subject_compat.erase(*subject);
      } else {
        s.global_compat.reset();
      }
    };
    planned.finish = [done, previous](Status s) {
      if (!s.ok()) {
        done(s);
        return;
      }
      done(previous);
    };
    return planned;
  });
  if (!queued) done(Closing());
}

void Service::SetMode(std::optional<std::string> subject, Mode mode, bool force,
                      Callback<Mode> done) {
  bool queued = Mutate([subject, mode, force,
                        done](const State& st) -> Result<Planned> {
    if (mode == Mode::kImport && !force) {
      // Importing keeps ids and versions as given, which is only safe on an
      // empty registry (or subject): Confluent refuses otherwise.
      bool has =
          subject ? st.FindSubject(*subject) != nullptr : !st.subjects.empty();
      if (has) {
        return Fail(done, Error(ErrorCode::kOperationNotPermitted,
                                "Cannot import since found existing "
                                "subjects"));
      }
    }
    Planned planned;
    planned.batch.Put(kv::Family::kRegistry, ModeKey(subject), ModeName(mode));
    planned.apply = [subject, mode](State& s) {
      if (subject) {
        s.subject_mode[*subject] = mode;
      } else {
        s.global_mode = mode;
      }
    };
    planned.finish = [done, mode](Status s) {
      if (!s.ok()) {
        done(s);
        return;
      }
      done(mode);
    };
    return planned;
  });
  if (!queued) done(Closing());
}

void Service::DeleteMode(std::optional<std::string> subject,
                         Callback<Mode> done) {
  bool queued = Mutate([subject, done](const State& st) -> Result<Planned> {
    Mode previous;
    if (subject) {
      auto it = st.subject_mode.find(*subject);
      if (it == st.subject_mode.end()) {
        return Fail(done, Error(ErrorCode::kSubjectModeNotConfigured,
                                fmt::format("Subject '{}' does not have "
                                            "subject-level mode configured",
                                            *subject)));
      }
      previous = it->second;
    } else {
      previous = st.global_mode.value_or(Mode::kReadWrite);
    }
    Planned planned;
    planned.batch.Delete(kv::Family::kRegistry, ModeKey(subject));
    planned.apply = [subject](State& s) {
      if (subject) {
        s.subject_mode.erase(*subject);
      } else {
        s.global_mode.reset();
      }
    };
    planned.finish = [done, previous](Status s) {
      if (!s.ok()) {
        done(s);
        return;
      }
      done(previous);
    };
    return planned;
  });
  if (!queued) done(Closing());
}

}  // namespace riffle::registry
