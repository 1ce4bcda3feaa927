#include "app/remote_stack_backend.h"

#include <fmt/format.h>

#include <cmath>
#include <thread>

#include "app/code_package.h"
#include "app/routes_store.h"
#include "core/base64.h"
#include "json/json.h"

namespace riffle::app {
namespace {

// The outcome of a call whose value is not needed.
template <typename T>
Status ToStatus(const Result<T>& r) {
  return r.ok() ? Status::Ok() : r.status();
}

using json::Value;

std::string Text(const Value& v, std::string_view key) {
  const Value* m = v.Find(key);
  return m != nullptr && m->is_string() ? m->text() : std::string();
}

int64_t Int(const Value& v, std::string_view key, int64_t otherwise) {
  const Value* m = v.Find(key);
  auto n = m != nullptr ? m->AsInt64() : std::nullopt;
  return n ? *n : otherwise;
}

bool Bool(const Value& v, std::string_view key) {
  const Value* m = v.Find(key);
  return m != nullptr && m->is_bool() && m->bool_value();
}

Value Str(std::string_view s) { return Value::String(std::string(s)); }

// A DynamoDB KeySchema with types from AttributeDefinitions.
tables::KeySchema KeyFromJson(const Value* key_schema, const Value* defs) {
  tables::KeySchema key;
  if (key_schema == nullptr || !key_schema->is_array()) return key;
  for (const Value& k : key_schema->items()) {
    tables::KeyElement e;
    e.name = Text(k, "AttributeName");
    if (defs != nullptr && defs->is_array()) {
      for (const Value& d : defs->items()) {
        if (Text(d, "AttributeName") != e.name) continue;
        std::string t = Text(d, "AttributeType");
        e.type = t == "N"   ? tables::AttributeType::kN
                 : t == "B" ? tables::AttributeType::kB
                            : tables::AttributeType::kS;
      }
    }
    if (Text(k, "KeyType") == "RANGE") {
      key.range = e;
    } else {
      key.hash = e;
    }
  }
  return key;
}

Value KeySchemaJson(const tables::KeySchema& key) {
  Value out = Value::Array();
  out.Push(Value::Object()
               .Set("AttributeName", Str(key.hash.name))
               .Set("KeyType", Str("HASH")));
  if (key.range) {
    out.Push(Value::Object()
                 .Set("AttributeName", Str(key.range->name))
                 .Set("KeyType", Str("RANGE")));
  }
  return out;
}

Value AttributesJson(const std::vector<tables::KeyElement>& attributes) {
  Value out = Value::Array();
  for (const tables::KeyElement& a : attributes) {
    out.Push(Value::Object()
                 .Set("AttributeName", Str(a.name))
                 .Set("AttributeType", Str(tables::AttributeTypeName(a.type))));
  }
  return out;
}

Value IndexJson(const tables::IndexSpec& i) {
  Value projection = Value::Object();
  projection.Set("ProjectionType",
                 Str(tables::ProjectionTypeName(i.projection)));
  if (i.projection == tables::ProjectionType::kInclude) {
    Value attrs = Value::Array();
    for (const std::string& a : i.non_key_attributes) attrs.Push(Str(a));
    projection.Set("NonKeyAttributes", std::move(attrs));
  }
  Value out = Value::Object();
  out.Set("IndexName", Str(i.name));
  out.Set("KeySchema", KeySchemaJson(i.key));
  out.Set("Projection", std::move(projection));
  return out;
}

Value EnvironmentJson(const std::map<std::string, std::string>& env) {
  Value vars = Value::Object();
  for (const auto& [k, v] : env) vars.Set(k, Str(v));
  return Value::Object().Set("Variables", std::move(vars));
}

// The options a stack sets on a mapping, as Create- and
// UpdateEventSourceMapping take them. `update`: no filters are sent as
// `FilterCriteria: {}`, which is how an update clears them (a create
// omits the field instead).
void SetMappingOptions(const functions::MappingConfig& m, bool update,
                       Value* out) {
  out->Set("BatchSize", Value::Number(int64_t{m.batch_size}));
  out->Set("MaximumBatchingWindowInSeconds",
           Value::Number(int64_t{m.maximum_batching_window_seconds}));
  out->Set("ParallelizationFactor",
           Value::Number(int64_t{m.parallelization_factor}));
  out->Set("MaximumRetryAttempts",
           Value::Number(int64_t{m.maximum_retry_attempts}));
  out->Set("MaximumRecordAgeInSeconds",
           Value::Number(int64_t{m.maximum_record_age_seconds}));
  out->Set("BisectBatchOnFunctionError",
           Value::Bool(m.bisect_batch_on_function_error));
  Value types = Value::Array();
  if (m.report_batch_item_failures) types.Push(Str("ReportBatchItemFailures"));
  out->Set("FunctionResponseTypes", std::move(types));
  Value on_failure = Value::Object();
  if (!m.on_failure_destination.empty())
    on_failure.Set("Destination", Str(m.on_failure_destination));
  out->Set("DestinationConfig",
           Value::Object().Set("OnFailure", std::move(on_failure)));
  out->Set("TumblingWindowInSeconds",
           Value::Number(int64_t{m.tumbling_window_seconds}));
  if (!m.filter_patterns.empty()) {
    Value filters = Value::Array();
    for (const std::string& p : m.filter_patterns)
      filters.Push(Value::Object().Set("Pattern", Str(p)));
    out->Set("FilterCriteria",
             Value::Object().Set("Filters", std::move(filters)));
  } else if (update) {
    out->Set("FilterCriteria", Value::Object());
  }
  out->Set("Enabled", Value::Bool(m.enabled));
}

functions::MappingConfig MappingFromJson(const Value& v) {
  functions::MappingConfig m;
  m.uuid = Text(v, "UUID");
  m.event_source_arn = Text(v, "EventSourceArn");
  m.batch_size = static_cast<int>(Int(v, "BatchSize", 100));
  m.maximum_batching_window_seconds =
      static_cast<int>(Int(v, "MaximumBatchingWindowInSeconds", 0));
  m.parallelization_factor =
      static_cast<int>(Int(v, "ParallelizationFactor", 1));
  m.maximum_retry_attempts =
      static_cast<int>(Int(v, "MaximumRetryAttempts", -1));
  m.maximum_record_age_seconds =
      static_cast<int>(Int(v, "MaximumRecordAgeInSeconds", -1));
  m.bisect_batch_on_function_error = Bool(v, "BisectBatchOnFunctionError");
  if (const Value* types = v.Find("FunctionResponseTypes");
      types != nullptr && types->is_array()) {
    for (const Value& t : types->items())
      m.report_batch_item_failures |=
          t.is_string() && t.text() == "ReportBatchItemFailures";
  }
  if (const Value* d = v.Find("DestinationConfig"); d && d->is_object()) {
    if (const Value* f = d->Find("OnFailure"); f && f->is_object())
      m.on_failure_destination = Text(*f, "Destination");
  }
  m.tumbling_window_seconds =
      static_cast<int>(Int(v, "TumblingWindowInSeconds", 0));
  if (const Value* c = v.Find("FilterCriteria"); c && c->is_object()) {
    if (const Value* list = c->Find("Filters"); list && list->is_array()) {
      for (const Value& f : list->items())
        if (f.is_object()) m.filter_patterns.push_back(Text(f, "Pattern"));
    }
  }
  if (auto p = functions::ParseStartingPosition(Text(v, "StartingPosition")))
    m.starting_position = *p;
  if (const Value* ts = v.Find("StartingPositionTimestamp");
      ts && ts->is_number()) {
    // Rounded, so that the milliseconds sent come back equal.
    m.starting_position_timestamp_ms =
        std::llround(ts->AsDouble().value_or(0) * 1000);
  }
  std::string state = Text(v, "State");
  m.enabled = state != "Disabled" && state != "Disabling";
  return m;
}

}  // namespace

RemoteStackBackend::RemoteStackBackend(RemoteTargets targets)
    : t_(std::move(targets)),
      kinesis_(client::NewKinesisClient(t_.aws)),
      dynamo_(client::NewDynamoDbClient(t_.aws)),
      lambda_(std::make_unique<client::LambdaClient>(t_.aws)),
      registry_(std::make_unique<client::RegistryClient>(t_.registry)),
      http_(std::make_unique<http::Client>(t_.http)) {}

RemoteStackBackend::~RemoteStackBackend() = default;

std::string RemoteStackBackend::Describe() const {
  return fmt::format("{} (registry {})", t_.aws_url, t_.registry_url);
}

Status RemoteStackBackend::WaitUntil(
    const std::string& what, const std::function<Result<bool>()>& ready) {
  auto deadline = std::chrono::steady_clock::now() + t_.wait_timeout;
  auto pause = std::chrono::milliseconds(50);
  while (true) {
    ASSIGN_OR_RETURN(bool done, ready());
    if (done) return Status::Ok();
    if (std::chrono::steady_clock::now() + pause > deadline) {
      return DeadlineExceeded(fmt::format(
          "{} did not become ready within {}s", what,
          std::chrono::duration_cast<std::chrono::seconds>(t_.wait_timeout)
              .count()));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(5000));
  }
}

Result<json::Value> RemoteStackBackend::Kinesis(std::string_view op,
                                                const Value& body) {
  return kinesis_->Call(op, body);
}

Result<json::Value> RemoteStackBackend::Dynamo(std::string_view op,
                                               const Value& body) {
  return dynamo_->Call(op, body);
}

Result<json::Value> RemoteStackBackend::Lambda(std::string_view method,
                                               const std::string& target,
                                               const Value& body) {
  return lambda_->Call(method, target, body);
}

// --- registry --------------------------------------------------------------

Result<std::optional<std::string>> RemoteStackBackend::SubjectCompatibility(
    const std::string& subject) {
  auto level = registry_->GetCompatibility(subject);
  if (!level.ok()) {
    if (level.status().code() == StatusCode::kNotFound)
      return std::optional<std::string>();
    return level.status();
  }
  return std::optional<std::string>(*level);
}

Status RemoteStackBackend::SetSubjectCompatibility(const std::string& subject,
                                                   const std::string& level) {
  return registry_->SetCompatibility(subject, level);
}

Result<std::optional<SchemaRef>> RemoteStackBackend::LookupSchema(
    const std::string& subject, const std::string& schema) {
  auto found = registry_->Lookup(subject, schema);
  if (!found.ok()) {
    if (found.status().code() == StatusCode::kNotFound)
      return std::optional<SchemaRef>();
    return found.status();
  }
  return std::optional<SchemaRef>(SchemaRef{found->version, found->id});
}

Result<SchemaRef> RemoteStackBackend::RegisterSchema(
    const std::string& subject, const std::string& schema) {
  ASSIGN_OR_RETURN(client::RegisteredSchema r,
                   registry_->Register(subject, schema));
  // Registering answers the id only; the version comes from a lookup.
  auto found = registry_->Lookup(subject, schema);
  return SchemaRef{found.ok() ? found->version : 0, r.id};
}

Result<std::vector<std::string>> RemoteStackBackend::TestCompatibility(
    const std::string& subject, const std::string& schema) {
  return registry_->TestCompatibility(subject, schema);
}

// --- streams ---------------------------------------------------------------

Result<std::optional<StreamState>> RemoteStackBackend::DescribeStream(
    const std::string& name) {
  auto r = Kinesis("DescribeStreamSummary",
                   Value::Object().Set("StreamName", Str(name)));
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kNotFound)
      return std::optional<StreamState>();
    return r.status();
  }
  const Value* d = r->Find("StreamDescriptionSummary");
  if (d == nullptr) return Unavailable("DescribeStreamSummary: no summary");
  StreamState s;
  s.arn = Text(*d, "StreamARN");
  if (const Value* m = d->Find("StreamModeDetails"); m && m->is_object())
    if (Text(*m, "StreamMode") == "ON_DEMAND")
      s.mode = streams::StreamMode::kOnDemand;
  s.open_shards = static_cast<int>(Int(*d, "OpenShardCount", 0));
  s.retention_hours = static_cast<int>(Int(*d, "RetentionPeriodHours", 24));
  return std::optional<StreamState>(std::move(s));
}

