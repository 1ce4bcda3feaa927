#include "app/stack_apply.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <set>

#include "app/local_stack_backend.h"
#include "core/clock.h"
#include "json/json.h"

namespace riffle::app {
namespace {

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

bool SameKey(const tables::KeySchema& a, const tables::KeySchema& b) {
  auto same = [](const tables::KeyElement& x, const tables::KeyElement& y) {
    return x.name == y.name && x.type == y.type;
  };
  return same(a.hash, b.hash) && a.range.has_value() == b.range.has_value() &&
         (!a.range || same(*a.range, *b.range));
}

std::string KeyText(const tables::KeySchema& k) {
  std::string s =
      fmt::format("{} {}", k.hash.name, tables::AttributeTypeName(k.hash.type));
  if (k.range) {
    s += fmt::format(", {} {}", k.range->name,
                     tables::AttributeTypeName(k.range->type));
  }
  return s;
}

std::string RouteText(const gateway::Route& r) {
  if (r.kind == gateway::RouteKind::kFunction) {
    return fmt::format("{} {} {} (invokes {})", r.name, r.method, r.path,
                       r.function);
  }
  return fmt::format(
      "{} {} {} ({} on {}{})", r.name, r.method, r.path,
      r.kind == gateway::RouteKind::kGetItem ? "GetItem" : "Query", r.table,
      r.index.empty() ? "" : "." + r.index);
}

// `v` in a canonical form: object keys sorted, numbers by value (1, 1.0
// and 1e0 are one number, as a filter compares them), strings and array
// order as they are (an array's order can matter: numeric's bounds).
void WriteCanonicalJson(const json::Value& v, std::string* out) {
  switch (v.type()) {
    case json::Value::Type::kObject: {
      std::vector<const json::Value::Member*> members;
      for (const auto& m : v.members()) members.push_back(&m);
      std::sort(members.begin(), members.end(),
                [](auto* a, auto* b) { return a->first < b->first; });
      out->push_back('{');
      for (size_t i = 0; i < members.size(); ++i) {
        if (i > 0) out->push_back(',');
        json::AppendQuoted(members[i]->first, out);
        out->push_back(':');
        WriteCanonicalJson(members[i]->second, out);
      }
      out->push_back('}');
      break;
    }
    case json::Value::Type::kArray:
      out->push_back('[');
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (i > 0) out->push_back(',');
        WriteCanonicalJson(v.items()[i], out);
      }
      out->push_back(']');
      break;
    case json::Value::Type::kNumber:
      if (std::optional<double> d = v.AsDouble()) {
        out->append(fmt::format("{}", *d));
      } else {
        out->append(v.text());
      }
      break;
    default:
      json::SerializeTo(v, out);
  }
}

// A mapping's filter patterns as a set of canonical texts: two lists that
// filter alike compare equal however their JSON is spelt, ordered or
// repeated (a record passes when any pattern matches). A pattern that is
// not JSON (it could not have been accepted) stays as it is.
std::set<std::string> CanonicalFilters(const std::vector<std::string>& list) {
  std::set<std::string> out;
  for (const std::string& p : list) {
    auto v = json::Parse(p);
    if (!v.ok()) {
      out.insert(p);
      continue;
    }
    std::string text;
    WriteCanonicalJson(*v, &text);
    out.insert(std::move(text));
  }
  return out;
}

// A starting timestamp as the stack file may write it, in UTC.
std::string TimestampText(int64_t ms) {
  return FormatUtc(ms, FractionDigits::kMillisIfAny, "Z");
}

std::string StartingPositionText(const functions::MappingConfig& m) {
  std::string s(functions::StartingPositionName(m.starting_position));
  if (m.starting_position == functions::StartingPosition::kAtTimestamp)
    s += " " + TimestampText(m.starting_position_timestamp_ms);
  return s;
}

std::string FiltersText(size_t n) {
  return fmt::format("{} pattern{}", n, n == 1 ? "" : "s");
}

// DynamoDB's per-table index limits
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-secondary-indexes).
constexpr int kMaxGlobalIndexes = 20;
constexpr int kMaxLocalIndexes = 5;

