#include "app/stack_file.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "functions/filter_pattern.h"
#include "gateway/read_api.h"
#include "json/json.h"
#include "json/writer.h"

namespace riffle::app {
namespace {

namespace fs = std::filesystem;

// Milliseconds since the epoch of `text`: seconds since the epoch
// ("1714564800", "1714564800.5") or an ISO 8601 time with a zone
// ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00.250+02:00"), as the aws CLI
// takes --starting-position-timestamp.
std::optional<int64_t> ParseTimestampMs(const std::string& text) {
  if (auto v = json::Parse(text); v.ok() && v->is_number()) {
    std::optional<double> secs = v->AsDouble();
    if (!secs || *secs < 0) return std::nullopt;
    // Rounded: 1714564800.123 * 1000 is a hair below ...123 in binary.
    return std::llround(*secs * 1000);
  }
  int y, mo, d, h, mi, s, used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h,
                  &mi, &s, &used) != 6 ||
      used != 19) {
    return std::nullopt;
  }
  std::chrono::year_month_day date{std::chrono::year(y), std::chrono::month(mo),
                                   std::chrono::day(d)};
  if (!date.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  std::string_view rest = std::string_view(text).substr(used);
  int64_t ms = 0;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    int digits = 0;
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      if (digits++ < 3) ms = ms * 10 + (rest.front() - '0');
      rest.remove_prefix(1);
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 3; ++digits) ms *= 10;
  }
  int offset_minutes = 0;
  if (rest == "Z" || rest == "z") {
    rest = {};
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') &&
             rest[3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &oh, &om) !=
            2 ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = (rest[0] == '-' ? -1 : 1) * (oh * 60 + om);
    rest = {};
  }
  if (!rest.empty()) return std::nullopt;
  int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + s - offset_minutes * 60;
  if (secs < 0) return std::nullopt;
  return secs * 1000 + ms;
}

// Writes `node` as JSON with sorted keys and every scalar as a string: a
// canonical form, so that equal sections compare equal as text, and one
// the parser reads back unchanged (JSON is YAML).
void WriteCanonical(const YAML::Node& node, json::Writer& w) {
  if (node.IsMap()) {
    std::map<std::string, YAML::Node> sorted;
    for (const auto& kv : node) sorted[kv.first.as<std::string>()] = kv.second;
    w.BeginObject();
    for (const auto& [k, v] : sorted) {
      w.Key(k);
      WriteCanonical(v, w);
    }
    w.EndObject();
  } else if (node.IsSequence()) {
    w.BeginArray();
    for (const auto& item : node) WriteCanonical(item, w);
    w.EndArray();
  } else if (node.IsScalar()) {
    w.String(node.as<std::string>());
  } else {
    w.Null();
  }
}

std::string RoutesDocument(const YAML::Node& root) {
  if (!root["read_api"] && !root["routes"]) return "";
  std::string out;
  json::Writer w(&out);
  w.BeginObject();
  for (const char* section : {"read_api", "routes"}) {
    if (!root[section]) continue;
    w.Key(section);
    WriteCanonical(root[section], w);
  }
  w.EndObject();
  return out;
}

// Reads one YAML document into a Stack. yaml-cpp throws; every throw stays
// inside this class and comes out as a Status. Not thread-safe (one per
// parse).
class Parser {
 public:
  Parser(fs::path file) : file_(std::move(file)) {}