Status RemoteStackBackend::WaitStreamActive(const std::string& name) {
  return WaitUntil("stream " + name, [&]() -> Result<bool> {
    ASSIGN_OR_RETURN(Value r,
                     Kinesis("DescribeStreamSummary",
                             Value::Object().Set("StreamName", Str(name))));
    const Value* d = r.Find("StreamDescriptionSummary");
    return d != nullptr && Text(*d, "StreamStatus") == "ACTIVE";
  });
}

Status RemoteStackBackend::CreateStream(const StackStream& s) {
  Value body = Value::Object();
  body.Set("StreamName", Str(s.name));
  if (s.shards) body.Set("ShardCount", Value::Number(int64_t{*s.shards}));
  body.Set(
      "StreamModeDetails",
      Value::Object().Set("StreamMode", Str(streams::StreamModeName(s.mode))));
  RETURN_IF_ERROR(ToStatus(Kinesis("CreateStream", body)));
  return WaitStreamActive(s.name);
}

Status RemoteStackBackend::UpdateStreamMode(const std::string& name,
                                            streams::StreamMode mode) {
  ASSIGN_OR_RETURN(auto d, DescribeStream(name));
  if (!d) return NotFound("stream " + name + " does not exist");
  Value body = Value::Object();
  body.Set("StreamARN", Str(d->arn));
  body.Set(
      "StreamModeDetails",
      Value::Object().Set("StreamMode", Str(streams::StreamModeName(mode))));
  RETURN_IF_ERROR(ToStatus(Kinesis("UpdateStreamMode", body)));
  return WaitStreamActive(name);
}