// One apply: the decisions, made against a backend. Owns nothing but the
// running counts; not thread-safe (one per apply).
class Applier {
 public:
  Applier(const Stack& stack, StackBackend& backend,
          const ApplyOptions& options, const ReportFn& report)
      : stack_(stack), b_(backend), dry_(options.dry_run), report_(report) {}

  Result<ApplySummary> Run() {
    RETURN_IF_ERROR(CheckBeforeChanging());
    RETURN_IF_ERROR(Schemas());
    RETURN_IF_ERROR(Streams());
    RETURN_IF_ERROR(Tables());
    RETURN_IF_ERROR(Functions());
    RETURN_IF_ERROR(Mappings());
    RETURN_IF_ERROR(Routes());
    return summary_;
  }

 private:
  // `s` for the item `field` ("tables.payments"), naming the stack file
  // and the item's line as parse errors do.
  Status Fail(const Status& s, const std::string& field) const {
    std::string where = stack_.file.string();
    // The longest prefix that names an item (names may hold dots).
    for (std::string item = field; !item.empty();) {
      if (auto it = stack_.item_lines.find(item);
          it != stack_.item_lines.end()) {
        where += fmt::format(":{}", it->second);
        break;
      }
      size_t dot = item.rfind('.');
      item.resize(dot == std::string::npos ? 0 : dot);
    }
    return Status(s.code(),
                  fmt::format("{}: {}: {}", where, field, s.message()));
  }

  // A change: "created X" when applying, "would create X" in a dry run.
  void Changed(std::string_view done, std::string_view plan,
               const std::string& rest) {
    ++summary_.changed;
    report_(fmt::format("{} {}", dry_ ? plan : done, rest));
  }
  void Unchanged(const std::string& what) {
    ++summary_.unchanged;
    report_("unchanged: " + what);
  }
  // One line for an item that existed: what changed, or "unchanged".
  void Updated(const std::string& what,
               const std::vector<std::string>& changes) {
    if (changes.empty()) {
      Unchanged(what);
    } else {
      Changed("updated", "would update",
              fmt::format("{}: {}", what, JoinList(changes)));
    }
  }

  // Every error that depends only on the file and on what exists now (no
  // update can fix it, or a reference leads nowhere) is looked for here,
  // before anything changes, so that such a file fails whole, dry run or
  // not, rather than after the items before it were applied. Reads only,
  // besides packaging function code, which the apply then sends. What the
  // file itself creates counts as there (a mapping of a stream the file
  // declares). The apply steps keep their own checks: the same functions,
  // in case the system changed in between.
  Status CheckBeforeChanging() {
    RETURN_IF_ERROR(CheckSchemas());
    RETURN_IF_ERROR(CheckTables());
    RETURN_IF_ERROR(CheckFunctions());
    RETURN_IF_ERROR(CheckMappings());
    return CheckRoutes();
  }

  // A schema the subject does not hold yet must be one the registry would
  // register: valid, and compatible with the versions the subject's level
  // selects (the registry's own compatibility test). Where the file also
  // changes the subject's level, the new level is what judges the schema,
  // and no registry can be asked that before the level is set: registering
  // checks it then.
  Status CheckSchemas() {
    for (const StackSchema& s : stack_.schemas) {
      std::string field = "schemas." + s.subject;
      auto found = b_.LookupSchema(s.subject, s.schema);
      if (!found.ok()) return Fail(found.status(), field);
      if (*found) continue;
      if (s.compatibility) {
        auto current = b_.SubjectCompatibility(s.subject);
        if (!current.ok()) return Fail(current.status(), field);
        if (*current != *s.compatibility) continue;
      }
      auto reasons = b_.TestCompatibility(s.subject, s.schema);
      if (!reasons.ok()) return Fail(reasons.status(), field);
      if (!reasons->empty()) {
        // The registry's words when it refuses to register.
        return Fail(FailedPrecondition(fmt::format(
                        "Schema being registered is incompatible with an "
                        "earlier schema for subject \"{}\", details: [{}]",
                        s.subject, JoinList(*reasons))),
                    field);
      }
    }
    return Status::Ok();
  }

