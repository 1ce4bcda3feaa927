#include "app/stack_apply.h"

#include <fmt/format.h>

#include <future>

#include "functions/service.h"
#include "gateway/read_api.h"
#include "registry/service.h"
#include "streams/service.h"
#include "tables/service.h"

namespace riffle::app {
namespace {

// Waits for an asynchronous registry call.
template <typename T>
Result<T> Wait(std::function<void(registry::Callback<T>)> call) {
  auto p = std::make_shared<std::promise<Result<T>>>();
  auto f = p->get_future();
  call([p](Result<T> r) { p->set_value(std::move(r)); });
  return f.get();
}

Status Context(const Status& s, std::string_view what) {
  return Status(s.code(), fmt::format("{}: {}", what, s.message()));
}

Status ApplySchemas(const Stack& stack, registry::Service& registry,
                    const std::function<void(const std::string&)>& report) {
  for (const StackSchema& s : stack.schemas) {
    std::string what = "schema " + s.subject;
    // Compatibility first: it governs whether the new version is accepted.
    if (s.compatibility) {
      auto level = registry::ParseCompatibilityLevel(*s.compatibility);
      auto current = registry.SubjectCompatibility(s.subject, false);
      if (!current.ok() || *current != *level) {
        auto r = Wait<registry::CompatibilityLevel>([&](auto done) {
          registry.SetCompatibility(s.subject, *level, std::move(done));
        });
        if (!r.ok()) return Context(r.status(), what);
        report(fmt::format("set compatibility of {} to {}", s.subject,
                           *s.compatibility));
      }
    }
    registry::SchemaInput input;
    input.schema = s.schema;
    auto found = registry.Lookup(s.subject, input, false);
    if (found.ok()) {
      report(fmt::format("unchanged: schema {} (version {}, id {})", s.subject,
                         found->version.version, found->version.id));
      continue;
    }
    registry::RegisterRequest request;
    request.subject = s.subject;
    request.input = input;
    auto r = Wait<registry::Service::Registered>(
        [&](auto done) { registry.Register(request, std::move(done)); });
    if (!r.ok()) return Context(r.status(), what);
    report(fmt::format("registered schema {} version {} (id {}) from {}",
                       s.subject, r->version, r->id, s.file.string()));
  }
  return Status::Ok();
}

Status ApplyStreams(const Stack& stack, streams::Service& streams,
                    const std::function<void(const std::string&)>& report) {
  for (const StackStream& s : stack.streams) {
    std::string what = "stream " + s.name;
    auto d = streams.DescribeStream(s.name);
    std::vector<std::string> changes;
    bool created = !d.ok();
    if (!d.ok()) {
      if (d.status().code() != StatusCode::kNotFound)
        return Context(d.status(), what);
      Status c = streams.CreateStream(s.name, s.shards, s.mode, {});
      if (!c.ok()) return Context(c, what);
      d = streams.DescribeStream(s.name);
      if (!d.ok()) return Context(d.status(), what);
    } else {
      if (d->mode != s.mode) {
        Status c = streams.UpdateStreamMode(s.name, s.mode);
        if (!c.ok()) return Context(c, what);
        changes.push_back(fmt::format("mode {}", StreamModeName(s.mode)));
      }
      if (s.shards && s.mode == streams::StreamMode::kProvisioned &&
          d->open_shard_count != *s.shards) {
        auto c = streams.UpdateShardCount(s.name, *s.shards);
        if (!c.ok()) return Context(c.status(), what);
        changes.push_back(
            fmt::format("{} -> {} shards", d->open_shard_count, *s.shards));
      }
    }
    if (d->retention_hours != s.retention_hours) {
      Status c = streams.SetRetention(s.name, s.retention_hours,
                                      s.retention_hours > d->retention_hours);
      if (!c.ok()) return Context(c, what);
      changes.push_back(fmt::format("retention {}h", s.retention_hours));
    }
    if (created) {
      report(fmt::format("created stream {} ({} shards, {}, {}h retention)",
                         s.name, d->open_shard_count,
                         streams::StreamModeName(s.mode), s.retention_hours));
    } else if (!changes.empty()) {
      std::string list;
      for (const std::string& c : changes)
        list += (list.empty() ? "" : ", ") + c;
      report(fmt::format("updated stream {}: {}", s.name, list));
    } else {
      report("unchanged: stream " + s.name);
    }
  }
  return Status::Ok();
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

Status ApplyTables(const Stack& stack, tables::Service& tables,
                   const std::function<void(const std::string&)>& report) {
  for (const StackTable& t : stack.tables) {
    const std::string& name = t.spec.name;
    std::string what = "table " + name;
    auto d = tables.DescribeTable(name);
    std::vector<std::string> changes;
    bool created = false;
    if (!d.ok()) {
      if (d.status().code() != StatusCode::kNotFound)
        return Context(d.status(), what);
      d = tables.CreateTable(t.spec);
      if (!d.ok()) return Context(d.status(), what);
      created = true;
    } else {
      // A key cannot change in place; recreating would drop the items.
      if (!SameKey(d->spec.key, t.spec.key)) {
        return InvalidArgument(fmt::format(
            "{}: exists with key ({}), the stack declares ({}); riffle does "
            "not recreate tables: delete it first",
            what, KeyText(d->spec.key), KeyText(t.spec.key)));
      }
      tables::Service::TableUpdate update;
      for (const tables::IndexSpec& i : t.spec.indexes) {
        const tables::IndexSpec* have = d->FindIndex(i.name);
        if (have) {
          if (!SameKey(have->key, i.key)) {
            return InvalidArgument(fmt::format(
                "{}: index {} exists with key ({}), the stack declares ({}); "
                "delete the index first",
                what, i.name, KeyText(have->key), KeyText(i.key)));
          }
          continue;
        }
        update.create_indexes.push_back(i);
        changes.push_back("added index " + i.name);
      }
      if (!update.create_indexes.empty()) {
        update.attributes = t.spec.attributes;
        auto u = tables.UpdateTable(name, update);
        if (!u.ok()) return Context(u.status(), what);
        d = std::move(u);
      }
    }
    tables::TimeToLive ttl;
    if (t.ttl) ttl = {true, *t.ttl};
    if (d->ttl.enabled != ttl.enabled ||
        (ttl.enabled && d->ttl.attribute != ttl.attribute)) {
      tables::TimeToLive next = ttl;
      if (!ttl.enabled) next.attribute = d->ttl.attribute;
      auto u = tables.UpdateTimeToLive(name, next);
      if (!u.ok()) return Context(u.status(), what);
      changes.push_back(ttl.enabled ? "TTL on " + ttl.attribute : "TTL off");
    }
    if (created) {
      std::string indexes;
      for (const auto& i : t.spec.indexes)
        indexes += (indexes.empty() ? "" : ", ") + i.name;
      report(fmt::format("created table {} (key {}{}{}{})", name,
                         KeyText(t.spec.key),
                         indexes.empty() ? "" : "; indexes ", indexes,
                         t.ttl ? "; TTL on " + *t.ttl : ""));
    } else if (!changes.empty()) {
      std::string list;
      for (const std::string& c : changes)
        list += (list.empty() ? "" : ", ") + c;
      report(fmt::format("updated table {}: {}", name, list));
    } else {
      report("unchanged: table " + name);
    }
  }
  return Status::Ok();
}

Status ApplyFunctions(const Stack& stack, functions::Service& functions,
                      const std::function<void(const std::string&)>& report) {
  for (const StackFunction& f : stack.functions) {
    const std::string& name = f.config.name;
    std::string what = "function " + name;
    functions::FunctionCode code;
    if (f.code) code.directory = f.code->string();
    auto have = functions.GetFunction(name);
    std::vector<std::string> changes;
    if (!have.ok()) {
      if (have.status().code() != StatusCode::kNotFound)
        return Context(have.status(), what);
      auto c = functions.CreateFunction(f.config, code);
      if (!c.ok()) return Context(c.status(), what);
    } else {
      functions::FunctionUpdate u;
      if (have->runtime != f.config.runtime) {
        u.runtime = f.config.runtime;
        changes.push_back("runtime");
      }
      if (have->handler != f.config.handler) {
        u.handler = f.config.handler;
        changes.push_back("handler");
      }
      if (have->description != f.config.description) {
        u.description = f.config.description;
        changes.push_back("description");
      }
      if (have->timeout_seconds != f.config.timeout_seconds) {
        u.timeout_seconds = f.config.timeout_seconds;
        changes.push_back("timeout");
      }
      if (have->memory_mb != f.config.memory_mb) {
        u.memory_mb = f.config.memory_mb;
        changes.push_back("memory");
      }
      if (have->environment != f.config.environment) {
        u.environment = f.config.environment;
        changes.push_back("environment");
      }
      if (!changes.empty()) {
        auto r = functions.UpdateFunctionConfiguration(name, u);
        if (!r.ok()) return Context(r.status(), what);
      }
      // A directory is the user's: riffle runs it in place, so pointing at
      // another directory is the only code change to apply.
      if (f.code &&
          (!have->code_is_external || have->code_dir != f.code->string())) {
        auto r = functions.UpdateFunctionCode(name, code);
        if (!r.ok()) return Context(r.status(), what);
        changes.push_back("code");
      }
    }
    auto now = functions.GetFunction(name);
    if (now.ok() && now->reserved_concurrency != f.concurrency) {
      Status s = functions.PutFunctionConcurrency(name, f.concurrency);
      if (!s.ok()) return Context(s, what);
      changes.push_back("concurrency");
    }
    if (!have.ok()) {
      report(fmt::format("created function {} ({})", name, f.config.runtime));
    } else if (!changes.empty()) {
      std::string list;
      for (const std::string& c : changes)
        list += (list.empty() ? "" : ", ") + c;
      report(fmt::format("updated function {}: {}", name, list));
    } else {
      report("unchanged: function " + name);
    }
  }
  return Status::Ok();
}

Status ApplyMappings(const Stack& stack, streams::Service& streams,
                     functions::Service& functions,
                     const std::function<void(const std::string&)>& report) {
  for (const StackMapping& m : stack.mappings) {
    std::string what =
        fmt::format("mapping {} -> {}", m.stream, m.config.function_name);
    auto source = streams.DescribeStream(m.stream);
    if (!source.ok()) return Context(source.status(), what);
    functions::MappingConfig want = m.config;
    want.event_source_arn = source->arn;
    if (!m.on_failure_stream.empty()) {
      auto dest = streams.DescribeStream(m.on_failure_stream);
      if (!dest.ok()) return Context(dest.status(), what + " (on_failure)");
      want.on_failure_destination = dest->arn;
    }
    auto existing = functions.ListMappings(want.function_name, source->arn);
    if (existing.empty()) {
      auto c = functions.CreateMapping(want);
      if (!c.ok()) return Context(c.status(), what);
      report(fmt::format("created {} (uuid {})", what, c->config.uuid));
      continue;
    }
    const functions::MappingConfig& have = existing.front().config;
    // The starting position only matters at creation (AWS cannot change
    // it either), so it is not compared.
    bool same =
        have.batch_size == want.batch_size &&
        have.maximum_batching_window_seconds ==
            want.maximum_batching_window_seconds &&
        have.parallelization_factor == want.parallelization_factor &&
        have.maximum_retry_attempts == want.maximum_retry_attempts &&
        have.maximum_record_age_seconds == want.maximum_record_age_seconds &&
        have.bisect_batch_on_function_error ==
            want.bisect_batch_on_function_error &&
        have.report_batch_item_failures == want.report_batch_item_failures &&
        have.on_failure_destination == want.on_failure_destination &&
        have.enabled == want.enabled;
    if (same) {
      report("unchanged: " + what);
      continue;
    }
    auto u =
        functions.UpdateMapping(have.uuid, [&](functions::MappingConfig& c) {
          c.batch_size = want.batch_size;
          c.maximum_batching_window_seconds =
              want.maximum_batching_window_seconds;
          c.parallelization_factor = want.parallelization_factor;
          c.maximum_retry_attempts = want.maximum_retry_attempts;
          c.maximum_record_age_seconds = want.maximum_record_age_seconds;
          c.bisect_batch_on_function_error =
              want.bisect_batch_on_function_error;
          c.report_batch_item_failures = want.report_batch_item_failures;
          c.on_failure_destination = want.on_failure_destination;
          c.enabled = want.enabled;
          return Status::Ok();
        });
    if (!u.ok()) return Context(u.status(), what);
    report("updated " + what);
  }
  return Status::Ok();
}

}  // namespace

Status ApplyStack(const Stack& stack, const StackTargets& targets,
                  const std::function<void(const std::string&)>& report) {
  RETURN_IF_ERROR(ApplySchemas(stack, *targets.registry, report));
  RETURN_IF_ERROR(ApplyStreams(stack, *targets.streams, report));
  RETURN_IF_ERROR(ApplyTables(stack, *targets.tables, report));
  RETURN_IF_ERROR(ApplyFunctions(stack, *targets.functions, report));
  RETURN_IF_ERROR(
      ApplyMappings(stack, *targets.streams, *targets.functions, report));
  // Routes live in memory: each start serves the stack's routes.
  if (Status s = targets.read_api->SetConfig(stack.read_api); !s.ok()) {
    return Context(s, "routes");
  }
  for (const gateway::Route& r : stack.read_api.routes) {
    if (r.kind == gateway::RouteKind::kFunction) {
      report(fmt::format("serving route {} {} {} (invokes {})", r.name,
                         r.method, r.path, r.function));
      continue;
    }
    report(fmt::format(
        "serving route {} {} {} ({} on {}{})", r.name, r.method, r.path,
        r.kind == gateway::RouteKind::kGetItem ? "GetItem" : "Query", r.table,
        r.index.empty() ? "" : "." + r.index));
  }
  return Status::Ok();
}

}  // namespace riffle::app