Status RemoteStackBackend::UpdateShardCount(const std::string& name,
                                            int target) {
  // AWS scales by at most a factor of two per call, so larger changes go
  // in steps, each waited for.
  while (true) {
    ASSIGN_OR_RETURN(auto d, DescribeStream(name));
    if (!d) return NotFound("stream " + name + " does not exist");
    int now = d->open_shards;
    if (now == target || now == 0) return Status::Ok();
    int step = std::clamp(target, (now + 1) / 2, now * 2);
    Value body = Value::Object();
    body.Set("StreamName", Str(name));
    body.Set("TargetShardCount", Value::Number(int64_t{step}));
    body.Set("ScalingType", Str("UNIFORM_SCALING"));
    RETURN_IF_ERROR(ToStatus(Kinesis("UpdateShardCount", body)));
    RETURN_IF_ERROR(WaitStreamActive(name));
  }
}

Status RemoteStackBackend::SetRetention(const std::string& name, int hours,
                                        bool increase) {
  Value body = Value::Object();
  body.Set("StreamName", Str(name));
  body.Set("RetentionPeriodHours", Value::Number(int64_t{hours}));
  RETURN_IF_ERROR(ToStatus(Kinesis(increase ? "IncreaseStreamRetentionPeriod"
                                            : "DecreaseStreamRetentionPeriod",
                                   body)));
  return WaitStreamActive(name);
}