  Status CheckTables() {
    for (const StackTable& t : stack_.tables) {
      auto d = b_.DescribeTable(t.spec.name);
      if (!d.ok()) return Fail(d.status(), "tables." + t.spec.name);
      RETURN_IF_ERROR(CheckTable(t, *d ? &**d : nullptr));
    }
    return Status::Ok();
  }

  // Each function's configuration as Lambda would take it (riffle's own
  // rule, functions::ValidateFunctionConfig: a Node runtime needs a
  // handler, ...), and its code zipped (or otherwise prepared) once, for
  // the apply to send: a code directory that is missing or empty fails the
  // file here.
  Status CheckFunctions() {
    for (const StackFunction& f : stack_.functions) {
      std::string field = "functions." + f.config.name;
      if (Status v = functions::ValidateFunctionConfig(f.config); !v.ok())
        return Fail(v, field);
      if (!f.code) continue;
      auto p = b_.PackageCode(*f.code);
      if (!p.ok()) return Fail(p.status(), field);
      code_.emplace(f.config.name, std::move(*p));
    }
    return Status::Ok();
  }

  bool DeclaresStream(const std::string& name) const {
    for (const StackStream& s : stack_.streams)
      if (s.name == name) return true;
    return false;
  }
  const StackTable* DeclaredTable(const std::string& name) const {
    for (const StackTable& t : stack_.tables)
      if (t.spec.name == name) return &t;
    return nullptr;
  }
  bool DeclaresFunction(const std::string& name) const {
    for (const StackFunction& f : stack_.functions)
      if (f.config.name == name) return true;
    return false;
  }
  static Status Missing(std::string_view kind, const std::string& name) {
    return NotFound(fmt::format(
        "{} {} does not exist and the file does not declare it", kind, name));
  }

  // Each mapping's streams and function exist or are declared; an existing
  // mapping keeps its starting position.
  Status CheckMappings() {
    for (size_t n = 0; n < stack_.mappings.size(); ++n) {
      const StackMapping& m = stack_.mappings[n];
      std::string field = fmt::format("mappings[{}]", n);
      auto stream = b_.DescribeStream(m.stream);
      if (!stream.ok()) return Fail(stream.status(), field);
      if (!*stream && !DeclaresStream(m.stream))
        return Fail(Missing("stream", m.stream), field + ".stream");
      if (!m.on_failure_stream.empty()) {
        auto dest = b_.DescribeStream(m.on_failure_stream);
        if (!dest.ok()) return Fail(dest.status(), field + ".on_failure");
        if (!*dest && !DeclaresStream(m.on_failure_stream)) {
          return Fail(Missing("stream", m.on_failure_stream),
                      field + ".on_failure");
        }
      }
      const std::string& function = m.config.function_name;
      if (!DeclaresFunction(function)) {
        auto f = b_.GetFunction(function);
        if (!f.ok()) return Fail(f.status(), field + ".function");
        if (!*f)
          return Fail(Missing("function", function), field + ".function");
      }
      // No stream yet, so no mapping from it yet.
      if (!*stream) continue;
      auto have = b_.FindMapping(function, (*stream)->arn);
      if (!have.ok()) return Fail(have.status(), field);
      if (!*have) continue;
      RETURN_IF_ERROR(CheckStartingPosition(m, **have, field));
    }
    return Status::Ok();
  }

  // A route reads a table, or invokes a function, that exists or that the
  // file declares; an index of a table the file does not declare must
  // exist (the parser checks the indexes of declared ones).
  Status CheckRoutes() {
    for (const gateway::Route& r : stack_.read_api.routes) {
      std::string field = "routes." + r.name;
      if (r.kind == gateway::RouteKind::kFunction) {
        if (DeclaresFunction(r.function)) continue;
        auto f = b_.GetFunction(r.function);
        if (!f.ok()) return Fail(f.status(), field + ".function");
        if (!*f)
          return Fail(Missing("function", r.function), field + ".function");
        continue;
      }
      if (DeclaredTable(r.table) != nullptr) continue;
      auto t = b_.DescribeTable(r.table);
      if (!t.ok()) return Fail(t.status(), field + ".table");
      if (!*t) return Fail(Missing("table", r.table), field + ".table");
      if (!r.index.empty() && (*t)->FindIndex(r.index) == nullptr) {
        return Fail(
            NotFound(fmt::format("table {} has no index {}", r.table, r.index)),
            field + ".index");
      }
    }
    return Status::Ok();
  }