  Result<Stack> Parse(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      return InvalidArgument(
          fmt::format("{}:{}: {}", file_.string(), e.mark.line + 1, e.msg));
    }
    try {
      if (!ParseRoot(root)) return error_;
      stack_.routes_document = RoutesDocument(root);
    } catch (const YAML::Exception& e) {
      return InvalidArgument(
          fmt::format("{}:{}: {}", file_.string(), e.mark.line + 1, e.msg));
    }
    stack_.file = file_;
    return std::move(stack_);
  }

 private:
  // Records the first error; returns false so callers can `return Fail()`.
  bool Fail(const YAML::Node& node, const std::string& field,
            std::string_view why) {
    int line = node.IsDefined() ? node.Mark().line + 1 : 0;
    if (line <= 0) line = 1;
    error_ = InvalidArgument(
        fmt::format("{}:{}: {}: {}", file_.string(), line, field, why));
    return false;
  }

  // A mapping whose keys must all be in `known`.
  bool Map(const YAML::Node& node, const std::string& field,
           std::initializer_list<std::string_view> known) {
    if (!node.IsMap()) return Fail(node, field, "must be a mapping");
    for (const auto& kv : node) {
      std::string key = kv.first.as<std::string>();
      bool ok = false;
      for (std::string_view k : known) ok = ok || k == key;
      if (!ok) {
        std::string list;
        for (std::string_view k : known) {
          if (!list.empty()) list += ", ";
          list += k;
        }
        return Fail(kv.first, Join(field, key),
                    fmt::format("unknown field (expected one of: {})", list));
      }
    }
    return true;
  }

  static std::string Join(const std::string& a, std::string_view b) {
    return a.empty() ? std::string(b) : a + "." + std::string(b);
  }

  bool String(const YAML::Node& parent, const std::string& field,
              std::string_view key, std::string* out, bool required = false) {
    YAML::Node n = parent[std::string(key)];
    if (!n) {
      if (required) return Fail(parent, Join(field, key), "is required");
      return true;
    }
    if (!n.IsScalar()) return Fail(n, Join(field, key), "must be a string");
    *out = n.as<std::string>();
    if (required && out->empty()) {
      return Fail(n, Join(field, key), "must not be empty");
    }
    return true;
  }

  bool Int(const YAML::Node& parent, const std::string& field,
           std::string_view key, int lo, int hi, std::optional<int>* out) {
    YAML::Node n = parent[std::string(key)];
    if (!n) return true;
    long long v = 0;
    std::string text = n.IsScalar() ? n.as<std::string>() : "";
    size_t used = 0;
    try {
      v = std::stoll(text, &used);
    } catch (...) {
      used = 0;
    }
    if (text.empty() || used != text.size()) {
      return Fail(n, Join(field, key), "must be an integer");
    }
    if (v < lo || v > hi) {
      return Fail(n, Join(field, key),
                  fmt::format("must be from {} to {}", lo, hi));
    }
    *out = static_cast<int>(v);
    return true;
  }
  bool Int(const YAML::Node& parent, const std::string& field,
           std::string_view key, int lo, int hi, int* out) {
    std::optional<int> v;
    if (!Int(parent, field, key, lo, hi, &v)) return false;
    if (v) *out = *v;
    return true;
  }

  bool Bool(const YAML::Node& parent, const std::string& field,
            std::string_view key, bool* out) {
    YAML::Node n = parent[std::string(key)];
    if (!n) return true;
    std::string t = n.IsScalar() ? n.as<std::string>() : "";
    if (t == "true") {
      *out = true;
    } else if (t == "false") {
      *out = false;
    } else {
      return Fail(n, Join(field, key), "must be true or false");
    }
    return true;
  }

  bool StringList(const YAML::Node& parent, const std::string& field,
                  std::string_view key, std::vector<std::string>* out) {
    YAML::Node n = parent[std::string(key)];
    if (!n) return true;
    if (!n.IsSequence()) return Fail(n, Join(field, key), "must be a list");
    out->clear();
    for (const auto& e : n) {
      if (!e.IsScalar()) return Fail(e, Join(field, key), "must be strings");
      out->push_back(e.as<std::string>());
    }
    return true;
  }

  // A YAML value as the JSON a filter pattern is written in. Quoted
  // scalars are strings; plain ones are read as JSON would read them
  // (numbers, true, false, null), else strings, so that `amount:
  // [{numeric: [">", 100]}]` means the number 100 and `code: ["100"]` the
  // string.
  bool ToJson(const YAML::Node& n, const std::string& field, json::Value* out) {
    if (n.IsMap()) {
      *out = json::Value::Object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar())
          return Fail(kv.first, field, "keys must be strings");
        json::Value v;
        std::string key = kv.first.as<std::string>();
        if (!ToJson(kv.second, Join(field, key), &v)) return false;
        out->Set(key, std::move(v));
      }
    } else if (n.IsSequence()) {
      *out = json::Value::Array();
      for (const auto& e : n) {
        json::Value v;
        if (!ToJson(e, field, &v)) return false;
        out->Push(std::move(v));
      }
    } else if (n.IsScalar()) {
      std::string text = n.as<std::string>();
      // "?" is yaml-cpp's tag for a plain (unquoted, untagged) scalar.
      if (n.Tag() != "?") {
        *out = json::Value::String(std::move(text));
      } else if (text == "true" || text == "false") {
        *out = json::Value::Bool(text == "true");
      } else if (auto num = json::Parse(text); num.ok() && num->is_number()) {
        *out = json::Value::NumberText(std::move(text));
      } else {
        *out = json::Value::String(std::move(text));
      }
    } else {
      *out = json::Value::Null();  // `~`, `null` or nothing
    }
    return true;
  }

  // `filters`: FilterCriteria's patterns, each a YAML mapping (turned into
  // the JSON text Lambda takes) or that JSON text as a string; each checked
  // here as the mapping would check it, so that a bad one names its line.
  bool Filters(const YAML::Node& parent, const std::string& field,
               std::vector<std::string>* out) {
    YAML::Node n = parent["filters"];
    if (!n || n.IsNull()) return true;
    std::string f = field + ".filters";
    if (!n.IsSequence()) {
      return Fail(n, f, "must be a list of patterns (mappings or JSON text)");
    }
    if (n.size() > functions::kMaxFilters) {
      return Fail(n, f,
                  fmt::format("at most {} patterns", functions::kMaxFilters));
    }
    out->clear();
    int i = 0;
    for (const auto& e : n) {
      std::string fi = fmt::format("{}[{}]", f, i++);
      std::string pattern;
      if (e.IsMap()) {
        json::Value v;
        if (!ToJson(e, fi, &v)) return false;
        pattern = json::Serialize(v);
      } else if (e.IsScalar()) {
        pattern = e.as<std::string>();
        auto v = json::Parse(pattern);
        if (!v.ok() || !v->is_object()) {
          return Fail(e, fi, "must be a mapping or a JSON object as text");
        }
      } else {
        return Fail(e, fi, "must be a mapping or a JSON object as text");
      }
      if (auto p = functions::FilterPattern::Parse(pattern); !p.ok()) {
        return Fail(e, fi,
                    p.status().message() +
                        " (pattern syntax: docs/functions.md, FilterCriteria)");
      }
      out->push_back(std::move(pattern));
    }
    return true;
  }

  // The named entries of a top-level section: a mapping of name to body.
  template <typename F>
  bool Section(const YAML::Node& root, std::string_view name, F each) {
    YAML::Node n = root[std::string(name)];
    if (!n || n.IsNull()) return true;
    if (!n.IsMap()) {
      return Fail(n, std::string(name), "must be a mapping of name to body");
    }
    for (const auto& kv : n) {
      std::string key = kv.first.as<std::string>();
      std::string field = std::string(name) + "." + key;
      if (key.empty()) return Fail(kv.first, field, "empty name");
      stack_.item_lines[field] = kv.first.Mark().line + 1;
      YAML::Node body = kv.second;
      if (body.IsNull()) body = YAML::Node(YAML::NodeType::Map);
      if (!each(key, field, body, kv.first)) return false;
    }
    return true;
  }

  bool ParseRoot(const YAML::Node& root) {
    if (!root || root.IsNull()) return true;  // an empty stack
    if (!Map(root, "",
             {"streams", "schemas", "tables", "functions", "mappings", "routes",
              "read_api"})) {
      return false;
    }
    return Section(root, "streams",
                   [&](auto& n, auto& f, auto& b, auto& k) {
                     return ParseStream(n, f, b, k);
                   }) &&
           Section(root, "schemas",
                   [&](auto& n, auto& f, auto& b, auto& k) {
                     return ParseSchema(n, f, b, k);
                   }) &&
           Section(root, "tables",
                   [&](auto& n, auto& f, auto& b, auto& k) {
                     return ParseTable(n, f, b, k);
                   }) &&
           Section(root, "functions",
                   [&](auto& n, auto& f, auto& b, auto& k) {
                     return ParseFunction(n, f, b, k);
                   }) &&
           ParseMappings(root) && ParseReadApi(root) &&
           Section(root, "routes", [&](auto& n, auto& f, auto& b, auto& k) {
             return ParseRoute(n, f, b, k);
           });
  }

  bool ParseStream(const std::string& name, const std::string& field,
                   const YAML::Node& body, const YAML::Node& key) {
    if (!Map(body, field, {"shards", "mode", "retention_hours"})) return false;
    StackStream s;
    s.name = name;
    std::string mode = "provisioned";
    if (!String(body, field, "mode", &mode)) return false;
    if (mode == "provisioned") {
      s.mode = streams::StreamMode::kProvisioned;
    } else if (mode == "on-demand") {
      s.mode = streams::StreamMode::kOnDemand;
    } else {
      return Fail(body["mode"], field + ".mode",
                  "must be provisioned or on-demand");
    }
    if (!Int(body, field, "shards", 1, 10000, &s.shards)) return false;
    if (!s.shards && s.mode == streams::StreamMode::kProvisioned) {
      return Fail(key, field + ".shards",
                  "is required for a provisioned stream");
    }
    if (!Int(body, field, "retention_hours", 24, 8760, &s.retention_hours)) {
      return false;
    }
    stack_.streams.push_back(std::move(s));
    return true;
  }

  bool ParseSchema(const std::string& subject, const std::string& field,
                   const YAML::Node& body, const YAML::Node&) {
    if (!Map(body, field, {"file", "compatibility"})) return false;
    StackSchema s;
    s.subject = subject;
    std::string file;
    if (!String(body, field, "file", &file, true)) return false;
    s.file = (fs::absolute(file_).parent_path() / file).lexically_normal();
    std::ifstream in(s.file, std::ios::binary);
    if (!in) {
      return Fail(body["file"], field + ".file",
                  fmt::format("cannot read {}", s.file.string()));
    }
    std::stringstream text;
    text << in.rdbuf();
    s.schema = text.str();
    std::string compat;
    if (!String(body, field, "compatibility", &compat)) return false;
    if (!compat.empty()) {
      static const std::set<std::string> kLevels = {
          "NONE",           "BACKWARD",           "BACKWARD_TRANSITIVE",
          "FORWARD",        "FORWARD_TRANSITIVE", "FULL",
          "FULL_TRANSITIVE"};
      if (!kLevels.count(compat)) {
        return Fail(body["compatibility"], field + ".compatibility",
                    "must be NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, "
                    "FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE");
      }
      s.compatibility = compat;
    }
    stack_.schemas.push_back(std::move(s));
    return true;
  }

  // {name: x, type: S|N|B}; records the attribute definition.
  bool KeyAttribute(const YAML::Node& parent, const std::string& field,
                    std::string_view key, bool required,
                    std::optional<tables::KeyElement>* out,
                    std::vector<tables::KeyElement>* attributes) {
    YAML::Node n = parent[std::string(key)];
    std::string f = Join(field, key);
    if (!n) {
      if (required) return Fail(parent, f, "is required");
      return true;
    }
    if (!Map(n, f, {"name", "type"})) return false;
    tables::KeyElement e;
    std::string type = "S";
    if (!String(n, f, "name", &e.name, true) || !String(n, f, "type", &type)) {
      return false;
    }
    if (type == "S") {
      e.type = tables::AttributeType::kS;
    } else if (type == "N") {
      e.type = tables::AttributeType::kN;
    } else if (type == "B") {
      e.type = tables::AttributeType::kB;
    } else {
      return Fail(n["type"], f + ".type", "must be S, N or B");
    }
    for (const tables::KeyElement& a : *attributes) {
      if (a.name == e.name && a.type != e.type) {
        return Fail(n, f,
                    fmt::format("attribute {} is declared with "
                                "another type elsewhere in this table",
                                e.name));
      }
    }
    bool seen = false;
    for (const tables::KeyElement& a : *attributes) seen |= a.name == e.name;
    if (!seen) attributes->push_back(e);
    *out = e;
    return true;
  }

  bool ParseTable(const std::string& name, const std::string& field,
                  const YAML::Node& body, const YAML::Node&) {
    if (!Map(body, field, {"partition_key", "sort_key", "indexes", "ttl"})) {
      return false;
    }
    StackTable t;
    t.spec.name = name;
    t.spec.billing_mode = "PAY_PER_REQUEST";
    std::optional<tables::KeyElement> hash, range;
    if (!KeyAttribute(body, field, "partition_key", true, &hash,
                      &t.spec.attributes) ||
        !KeyAttribute(body, field, "sort_key", false, &range,
                      &t.spec.attributes)) {
      return false;
    }
    t.spec.key.hash = *hash;
    t.spec.key.range = range;
    std::string ttl;
    if (!String(body, field, "ttl", &ttl)) return false;
    if (!ttl.empty()) t.ttl = ttl;
    YAML::Node indexes = body["indexes"];
    if (indexes) {
      std::string f = field + ".indexes";
      if (!indexes.IsMap()) return Fail(indexes, f, "must be a mapping");
      for (const auto& kv : indexes) {
        std::string iname = kv.first.as<std::string>();
        std::string fi = f + "." + iname;
        const YAML::Node& ib = kv.second;
        if (!Map(ib, fi,
                 {"partition_key", "sort_key", "projection", "local"})) {
          return false;
        }
        tables::IndexSpec index;
        index.name = iname;
        std::optional<tables::KeyElement> ih, ir;
        if (!KeyAttribute(ib, fi, "partition_key", true, &ih,
                          &t.spec.attributes) ||
            !KeyAttribute(ib, fi, "sort_key", false, &ir, &t.spec.attributes)) {
          return false;
        }
        index.key.hash = *ih;
        index.key.range = ir;
        // A local secondary index shares the table's partition key and
        // orders it by another sort key.
        if (!Bool(ib, fi, "local", &index.local)) return false;
        if (index.local && (ih->name != hash->name || !ir || !range ||
                            ir->name == range->name)) {
          return Fail(ib["local"], fi + ".local",
                      "a local index has the table's partition key and a sort "
                      "key of its own (the table needs a sort key too)");
        }
        YAML::Node p = ib["projection"];
        if (p && p.IsSequence()) {
          index.projection = tables::ProjectionType::kInclude;
          if (!StringList(ib, fi, "projection", &index.non_key_attributes)) {
            return false;
          }
        } else if (p) {
          std::string kind = p.IsScalar() ? p.as<std::string>() : "";
          if (kind == "all") {
            index.projection = tables::ProjectionType::kAll;
          } else if (kind == "keys_only") {
            index.projection = tables::ProjectionType::kKeysOnly;
          } else {
            return Fail(p, fi + ".projection",
                        "must be all, keys_only or a list of attributes");
          }
        }
        t.spec.indexes.push_back(std::move(index));
      }
    }
    stack_.tables.push_back(std::move(t));
    return true;
  }

  bool ParseFunction(const std::string& name, const std::string& field,
                     const YAML::Node& body, const YAML::Node&) {
    if (!Map(body, field,
             {"runtime", "code", "handler", "environment", "concurrency",
              "timeout_seconds", "memory_mb", "description"})) {
      return false;
    }
    StackFunction f;
    f.config.name = name;
    if (!functions::IsValidFunctionName(name)) {
      return Fail(body, field, "is not a valid Lambda function name");
    }
    if (!String(body, field, "runtime", &f.config.runtime, true) ||
        !String(body, field, "handler", &f.config.handler) ||
        !String(body, field, "description", &f.config.description) ||
        !Int(body, field, "timeout_seconds", 1, 900,
             &f.config.timeout_seconds) ||
        !Int(body, field, "memory_mb", 128, 10240, &f.config.memory_mb) ||
        !Int(body, field, "concurrency", 0, 1000, &f.concurrency)) {
      return false;
    }
    auto kind = functions::RuntimeKindOf(f.config.runtime);
    if (!kind) {
      return Fail(body["runtime"], field + ".runtime",
                  "is not a runtime riffle runs (provided.al2, "
                  "provided.al2023, nodejs18.x, nodejs20.x, nodejs22.x, "
                  "riffle:avro-to-table, riffle:native)");
    }
    std::string code;
    if (!String(body, field, "code", &code)) return false;
    if (!code.empty()) {
      f.code = (fs::absolute(file_).parent_path() / code).lexically_normal();
    } else if (*kind != functions::RuntimeKind::kAvroToTable) {
      return Fail(body, field + ".code",
                  "is required (a directory, relative to the stack file)");
    }
    YAML::Node env = body["environment"];
    if (env) {
      if (!env.IsMap()) {
        return Fail(env, field + ".environment", "must be a mapping");
      }
      for (const auto& kv : env) {
        if (!kv.second.IsScalar()) {
          return Fail(kv.second,
                      field + ".environment." + kv.first.as<std::string>(),
                      "must be a string");
        }
        f.config.environment[kv.first.as<std::string>()] =
            kv.second.as<std::string>();
      }
    }
    stack_.functions.push_back(std::move(f));
    return true;
  }

  bool ParseMappings(const YAML::Node& root) {
    YAML::Node n = root["mappings"];
    if (!n || n.IsNull()) return true;
    if (!n.IsSequence()) return Fail(n, "mappings", "must be a list");
    int i = 0;
    for (const auto& body : n) {
      std::string field = fmt::format("mappings[{}]", i++);
      stack_.item_lines[field] = body.Mark().line + 1;
      // Apply names these lines when an existing mapping has another.
      for (const char* key :
           {"starting_position", "starting_position_timestamp"}) {
        if (body.IsMap() && body[key]) {
          stack_.item_lines[field + "." + key] = body[key].Mark().line + 1;
        }
      }
      if (!Map(body, field,
               {"function", "stream", "starting_position",
                "starting_position_timestamp", "batch_size",
                "batching_window_seconds", "parallelization_factor",
                "maximum_retry_attempts", "maximum_record_age_seconds",
                "bisect_batch_on_function_error", "report_batch_item_failures",
                "on_failure", "tumbling_window_seconds", "filters",
                "enabled"})) {
        return false;
      }
      StackMapping m;
      functions::MappingConfig& c = m.config;
      std::string position = "TRIM_HORIZON";
      if (!String(body, field, "function", &c.function_name, true) ||
          !String(body, field, "stream", &m.stream, true) ||
          !String(body, field, "starting_position", &position) ||
          !Int(body, field, "batch_size", 1, 10000, &c.batch_size) ||
          !Int(body, field, "batching_window_seconds", 0, 300,
               &c.maximum_batching_window_seconds) ||
          !Int(body, field, "parallelization_factor", 1, 10,
               &c.parallelization_factor) ||
          !Int(body, field, "maximum_retry_attempts", -1, 10000,
               &c.maximum_retry_attempts) ||
          !Int(body, field, "maximum_record_age_seconds", -1, 604800,
               &c.maximum_record_age_seconds) ||
          !Bool(body, field, "bisect_batch_on_function_error",
                &c.bisect_batch_on_function_error) ||
          !Bool(body, field, "report_batch_item_failures",
                &c.report_batch_item_failures) ||
          !String(body, field, "on_failure", &m.on_failure_stream) ||
          !Int(body, field, "tumbling_window_seconds", 0, 900,
               &c.tumbling_window_seconds) ||
          !Bool(body, field, "enabled", &c.enabled) ||
          !Filters(body, field, &c.filter_patterns)) {
        return false;
      }
      // Lambda takes -1 (records never expire by age) or 60 and up.
      if (c.maximum_record_age_seconds >= 0 &&
          c.maximum_record_age_seconds < 60) {
        return Fail(body["maximum_record_age_seconds"],
                    field + ".maximum_record_age_seconds",
                    "must be -1 or from 60 to 604800");
      }
      auto p = functions::ParseStartingPosition(position);
      if (!p) {
        return Fail(body["starting_position"], field + ".starting_position",
                    "must be TRIM_HORIZON, LATEST or AT_TIMESTAMP");
      }
      c.starting_position = *p;
      YAML::Node ts = body["starting_position_timestamp"];
      if (*p == functions::StartingPosition::kAtTimestamp) {
        if (!ts) {
          return Fail(body, field + ".starting_position_timestamp",
                      "is required with AT_TIMESTAMP");
        }
        std::optional<int64_t> ms = ts.IsScalar()
                                        ? ParseTimestampMs(ts.as<std::string>())
                                        : std::nullopt;
        if (!ms) {
          return Fail(ts, field + ".starting_position_timestamp",
                      "must be an ISO 8601 time (2024-05-01T12:00:00Z) or "
                      "seconds since the epoch");
        }
        c.starting_position_timestamp_ms = *ms;
      } else if (ts) {
        return Fail(ts, field + ".starting_position_timestamp",
                    "applies to starting_position AT_TIMESTAMP");
      }
      for (const StackMapping& other : stack_.mappings) {
        if (other.stream == m.stream &&
            other.config.function_name == c.function_name) {
          return Fail(body, field,
                      "another mapping joins this function and stream");
        }
      }
      stack_.mappings.push_back(std::move(m));
    }
    return true;
  }

  bool ParseReadApi(const YAML::Node& root) {
    YAML::Node n = root["read_api"];
    if (!n || n.IsNull()) return true;
    if (!Map(n, "read_api", {"title", "cors"})) return false;
    if (!String(n, "read_api", "title", &stack_.read_api.title)) return false;
    YAML::Node cors = n["cors"];
    if (!cors) return true;
    gateway::Cors& c = stack_.read_api.cors;
    return Map(cors, "read_api.cors",
               {"allowed_origins", "allowed_headers", "max_age_seconds"}) &&
           StringList(cors, "read_api.cors", "allowed_origins",
                      &c.allowed_origins) &&
           StringList(cors, "read_api.cors", "allowed_headers",
                      &c.allowed_headers) &&
           Int(cors, "read_api.cors", "max_age_seconds", 0, 86400,
               &c.max_age_seconds);
  }

  bool ParseRoute(const std::string& name, const std::string& field,
                  const YAML::Node& body, const YAML::Node&) {
    if (!Map(body, field,
             {"method", "path", "action", "table", "function", "index",
              "projection", "sort_key_params", "limit", "timeout_ms",
              "description", "examples"})) {
      return false;
    }
    gateway::Route r;
    r.name = name;
    std::string action;
    // `function: NAME` makes an API Gateway style function route; else the
    // route reads a table with `action`.
    bool function = body["function"].IsDefined();
    if (function) {
      for (const char* table_only : {"action", "table", "index", "projection",
                                     "sort_key_params", "limit"}) {
        if (body[table_only]) {
          return Fail(body[table_only], field + "." + table_only,
                      "does not apply to a function route");
        }
      }
    }
    if (!String(body, field, "method", &r.method) ||
        !String(body, field, "path", &r.path, true) ||
        !String(body, field, "function", &r.function, function) ||
        !String(body, field, "action", &action, !function) ||
        !String(body, field, "table", &r.table, !function) ||
        !String(body, field, "index", &r.index) ||
        !String(body, field, "description", &r.description) ||
        !StringList(body, field, "projection", &r.projection)) {
      return false;
    }
    // API Gateway's $default route key has no method: it takes every one.
    if (r.path == gateway::kDefaultRoute) {
      if (!body["method"]) {
        r.method = gateway::kAnyMethod;
      } else if (r.method != gateway::kAnyMethod) {
        return Fail(body["method"], field + ".method",
                    "the $default route serves every method: leave method "
                    "out or write ANY");
      }
    }
    if (body["timeout_ms"] && !function) {
      return Fail(body["timeout_ms"], field + ".timeout_ms",
                  "applies to function routes");
    }
    if (!Int(body, field, "timeout_ms", 50, 30000, &r.timeout_ms)) {
      return false;
    }
    std::vector<std::string> examples;
    if (!StringList(body, field, "examples", &examples)) return false;
    for (const std::string& e : examples) {
      // Printed after the server's URL by --print-help-on-ready.
      if (e.empty() || e.front() != '/') {
        return Fail(body["examples"], field + ".examples",
                    "each example is a path starting with /");
      }
    }
    if (function) {
      r.kind = gateway::RouteKind::kFunction;
    } else if (action == "get_item") {
      r.kind = gateway::RouteKind::kGetItem;
    } else if (action == "query") {
      r.kind = gateway::RouteKind::kQuery;
    } else {
      return Fail(body["action"], field + ".action",
                  "must be get_item or query");
    }
    YAML::Node sk = body["sort_key_params"];
    if (sk) {
      std::string f = field + ".sort_key_params";
      if (!Map(sk, f, {"from", "to", "prefix"}) ||
          !String(sk, f, "from", &r.sort_key.from) ||
          !String(sk, f, "to", &r.sort_key.to) ||
          !String(sk, f, "prefix", &r.sort_key.prefix)) {
        return false;
      }
    }
    YAML::Node limit = body["limit"];
    if (limit) {
      std::string f = field + ".limit";
      if (!Map(limit, f, {"default", "max"}) ||
          !Int(limit, f, "default", 1, 1000, &r.default_limit) ||
          !Int(limit, f, "max", 1, 1000, &r.max_limit)) {
        return false;
      }
    }
    if (r.kind == gateway::RouteKind::kGetItem &&
        (sk || limit || !r.index.empty())) {
      return Fail(body, field,
                  "index, sort_key_params and limit apply to query routes");
    }
    // Against the table when the stack declares it: an index it lacks.
    for (const StackTable& t : stack_.tables) {
      if (t.spec.name != r.table || r.index.empty()) continue;
      bool found = false;
      for (const auto& i : t.spec.indexes) found |= i.name == r.index;
      if (!found) {
        return Fail(
            body["index"], field + ".index",
            fmt::format("table {} declares no index {}", r.table, r.index));
      }
    }
    if (Status s = gateway::ValidateRoute(r); !s.ok()) {
      return Fail(body, field, s.message());
    }
    for (const gateway::Route& other : stack_.read_api.routes) {
      if (other.method == r.method && other.path == r.path) {
        return Fail(body["path"], field + ".path",
                    fmt::format("route {} serves it already", other.name));
      }
    }
    if (!examples.empty()) stack_.route_examples[r.name] = std::move(examples);
    stack_.read_api.routes.push_back(std::move(r));
    return true;
  }

  fs::path file_;
  Stack stack_;
  Status error_ = Status::Ok();
};

}  // namespace

Result<Stack> ParseStack(const fs::path& file, const std::string& text) {
  return Parser(file).Parse(text);
}

Result<Stack> LoadStack(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFound(fmt::format("cannot read {}", file.string()));
  std::stringstream text;
  text << in.rdbuf();
  return ParseStack(file, text.str());
}

}  // namespace riffle::app