// --- tables ----------------------------------------------------------------

Result<std::optional<TableState>> RemoteStackBackend::DescribeTable(
    const std::string& name) {
  auto r = Dynamo("DescribeTable", Value::Object().Set("TableName", Str(name)));
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kNotFound)
      return std::optional<TableState>();
    return r.status();
  }
  const Value* t = r->Find("Table");
  if (t == nullptr) return Unavailable("DescribeTable: no Table");
  const Value* defs = t->Find("AttributeDefinitions");
  TableState s;
  s.key = KeyFromJson(t->Find("KeySchema"), defs);
  for (const char* kind : {"GlobalSecondaryIndexes", "LocalSecondaryIndexes"}) {
    const Value* list = t->Find(kind);
    if (list == nullptr || !list->is_array()) continue;
    for (const Value& i : list->items()) {
      tables::IndexSpec spec;
      spec.name = Text(i, "IndexName");
      spec.local = std::string_view(kind) == "LocalSecondaryIndexes";
      spec.key = KeyFromJson(i.Find("KeySchema"), defs);
      s.indexes.push_back(std::move(spec));
    }
  }
  ASSIGN_OR_RETURN(Value ttl,
                   Dynamo("DescribeTimeToLive",
                          Value::Object().Set("TableName", Str(name))));
  if (const Value* d = ttl.Find("TimeToLiveDescription"); d && d->is_object()) {
    std::string status = Text(*d, "TimeToLiveStatus");
    s.ttl.enabled = status == "ENABLED" || status == "ENABLING";
    s.ttl.attribute = Text(*d, "AttributeName");
  }
  return std::optional<TableState>(std::move(s));
}