  // What a table in the file may not ask of `have` (the table as it is;
  // null when it does not exist yet): what DynamoDB cannot change in place
  // and riffle will not recreate (a table holds data), and DynamoDB's
  // index limits.
  Status CheckTable(const StackTable& t, const TableState* have) const {
    const std::string& name = t.spec.name;
    std::string field = "tables." + name;
    int global = 0, local = 0;
    for (const tables::IndexSpec& i : t.spec.indexes)
      ++(i.local ? local : global);
    if (have == nullptr) {
      if (local > kMaxLocalIndexes) {
        return Fail(InvalidArgument(fmt::format(
                        "{} local indexes: DynamoDB allows {} per table", local,
                        kMaxLocalIndexes)),
                    field + ".indexes");
      }
      if (global > kMaxGlobalIndexes) {
        return Fail(InvalidArgument(fmt::format(
                        "{} global indexes: DynamoDB allows {} per table",
                        global, kMaxGlobalIndexes)),
                    field + ".indexes");
      }
      return Status::Ok();
    }
    // A key cannot change in place; recreating would drop the items.
    if (!SameKey(have->key, t.spec.key)) {
      return Fail(InvalidArgument(fmt::format(
                      "exists with key ({}), the stack declares ({}); "
                      "riffle does not recreate tables: delete it first",
                      KeyText(have->key), KeyText(t.spec.key))),
                  field);
    }
    int global_after = 0;
    for (const tables::IndexSpec& i : have->indexes) global_after += !i.local;
    for (const tables::IndexSpec& i : t.spec.indexes) {
      const tables::IndexSpec* existing = have->FindIndex(i.name);
      if (existing == nullptr) {
        // DynamoDB creates local indexes with their table only.
        if (i.local) {
          return Fail(InvalidArgument(fmt::format(
                          "local index {} can only be created with the "
                          "table: delete the table first, or make it "
                          "global",
                          i.name)),
                      field + ".indexes." + i.name);
        }
        ++global_after;
      } else if (!SameKey(existing->key, i.key)) {
        return Fail(InvalidArgument(fmt::format(
                        "index {} exists with key ({}), the stack declares "
                        "({}); delete the index first",
                        i.name, KeyText(existing->key), KeyText(i.key))),
                    field + ".indexes." + i.name);
      }
    }
    if (global_after > kMaxGlobalIndexes) {
      return Fail(InvalidArgument(fmt::format(
                      "the table would have {} global indexes: DynamoDB "
                      "allows {} per table",
                      global_after, kMaxGlobalIndexes)),
                  field + ".indexes");
    }
    // DynamoDB changes the TTL attribute only by disabling TTL and enabling
    // it again (UpdateTimeToLive refuses "TimeToLive is already enabled").
    if (t.ttl && have->ttl.enabled && have->ttl.attribute != *t.ttl) {
      return Fail(InvalidArgument(fmt::format(
                      "TTL is enabled on {}, the stack declares {}; DynamoDB "
                      "cannot change the attribute of an enabled TTL: apply "
                      "the file without ttl first (disabling it), then with "
                      "the new attribute",
                      have->ttl.attribute, *t.ttl)),
                  field + ".ttl");
    }
    return Status::Ok();
  }

  // UpdateEventSourceMapping cannot change StartingPosition or
  // StartingPositionTimestamp
  // (https://docs.aws.amazon.com/lambda/latest/api/API_UpdateEventSourceMapping.html):
  // a file declaring another one is an error rather than a change silently
  // left undone. Apply never deletes, so the way out is deleting the
  // mapping by hand (its checkpoints go with it) and applying again.
  Status CheckStartingPosition(const StackMapping& m,
                               const functions::MappingConfig& have,
                               const std::string& field) const {
    const functions::MappingConfig& want = m.config;
    std::string which;
    if (have.starting_position != want.starting_position) {
      which = "starting_position";
    } else if (want.starting_position ==
                   functions::StartingPosition::kAtTimestamp &&
               have.starting_position_timestamp_ms !=
                   want.starting_position_timestamp_ms) {
      which = "starting_position_timestamp";
    } else {
      return Status::Ok();
    }
    return Fail(
        FailedPrecondition(fmt::format(
            "mapping {} -> {}: {} cannot change for an existing mapping (it "
            "is {}, the file declares {}); delete the mapping (aws lambda "
            "delete-event-source-mapping --uuid {}), then apply again",
            m.stream, want.function_name, which, StartingPositionText(have),
            StartingPositionText(want), have.uuid)),
        field + "." + which);
  }

  Status Schemas() {
    for (const StackSchema& s : stack_.schemas) {
      std::string field = "schemas." + s.subject;
      // Compatibility first: it governs whether the new version is
      // accepted.
      if (s.compatibility) {
        auto current = b_.SubjectCompatibility(s.subject);
        if (!current.ok()) return Fail(current.status(), field);
        if (*current != *s.compatibility) {
          if (!dry_) {
            Status st = b_.SetSubjectCompatibility(s.subject, *s.compatibility);
            if (!st.ok()) return Fail(st, field);
          }
          Changed("set", "would set",
                  fmt::format("compatibility of {} to {}", s.subject,
                              *s.compatibility));
        }
      }
      auto found = b_.LookupSchema(s.subject, s.schema);
      if (!found.ok()) return Fail(found.status(), field);
      if (*found) {
        Unchanged(fmt::format("schema {} (version {}, id {})", s.subject,
                              (*found)->version, (*found)->id));
        continue;
      }
      if (dry_) {
        Changed("", "would register",
                fmt::format("schema {} from {}", s.subject, s.file.string()));
        continue;
      }
      auto r = b_.RegisterSchema(s.subject, s.schema);
      if (!r.ok()) return Fail(r.status(), field);
      Changed("registered", "",
              fmt::format("schema {} version {} (id {}) from {}", s.subject,
                          r->version, r->id, s.file.string()));
    }
    return Status::Ok();
  }

  Status Streams() {
    for (const StackStream& s : stack_.streams) {
      std::string what = "stream " + s.name;
      std::string field = "streams." + s.name;
      auto d = b_.DescribeStream(s.name);
      if (!d.ok()) return Fail(d.status(), field);
      if (!*d) {
        std::string shards = s.shards ? std::to_string(*s.shards) : "";
        if (!dry_) {
          if (Status c = b_.CreateStream(s); !c.ok()) return Fail(c, field);
          auto now = b_.DescribeStream(s.name);
          if (!now.ok()) return Fail(now.status(), field);
          if (*now) {
            shards = std::to_string((*now)->open_shards);
            // Streams start at 24 hours (AWS cannot create with another).
            if ((*now)->retention_hours != s.retention_hours) {
              Status r =
                  b_.SetRetention(s.name, s.retention_hours,
                                  s.retention_hours > (*now)->retention_hours);
              if (!r.ok()) return Fail(r, field);
            }
          }
        }
        Changed(
            "created", "would create",
            fmt::format("stream {} ({}{}, {}, {}h retention)", s.name, shards,
                        shards.empty() ? "on-demand" : " shards",
                        streams::StreamModeName(s.mode), s.retention_hours));
        continue;
      }
      const StreamState& have = **d;
      std::vector<std::string> changes;
      // Mode before shards: a stream turning provisioned takes its shard
      // count next; one turning on-demand has none to set.
      if (have.mode != s.mode) {
        if (!dry_) {
          if (Status c = b_.UpdateStreamMode(s.name, s.mode); !c.ok())
            return Fail(c, field);
        }
        changes.push_back(
            fmt::format("mode {}", streams::StreamModeName(s.mode)));
      }
      if (s.shards && s.mode == streams::StreamMode::kProvisioned &&
          have.open_shards != *s.shards) {
        if (!dry_) {
          if (Status c = b_.UpdateShardCount(s.name, *s.shards); !c.ok())
            return Fail(c, field);
        }
        changes.push_back(
            fmt::format("{} -> {} shards", have.open_shards, *s.shards));
      }
      if (have.retention_hours != s.retention_hours) {
        if (!dry_) {
          Status c = b_.SetRetention(s.name, s.retention_hours,
                                     s.retention_hours > have.retention_hours);
          if (!c.ok()) return Fail(c, field);
        }
        changes.push_back(fmt::format("retention {}h", s.retention_hours));
      }
      Updated(what, changes);
    }
    return Status::Ok();
  }