Status RemoteStackBackend::WaitTableActive(const std::string& name,
                                           const std::string& index) {
  std::string what = "table " + name + (index.empty() ? "" : " index " + index);
  return WaitUntil(what, [&]() -> Result<bool> {
    ASSIGN_OR_RETURN(
        Value r,
        Dynamo("DescribeTable", Value::Object().Set("TableName", Str(name))));
    const Value* t = r.Find("Table");
    if (t == nullptr || Text(*t, "TableStatus") != "ACTIVE") return false;
    if (index.empty()) return true;
    const Value* list = t->Find("GlobalSecondaryIndexes");
    if (list == nullptr || !list->is_array()) return false;
    for (const Value& i : list->items()) {
      if (Text(i, "IndexName") == index)
        return Text(i, "IndexStatus") == "ACTIVE";
    }
    return false;
  });
}

Status RemoteStackBackend::CreateTable(const tables::TableSpec& spec) {
  Value body = Value::Object();
  body.Set("TableName", Str(spec.name));
  body.Set("AttributeDefinitions", AttributesJson(spec.attributes));
  body.Set("KeySchema", KeySchemaJson(spec.key));
  body.Set("BillingMode", Str(spec.billing_mode));
  Value gsis = Value::Array();
  Value lsis = Value::Array();
  for (const tables::IndexSpec& i : spec.indexes)
    (i.local ? lsis : gsis).Push(IndexJson(i));
  if (!gsis.items().empty())
    body.Set("GlobalSecondaryIndexes", std::move(gsis));
  if (!lsis.items().empty()) body.Set("LocalSecondaryIndexes", std::move(lsis));
  RETURN_IF_ERROR(ToStatus(Dynamo("CreateTable", body)));
  return WaitTableActive(spec.name, "");
}

Status RemoteStackBackend::AddIndexes(
    const std::string& table, const std::vector<tables::KeyElement>& attributes,
    const std::vector<tables::IndexSpec>& indexes) {
  // AWS creates one index per UpdateTable call.
  for (const tables::IndexSpec& i : indexes) {
    Value body = Value::Object();
    body.Set("TableName", Str(table));
    body.Set("AttributeDefinitions", AttributesJson(attributes));
    body.Set("GlobalSecondaryIndexUpdates",
             Value::Array().Push(Value::Object().Set("Create", IndexJson(i))));
    RETURN_IF_ERROR(ToStatus(Dynamo("UpdateTable", body)));
    RETURN_IF_ERROR(WaitTableActive(table, i.name));
  }
  return Status::Ok();
}

Status RemoteStackBackend::UpdateTimeToLive(const std::string& table,
                                            const tables::TimeToLive& ttl) {
  Value body = Value::Object();
  body.Set("TableName", Str(table));
  body.Set("TimeToLiveSpecification",
           Value::Object()
               .Set("Enabled", Value::Bool(ttl.enabled))
               .Set("AttributeName", Str(ttl.attribute)));
  return ToStatus(Dynamo("UpdateTimeToLive", body));
}

// --- functions -------------------------------------------------------------

Result<CodePackage> RemoteStackBackend::PackageCode(
    const std::filesystem::path& dir) {
  CodePackage p;
  ASSIGN_OR_RETURN(p.zip, ZipDirectory(dir));
  p.sha256 = Sha256Base64(p.zip);
  return p;
}

namespace {

std::string FunctionPath(const std::string& name) {
  return "/2015-03-31/functions/" + http::UriEncode(name);
}

}  // namespace