  Status Tables() {
    for (const StackTable& t : stack_.tables) {
      const std::string& name = t.spec.name;
      std::string what = "table " + name;
      std::string field = "tables." + name;
      auto d = b_.DescribeTable(name);
      if (!d.ok()) return Fail(d.status(), field);
      RETURN_IF_ERROR(CheckTable(t, *d ? &**d : nullptr));
      tables::TimeToLive ttl;
      if (t.ttl) ttl = {true, *t.ttl};
      if (!*d) {
        if (!dry_) {
          if (Status c = b_.CreateTable(t.spec); !c.ok()) return Fail(c, field);
          if (ttl.enabled) {
            if (Status c = b_.UpdateTimeToLive(name, ttl); !c.ok())
              return Fail(c, field);
          }
        }
        std::string indexes;
        for (const auto& i : t.spec.indexes)
          indexes += (indexes.empty() ? "" : ", ") + i.name;
        Changed(
            "created", "would create",
            fmt::format("table {} (key {}{}{}{})", name, KeyText(t.spec.key),
                        indexes.empty() ? "" : "; indexes ", indexes,
                        t.ttl ? "; TTL on " + *t.ttl : ""));
        continue;
      }
      const TableState& have = **d;
      std::vector<std::string> changes;
      std::vector<tables::IndexSpec> add;
      for (const tables::IndexSpec& i : t.spec.indexes) {
        if (have.FindIndex(i.name) == nullptr) {
          add.push_back(i);
          changes.push_back("added index " + i.name);
        }
      }
      if (!add.empty() && !dry_) {
        if (Status c = b_.AddIndexes(name, t.spec.attributes, add); !c.ok())
          return Fail(c, field);
      }
      if (have.ttl.enabled != ttl.enabled ||
          (ttl.enabled && have.ttl.attribute != ttl.attribute)) {
        // Disabling names the attribute that was enabled, as AWS wants.
        tables::TimeToLive next = ttl;
        if (!ttl.enabled) next.attribute = have.ttl.attribute;
        if (!dry_) {
          if (Status c = b_.UpdateTimeToLive(name, next); !c.ok())
            return Fail(c, field);
        }
        changes.push_back(ttl.enabled ? "TTL on " + ttl.attribute : "TTL off");
      }
      Updated(what, changes);
    }
    return Status::Ok();
  }

  Status Functions() {
    for (const StackFunction& f : stack_.functions) {
      const std::string& name = f.config.name;
      std::string what = "function " + name;
      std::string field = "functions." + name;
      // Packaged by the pre-pass (CheckFunctions).
      std::optional<CodePackage> code;
      if (auto it = code_.find(name); it != code_.end()) code = it->second;
      auto have = b_.GetFunction(name);
      if (!have.ok()) return Fail(have.status(), field);
      if (!*have) {
        if (!dry_) {
          Status c = b_.CreateFunction(f.config, code ? &*code : nullptr);
          if (!c.ok()) return Fail(c, field);
          if (f.concurrency) {
            c = b_.PutFunctionConcurrency(name, f.concurrency);
            if (!c.ok()) return Fail(c, field);
          }
        }
        Changed("created", "would create",
                fmt::format("function {} ({})", name, f.config.runtime));
        continue;
      }
      const functions::FunctionConfig& h = **have;
      const functions::FunctionConfig& w = f.config;
      functions::FunctionUpdate u;
      std::vector<std::string> changes;
      if (h.runtime != w.runtime) {
        u.runtime = w.runtime;
        changes.push_back("runtime");
      }
      if (h.handler != w.handler) {
        u.handler = w.handler;
        changes.push_back("handler");
      }
      if (h.description != w.description) {
        u.description = w.description;
        changes.push_back("description");
      }
      if (h.timeout_seconds != w.timeout_seconds) {
        u.timeout_seconds = w.timeout_seconds;
        changes.push_back("timeout");
      }
      if (h.memory_mb != w.memory_mb) {
        u.memory_mb = w.memory_mb;
        changes.push_back("memory");
      }
      if (h.environment != w.environment) {
        u.environment = w.environment;
        changes.push_back("environment");
      }
      if (!changes.empty() && !dry_) {
        if (Status c = b_.UpdateFunctionConfiguration(name, u); !c.ok())
          return Fail(c, field);
      }
      // Equal digests mean the same code (the backend makes the digest
      // Lambda's CodeSha256 would be).
      if (code && h.code_sha256 != code->sha256) {
        if (!dry_) {
          if (Status c = b_.UpdateFunctionCode(name, *code); !c.ok())
            return Fail(c, field);
        }
        changes.push_back("code");
      }
      if (h.reserved_concurrency != f.concurrency) {
        if (!dry_) {
          if (Status c = b_.PutFunctionConcurrency(name, f.concurrency);
              !c.ok())
            return Fail(c, field);
        }
        changes.push_back("concurrency");
      }
      Updated(what, changes);
    }
    return Status::Ok();
  }

  // The ARN of stream `name`; in a dry run, a placeholder when the stream
  // would be created first (nothing can match it yet).
  Result<std::optional<std::string>> StreamArn(const std::string& name) {
    auto d = b_.DescribeStream(name);
    if (!d.ok()) return d.status();
    if (*d) return std::optional<std::string>((*d)->arn);
    if (dry_) return std::optional<std::string>();
    return Missing("stream", name);
  }

  Status Mappings() {
    for (size_t n = 0; n < stack_.mappings.size(); ++n) {
      const StackMapping& m = stack_.mappings[n];
      std::string field = fmt::format("mappings[{}]", n);
      std::string what =
          fmt::format("mapping {} -> {}", m.stream, m.config.function_name);
      functions::MappingConfig want = m.config;
      auto source = StreamArn(m.stream);
      if (!source.ok()) return Fail(source.status(), field);
      std::optional<std::string> dest;
      if (!m.on_failure_stream.empty()) {
        auto d = StreamArn(m.on_failure_stream);
        if (!d.ok()) return Fail(d.status(), field + ".on_failure");
        dest = *d ? **d : "(stream " + m.on_failure_stream + ")";
        want.on_failure_destination = *dest;
      }
      std::optional<functions::MappingConfig> have;
      if (*source) {
        want.event_source_arn = **source;
        auto found = b_.FindMapping(want.function_name, want.event_source_arn);
        if (!found.ok()) return Fail(found.status(), field);
        have = std::move(*found);
      }
      if (!have) {
        std::string uuid;
        if (!dry_) {
          auto c = b_.CreateMapping(want);
          if (!c.ok()) return Fail(c.status(), field);
          uuid = " (uuid " + *c + ")";
        }
        Changed("created", "would create", what + uuid);
        continue;
      }
      // The starting position cannot change (CheckUnchangeable).
      std::vector<std::string> changes;
      auto diff = [&](const char* field, auto a, auto b) {
        if (a != b) changes.push_back(fmt::format("{} {} -> {}", field, a, b));
      };
      diff("batch_size", have->batch_size, want.batch_size);
      diff("batching_window_seconds", have->maximum_batching_window_seconds,
           want.maximum_batching_window_seconds);
      diff("parallelization_factor", have->parallelization_factor,
           want.parallelization_factor);
      diff("maximum_retry_attempts", have->maximum_retry_attempts,
           want.maximum_retry_attempts);
      diff("maximum_record_age_seconds", have->maximum_record_age_seconds,
           want.maximum_record_age_seconds);
      diff("bisect_batch_on_function_error",
           have->bisect_batch_on_function_error,
           want.bisect_batch_on_function_error);
      diff("report_batch_item_failures", have->report_batch_item_failures,
           want.report_batch_item_failures);
      diff("tumbling_window_seconds", have->tumbling_window_seconds,
           want.tumbling_window_seconds);
      if (CanonicalFilters(have->filter_patterns) !=
          CanonicalFilters(want.filter_patterns)) {
        changes.push_back(
            want.filter_patterns.empty()
                ? std::string("filters removed")
                : fmt::format(
                      "filters {} ({})",
                      have->filter_patterns.empty() ? "added" : "changed",
                      FiltersText(want.filter_patterns.size())));
      }
      diff("enabled", have->enabled, want.enabled);
      if (have->on_failure_destination != want.on_failure_destination) {
        changes.push_back(m.on_failure_stream.empty()
                              ? "on_failure removed"
                              : "on_failure " + m.on_failure_stream);
      }
      if (changes.empty()) {
        Unchanged(what);
        continue;
      }
      if (!dry_) {
        want.uuid = have->uuid;
        if (Status c = b_.UpdateMapping(want); !c.ok()) return Fail(c, field);
      }
      Changed("updated", "would update",
              fmt::format("{}: {}", what, JoinList(changes)));
    }
    return Status::Ok();
  }