Result<std::optional<functions::FunctionConfig>>
RemoteStackBackend::GetFunction(const std::string& name) {
  auto r = Lambda("GET", FunctionPath(name));
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kNotFound)
      return std::optional<functions::FunctionConfig>();
    return r.status();
  }
  const Value* c = r->Find("Configuration");
  if (c == nullptr) return Unavailable("GetFunction: no Configuration");
  functions::FunctionConfig f;
  f.name = Text(*c, "FunctionName");
  f.runtime = Text(*c, "Runtime");
  f.handler = Text(*c, "Handler");
  f.description = Text(*c, "Description");
  f.timeout_seconds = static_cast<int>(Int(*c, "Timeout", 3));
  f.memory_mb = static_cast<int>(Int(*c, "MemorySize", 128));
  f.code_sha256 = Text(*c, "CodeSha256");
  if (const Value* env = c->Find("Environment"); env && env->is_object()) {
    if (const Value* vars = env->Find("Variables"); vars && vars->is_object())
      for (const auto& [k, v] : vars->members())
        if (v.is_string()) f.environment[k] = v.text();
  }
  if (const Value* cc = r->Find("Concurrency"); cc && cc->is_object()) {
    if (const Value* n = cc->Find("ReservedConcurrentExecutions"); n)
      if (auto v = n->AsInt64()) f.reserved_concurrency = static_cast<int>(*v);
  }
  return std::optional<functions::FunctionConfig>(std::move(f));
}

Status RemoteStackBackend::WaitFunctionReady(const std::string& name) {
  return WaitUntil("function " + name, [&]() -> Result<bool> {
    ASSIGN_OR_RETURN(Value c,
                     Lambda("GET", FunctionPath(name) + "/configuration"));
    std::string state = Text(c, "State");
    std::string update = Text(c, "LastUpdateStatus");
    if (state == "Failed" || update == "Failed") {
      return FailedPrecondition(fmt::format("function {} failed: {}{}", name,
                                            Text(c, "StateReason"),
                                            Text(c, "LastUpdateStatusReason")));
    }
    return (state.empty() || state == "Active") && update != "InProgress";
  });
}

Status RemoteStackBackend::CreateFunction(
    const functions::FunctionConfig& config, const CodePackage* code) {
  Value body = Value::Object();
  body.Set("FunctionName", Str(config.name));
  body.Set("Runtime", Str(config.runtime));
  body.Set("Role", Str(config.role.empty() ? t_.role : config.role));
  body.Set("Handler", Str(config.handler));
  body.Set("Description", Str(config.description));
  body.Set("Timeout", Value::Number(int64_t{config.timeout_seconds}));
  body.Set("MemorySize", Value::Number(int64_t{config.memory_mb}));
  body.Set("Environment", EnvironmentJson(config.environment));
  body.Set("PackageType", Str("Zip"));
  // Built-in runtimes take no code, but the API wants a Code member.
  Value c = Value::Object();
  if (code != nullptr) c.Set("ZipFile", Str(base64::Encode(code->zip)));
  body.Set("Code", std::move(c));
  RETURN_IF_ERROR(ToStatus(Lambda("POST", "/2015-03-31/functions", body)));
  return WaitFunctionReady(config.name);
}

Status RemoteStackBackend::UpdateFunctionConfiguration(
    const std::string& name, const functions::FunctionUpdate& u) {
  Value body = Value::Object();
  if (u.runtime) body.Set("Runtime", Str(*u.runtime));
  if (u.handler) body.Set("Handler", Str(*u.handler));
  if (u.description) body.Set("Description", Str(*u.description));
  if (u.timeout_seconds)
    body.Set("Timeout", Value::Number(int64_t{*u.timeout_seconds}));
  if (u.memory_mb) body.Set("MemorySize", Value::Number(int64_t{*u.memory_mb}));
  if (u.environment) body.Set("Environment", EnvironmentJson(*u.environment));
  RETURN_IF_ERROR(
      ToStatus(Lambda("PUT", FunctionPath(name) + "/configuration", body)));
  return WaitFunctionReady(name);
}

Status RemoteStackBackend::UpdateFunctionCode(const std::string& name,
                                              const CodePackage& code) {
  Value body = Value::Object().Set("ZipFile", Str(base64::Encode(code.zip)));
  RETURN_IF_ERROR(ToStatus(Lambda("PUT", FunctionPath(name) + "/code", body)));
  return WaitFunctionReady(name);
}

Status RemoteStackBackend::PutFunctionConcurrency(const std::string& name,
                                                  std::optional<int> reserved) {
  std::string path =
      "/2017-10-31/functions/" + http::UriEncode(name) + "/concurrency";
  if (!reserved) return ToStatus(Lambda("DELETE", path));
  return ToStatus(
      Lambda("PUT", path,
             Value::Object().Set("ReservedConcurrentExecutions",
                                 Value::Number(int64_t{*reserved}))));
}

// --- mappings --------------------------------------------------------------

Result<std::optional<functions::MappingConfig>> RemoteStackBackend::FindMapping(
    const std::string& function, const std::string& source_arn) {
  ASSIGN_OR_RETURN(
      Value r,
      Lambda("GET", "/2015-03-31/event-source-mappings?FunctionName=" +
                        http::UriEncode(function) +
                        "&EventSourceArn=" + http::UriEncode(source_arn)));
  const Value* list = r.Find("EventSourceMappings");
  if (list == nullptr || !list->is_array() || list->items().empty())
    return std::optional<functions::MappingConfig>();
  functions::MappingConfig m = MappingFromJson(list->items().front());
  m.function_name = function;
  return std::optional<functions::MappingConfig>(std::move(m));
}

Status RemoteStackBackend::WaitMappingSettled(const std::string& uuid) {
  return WaitUntil("mapping " + uuid, [&]() -> Result<bool> {
    ASSIGN_OR_RETURN(Value m,
                     Lambda("GET", "/2015-03-31/event-source-mappings/" +
                                       http::UriEncode(uuid)));
    std::string state = Text(m, "State");
    return state != "Creating" && state != "Updating" && state != "Enabling" &&
           state != "Disabling";
  });
}

Result<std::string> RemoteStackBackend::CreateMapping(
    const functions::MappingConfig& m) {
  Value body = Value::Object();
  body.Set("FunctionName", Str(m.function_name));
  body.Set("EventSourceArn", Str(m.event_source_arn));
  body.Set("StartingPosition",
           Str(functions::StartingPositionName(m.starting_position)));
  if (m.starting_position == functions::StartingPosition::kAtTimestamp) {
    // Seconds since the epoch, as Lambda's JSON takes a timestamp.
    body.Set(
        "StartingPositionTimestamp",
        Value::Number(static_cast<double>(m.starting_position_timestamp_ms) /
                      1000.0));
  }
  SetMappingOptions(m, /*update=*/false, &body);
  ASSIGN_OR_RETURN(Value r,
                   Lambda("POST", "/2015-03-31/event-source-mappings", body));
  std::string uuid = Text(r, "UUID");
  RETURN_IF_ERROR(WaitMappingSettled(uuid));
  return uuid;
}

Status RemoteStackBackend::UpdateMapping(const functions::MappingConfig& m) {
  Value body = Value::Object();
  SetMappingOptions(m, /*update=*/true, &body);
  RETURN_IF_ERROR(ToStatus(Lambda(
      "PUT", "/2015-03-31/event-source-mappings/" + http::UriEncode(m.uuid),
      body)));
  return WaitMappingSettled(m.uuid);
}

// --- routes ----------------------------------------------------------------

Result<http::ClientResponse> RemoteStackBackend::Routes(std::string_view method,
                                                        std::string_view body) {
  std::vector<http::Header> headers = {{"content-type", "application/json"}};
  auto r = http_->Send(method, kRoutesPath, headers, body);
  if (!r.ok()) {
    return Status(r.status().code(),
                  fmt::format("routes endpoint {}{}: {}", t_.http_url,
                              kRoutesPath, r.status().message()));
  }
  if (r->status == 404) {
    return FailedPrecondition(fmt::format(
        "{} has no routes endpoint ({}): routes apply to a riffle server's "
        "http port (--http)",
        t_.http_url, kRoutesPath));
  }
  if (r->status != 200) {
    std::string message = r->body;
    if (auto j = json::Parse(r->body); j.ok() && j->is_object())
      message = Text(*j, "message");
    return Status(r->status == 400 ? StatusCode::kInvalidArgument
                                   : StatusCode::kUnavailable,
                  fmt::format("{} {}: {}", method, kRoutesPath, message));
  }
  return r;
}

Result<std::string> RemoteStackBackend::RoutesDocument() {
  ASSIGN_OR_RETURN(http::ClientResponse r, Routes("GET", ""));
  std::string doc = r.body;
  while (!doc.empty() && (doc.back() == '\n' || doc.back() == ' '))
    doc.pop_back();
  return doc == "{}" ? std::string() : doc;
}

Status RemoteStackBackend::SetRoutes(const Stack& stack) {
  return ToStatus(Routes("PUT", stack.routes_document));
}

}  // namespace riffle::app