  // The routes are compared route by route in their canonical document
  // form (stack_file.h), so that only what differs is reported; the
  // served set is replaced as a whole.
  Status Routes() {
    // A file without routes leaves the served ones alone.
    if (stack_.routes_document.empty()) return Status::Ok();
    auto current_text = b_.RoutesDocument();
    if (!current_text.ok()) return Fail(current_text.status(), "routes");
    json::Value current = json::Value::Object();
    if (!current_text->empty()) {
      auto parsed = json::Parse(*current_text);
      if (!parsed.ok() || !parsed->is_object()) {
        return Fail(DataLoss("the served routes document is not JSON"),
                    "routes");
      }
      current = std::move(*parsed);
    }
    auto want = json::Parse(stack_.routes_document);
    if (!want.ok()) return Fail(want.status(), "routes");
    auto section = [](const json::Value& doc, std::string_view name) {
      const json::Value* v = doc.Find(name);
      return v != nullptr ? json::Serialize(*v) : std::string();
    };
    auto route = [](const json::Value& doc, const std::string& name) {
      const json::Value* routes = doc.Find("routes");
      const json::Value* r = routes != nullptr ? routes->Find(name) : nullptr;
      return r != nullptr ? json::Serialize(*r) : std::string();
    };
    const bool same = *current_text == stack_.routes_document;
    if (!same && !dry_) {
      if (Status s = b_.SetRoutes(stack_); !s.ok()) return Fail(s, "routes");
    }
    if (section(current, "read_api") != section(*want, "read_api")) {
      Changed("set", "would set", "read_api (title, cors)");
    }
    std::set<std::string> names;
    for (const gateway::Route& r : stack_.read_api.routes) {
      names.insert(r.name);
      std::string have = route(current, r.name);
      if (have == route(*want, r.name)) {
        Unchanged("route " + r.name);
      } else if (have.empty()) {
        Changed("serving", "would serve", "route " + RouteText(r));
      } else {
        Changed("updated", "would update", "route " + RouteText(r));
      }
    }
    if (const json::Value* old = current.Find("routes");
        old != nullptr && old->is_object()) {
      for (const auto& [name, body] : old->members()) {
        if (names.count(name) == 0)
          Changed("removed", "would remove", "route " + name);
      }
    }
    return Status::Ok();
  }

  const Stack& stack_;
  StackBackend& b_;
  const bool dry_;
  const ReportFn& report_;
  ApplySummary summary_;
  // Each function's code as the pre-pass packaged it, by function name.
  std::map<std::string, CodePackage> code_;
};

}  // namespace

const tables::IndexSpec* TableState::FindIndex(std::string_view name) const {
  for (const tables::IndexSpec& i : indexes)
    if (i.name == name) return &i;
  return nullptr;
}

Result<ApplySummary> ApplyStack(const Stack& stack, StackBackend& backend,
                                const ApplyOptions& options,
                                const ReportFn& report) {
  return Applier(stack, backend, options, report).Run();
}

Status ApplyStack(const Stack& stack, const StackTargets& targets,
                  const ReportFn& report) {
  LocalStackBackend backend(targets);
  auto r = ApplyStack(stack, backend, ApplyOptions{}, report);
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace riffle::app
