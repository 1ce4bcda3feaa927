#include "functions/function_config.h"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <ctime>

#include "core/base64.h"
#include "core/clock.h"
#include "functions/native_runtime.h"

namespace riffle::functions {
namespace {

std::string GetString(const json::Value& v, std::string_view key) {
  const json::Value* m = v.Find(key);
  return m && m->is_string() ? m->text() : std::string();
}

int64_t GetInt(const json::Value& v, std::string_view key, int64_t fallback) {
  const json::Value* m = v.Find(key);
  if (!m || !m->is_number()) return fallback;
  return m->AsInt64().value_or(fallback);
}

bool GetBool(const json::Value& v, std::string_view key, bool fallback) {
  const json::Value* m = v.Find(key);
  return m && m->is_bool() ? m->bool_value() : fallback;
}

json::Value StringMap(const std::map<std::string, std::string>& m) {
  json::Value o = json::Value::Object();
  for (const auto& [k, v] : m) o.Set(k, json::Value::String(v));
  return o;
}

std::map<std::string, std::string> GetStringMap(const json::Value& v,
                                                std::string_view key) {
  std::map<std::string, std::string> out;
  const json::Value* m = v.Find(key);
  if (!m || !m->is_object()) return out;
  for (const auto& [k, val] : m->members())
    if (val.is_string()) out[k] = val.text();
  return out;
}

}  // namespace

Status ValidateFunctionConfig(const FunctionConfig& c) {
  if (!RuntimeKindOf(c.runtime)) {
    return InvalidArgument(fmt::format(
        "Value {} at 'runtime' failed to satisfy constraint: riffle runs "
        "provided.al2, provided.al2023, nodejs18.x, nodejs20.x, nodejs22.x, "
        "riffle:native and riffle:avro-to-table",
        c.runtime));
  }
  if (c.timeout_seconds < 1 || c.timeout_seconds > 900)
    return InvalidArgument(fmt::format(
        "1 validation error detected: Value '{}' at 'timeout' failed to "
        "satisfy constraint: Member must have value between 1 and 900",
        c.timeout_seconds));
  if (c.memory_mb < 128 || c.memory_mb > 10240)
    return InvalidArgument(fmt::format(
        "1 validation error detected: Value '{}' at 'memorySize' failed to "
        "satisfy constraint: Member must have value between 128 and 10240",
        c.memory_mb));
  if (RuntimeKindOf(c.runtime) == RuntimeKind::kNode && c.handler.empty())
    return InvalidArgument("Handler is required for runtime " + c.runtime);
  if (RuntimeKindOf(c.runtime) == RuntimeKind::kNative)
    RETURN_IF_ERROR(ParseNativeHandler(c.handler).status());
  return Status::Ok();
}

std::optional<RuntimeKind> RuntimeKindOf(std::string_view runtime) {
  if (runtime == "provided.al2" || runtime == "provided.al2023" ||
      runtime == "provided")
    return RuntimeKind::kProvided;
  if (runtime == "nodejs18.x" || runtime == "nodejs20.x" ||
      runtime == "nodejs22.x")
    return RuntimeKind::kNode;
  if (runtime == kAvroToTableRuntime) return RuntimeKind::kAvroToTable;
  if (runtime == kNativeRuntime) return RuntimeKind::kNative;
  return std::nullopt;
}

std::string FunctionArn(const ArnContext& ctx, std::string_view name) {
  return fmt::format("arn:aws:lambda:{}:{}:function:{}", ctx.region,
                     ctx.account_id, name);
}

bool IsValidFunctionName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Result<std::string> ParseFunctionName(std::string_view s) {
  // Split on ':' and find the part after "function".
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t colon = s.find(':', start);
    parts.push_back(s.substr(start, colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  std::string_view name;
  std::string_view qualifier;
  if (parts.size() == 1) {
    name = parts[0];
  } else if (parts.size() == 2) {  // name:qualifier
    name = parts[0];
    qualifier = parts[1];
  } else if (parts.size() >= 3 && parts.size() <= 4 && parts[1] == "function") {
    name = parts[2];  // account:function:name[:qualifier]
    if (parts.size() == 4) qualifier = parts[3];
  } else if (parts.size() >= 7 && parts.size() <= 8 && parts[0] == "arn" &&
             parts[2] == "lambda" && parts[5] == "function") {
    name = parts[6];
    if (parts.size() == 8) qualifier = parts[7];
  } else {
    return InvalidArgument(fmt::format(
        "1 validation error detected: Value '{}' at 'functionName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
        "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?("
        "\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+"
        ")"
        ")?",
        s));
  }
  if (!qualifier.empty() && qualifier != "$LATEST") {
    return NotFound(fmt::format(
        "Function not found: {} (riffle keeps only $LATEST; versions and "
        "aliases are not supported)",
        s));
  }
  if (!IsValidFunctionName(name)) {
    return InvalidArgument(fmt::format(
        "1 validation error detected: Value '{}' at 'functionName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern",
        s));
  }
  return std::string(name);
}

std::string LambdaTimestamp(int64_t millis) {
  return FormatUtc(millis, FractionDigits::kMillis, "+0000");
}
std::string Sha256Base64(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest);
  return base64::Encode(
      std::string_view(reinterpret_cast<char*>(digest), sizeof digest));
}

std::string IsoTimestamp(int64_t millis) {
  return FormatUtc(millis, FractionDigits::kMillis, "Z");
}

json::Value FunctionConfigurationJson(const FunctionConfig& c,
                                      const ArnContext& ctx) {
  using json::Value;
  Value o = Value::Object();
  o.Set("FunctionName", Value::String(c.name));
  o.Set("FunctionArn", Value::String(FunctionArn(ctx, c.name)));
  o.Set("Runtime", Value::String(c.runtime));
  o.Set("Role", Value::String(c.role));
  o.Set("Handler", Value::String(c.handler));
  o.Set("CodeSize", Value::Number(c.code_size));
  o.Set("Description", Value::String(c.description));
  o.Set("Timeout", Value::Number(static_cast<int64_t>(c.timeout_seconds)));
  o.Set("MemorySize", Value::Number(static_cast<int64_t>(c.memory_mb)));
  o.Set("LastModified", Value::String(c.last_modified));
  o.Set("CodeSha256", Value::String(c.code_sha256));
  o.Set("Version", Value::String("$LATEST"));
  if (!c.environment.empty()) {
    o.Set("Environment",
          Value::Object().Set("Variables", StringMap(c.environment)));
  }
  o.Set("TracingConfig",
        Value::Object().Set("Mode", Value::String("PassThrough")));
  o.Set("RevisionId", Value::String(c.revision_id));
  o.Set("State", Value::String("Active"));
  o.Set("LastUpdateStatus", Value::String("Successful"));
  o.Set("PackageType", Value::String("Zip"));
  o.Set("Architectures", Value::Array().Push(Value::String("x86_64")));
  o.Set("EphemeralStorage",
        Value::Object().Set("Size", Value::Number(int64_t{512})));
  o.Set("SnapStart", Value::Object()
                         .Set("ApplyOn", Value::String("None"))
                         .Set("OptimizationStatus", Value::String("Off")));
  o.Set("LoggingConfig",
        Value::Object()
            .Set("LogFormat", Value::String("Text"))
            .Set("LogGroup", Value::String("/aws/lambda/" + c.name)));
  return o;
}

json::Value ToStoredJson(const FunctionConfig& c) {
  using json::Value;
  Value o = Value::Object();
  o.Set("name", Value::String(c.name));
  o.Set("runtime", Value::String(c.runtime));
  o.Set("handler", Value::String(c.handler));
  o.Set("role", Value::String(c.role));
  o.Set("description", Value::String(c.description));
  o.Set("timeout_seconds", Value::Number(int64_t{c.timeout_seconds}));
  o.Set("memory_mb", Value::Number(int64_t{c.memory_mb}));
  o.Set("environment", StringMap(c.environment));
  o.Set("tags", StringMap(c.tags));
  if (c.reserved_concurrency)
    o.Set("reserved_concurrency",
          Value::Number(int64_t{*c.reserved_concurrency}));
  o.Set("code_dir", Value::String(c.code_dir));
  o.Set("code_is_external", Value::Bool(c.code_is_external));
  o.Set("code_size", Value::Number(c.code_size));
  o.Set("code_sha256", Value::String(c.code_sha256));
  o.Set("last_modified", Value::String(c.last_modified));
  o.Set("revision_id", Value::String(c.revision_id));
  return o;
}

Result<FunctionConfig> FunctionFromStoredJson(const json::Value& v) {
  if (!v.is_object()) return DataLoss("function metadata is not an object");
  FunctionConfig c;
  c.name = GetString(v, "name");
  if (!IsValidFunctionName(c.name))
    return DataLoss("function metadata has a bad name");
  c.runtime = GetString(v, "runtime");
  c.handler = GetString(v, "handler");
  c.role = GetString(v, "role");
  c.description = GetString(v, "description");
  c.timeout_seconds = static_cast<int>(GetInt(v, "timeout_seconds", 3));
  c.memory_mb = static_cast<int>(GetInt(v, "memory_mb", 128));
  c.environment = GetStringMap(v, "environment");
  c.tags = GetStringMap(v, "tags");
  if (v.Find("reserved_concurrency"))
    c.reserved_concurrency =
        static_cast<int>(GetInt(v, "reserved_concurrency", 0));
  c.code_dir = GetString(v, "code_dir");
  c.code_is_external = GetBool(v, "code_is_external", false);
  c.code_size = GetInt(v, "code_size", 0);
  c.code_sha256 = GetString(v, "code_sha256");
  c.last_modified = GetString(v, "last_modified");
  c.revision_id = GetString(v, "revision_id");
  return c;
}

std::string_view StartingPositionName(StartingPosition p) {
  switch (p) {
    case StartingPosition::kTrimHorizon:
      return "TRIM_HORIZON";
    case StartingPosition::kLatest:
      return "LATEST";
    case StartingPosition::kAtTimestamp:
      return "AT_TIMESTAMP";
  }
  return "LATEST";
}

std::optional<StartingPosition> ParseStartingPosition(std::string_view s) {
  if (s == "TRIM_HORIZON") return StartingPosition::kTrimHorizon;
  if (s == "LATEST") return StartingPosition::kLatest;
  if (s == "AT_TIMESTAMP") return StartingPosition::kAtTimestamp;
  return std::nullopt;
}

Result<std::string> StreamNameFromArn(std::string_view arn) {
  // arn:aws:kinesis:us-east-1:000000000000:stream/name
  constexpr std::string_view kPrefix = "arn:aws:kinesis:";
  size_t slash = arn.find(":stream/");
  if (arn.substr(0, kPrefix.size()) != kPrefix ||
      slash == std::string_view::npos || slash + 8 >= arn.size()) {
    return InvalidArgument(fmt::format(
        "Unsupported event source ARN {}: riffle reads Kinesis stream ARNs "
        "(arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)",
        arn));
  }
  return std::string(arn.substr(slash + 8));
}

json::Value MappingConfigurationJson(const MappingConfig& m,
                                     const ArnContext& ctx,
                                     std::string_view state,
                                     std::string_view last_result) {
  using json::Value;
  Value o = Value::Object();
  o.Set("UUID", Value::String(m.uuid));
  o.Set("StartingPosition",
        Value::String(std::string(StartingPositionName(m.starting_position))));
  if (m.starting_position == StartingPosition::kAtTimestamp) {
    o.Set("StartingPositionTimestamp",
          Value::Number(static_cast<double>(m.starting_position_timestamp_ms) /
                        1000.0));
  }
  o.Set("BatchSize", Value::Number(int64_t{m.batch_size}));
  o.Set("MaximumBatchingWindowInSeconds",
        Value::Number(int64_t{m.maximum_batching_window_seconds}));
  o.Set("ParallelizationFactor",
        Value::Number(int64_t{m.parallelization_factor}));
  o.Set("EventSourceArn", Value::String(m.event_source_arn));
  o.Set("FunctionArn", Value::String(FunctionArn(ctx, m.function_name)));
  o.Set("LastModified",
        Value::Number(static_cast<double>(m.last_modified_ms) / 1000.0));
  o.Set("LastProcessingResult", Value::String(std::string(last_result)));
  o.Set("State", Value::String(std::string(state)));
  o.Set("StateTransitionReason", Value::String("User action"));
  Value dest = Value::Object();
  if (!m.on_failure_destination.empty()) {
    dest.Set("OnFailure",
             Value::Object().Set("Destination",
                                 Value::String(m.on_failure_destination)));
  } else {
    dest.Set("OnFailure", Value::Object());
  }
  o.Set("DestinationConfig", std::move(dest));
  o.Set("MaximumRecordAgeInSeconds",
        Value::Number(int64_t{m.maximum_record_age_seconds}));
  o.Set("BisectBatchOnFunctionError",
        Value::Bool(m.bisect_batch_on_function_error));
  o.Set("MaximumRetryAttempts",
        Value::Number(int64_t{m.maximum_retry_attempts}));
  o.Set("TumblingWindowInSeconds",
        Value::Number(int64_t{m.tumbling_window_seconds}));
  if (!m.filter_patterns.empty()) {
    Value filters = Value::Array();
    for (const std::string& p : m.filter_patterns)
      filters.Push(Value::Object().Set("Pattern", Value::String(p)));
    o.Set("FilterCriteria", Value::Object().Set("Filters", std::move(filters)));
  }
  Value types = Value::Array();
  if (m.report_batch_item_failures)
    types.Push(Value::String("ReportBatchItemFailures"));
  o.Set("FunctionResponseTypes", std::move(types));
  return o;
}

json::Value ToStoredJson(const MappingConfig& m) {
  using json::Value;
  Value o = Value::Object();
  o.Set("uuid", Value::String(m.uuid));
  o.Set("function_name", Value::String(m.function_name));
  o.Set("event_source_arn", Value::String(m.event_source_arn));
  o.Set("starting_position",
        Value::String(std::string(StartingPositionName(m.starting_position))));
  o.Set("starting_position_timestamp_ms",
        Value::Number(m.starting_position_timestamp_ms));
  o.Set("batch_size", Value::Number(int64_t{m.batch_size}));
  o.Set("maximum_batching_window_seconds",
        Value::Number(int64_t{m.maximum_batching_window_seconds}));
  o.Set("parallelization_factor",
        Value::Number(int64_t{m.parallelization_factor}));
  o.Set("maximum_retry_attempts",
        Value::Number(int64_t{m.maximum_retry_attempts}));
  o.Set("maximum_record_age_seconds",
        Value::Number(int64_t{m.maximum_record_age_seconds}));
  o.Set("bisect_batch_on_function_error",
        Value::Bool(m.bisect_batch_on_function_error));
  o.Set("report_batch_item_failures",
        Value::Bool(m.report_batch_item_failures));
  o.Set("on_failure_destination", Value::String(m.on_failure_destination));
  o.Set("tumbling_window_seconds",
        Value::Number(int64_t{m.tumbling_window_seconds}));
  Value patterns = Value::Array();
  for (const std::string& p : m.filter_patterns)
    patterns.Push(Value::String(p));
  o.Set("filter_patterns", std::move(patterns));
  o.Set("enabled", Value::Bool(m.enabled));
  o.Set("created_ms", Value::Number(m.created_ms));
  o.Set("last_modified_ms", Value::Number(m.last_modified_ms));
  return o;
}

Result<MappingConfig> MappingFromStoredJson(const json::Value& v) {
  if (!v.is_object()) return DataLoss("mapping metadata is not an object");
  MappingConfig m;
  m.uuid = GetString(v, "uuid");
  m.function_name = GetString(v, "function_name");
  m.event_source_arn = GetString(v, "event_source_arn");
  auto pos = ParseStartingPosition(GetString(v, "starting_position"));
  if (m.uuid.empty() || !pos) return DataLoss("mapping metadata is damaged");
  m.starting_position = *pos;
  m.starting_position_timestamp_ms =
      GetInt(v, "starting_position_timestamp_ms", 0);
  m.batch_size = static_cast<int>(GetInt(v, "batch_size", 100));
  m.maximum_batching_window_seconds =
      static_cast<int>(GetInt(v, "maximum_batching_window_seconds", 0));
  m.parallelization_factor =
      static_cast<int>(GetInt(v, "parallelization_factor", 1));
  m.maximum_retry_attempts =
      static_cast<int>(GetInt(v, "maximum_retry_attempts", -1));
  m.maximum_record_age_seconds =
      static_cast<int>(GetInt(v, "maximum_record_age_seconds", -1));
  m.bisect_batch_on_function_error =
      GetBool(v, "bisect_batch_on_function_error", false);
  m.report_batch_item_failures =
      GetBool(v, "report_batch_item_failures", false);
  m.on_failure_destination = GetString(v, "on_failure_destination");
  m.tumbling_window_seconds =
      static_cast<int>(GetInt(v, "tumbling_window_seconds", 0));
  if (const json::Value* p = v.Find("filter_patterns"); p && p->is_array())
    for (const json::Value& item : p->items())
      if (item.is_string()) m.filter_patterns.push_back(item.text());
  m.enabled = GetBool(v, "enabled", true);
  m.created_ms = GetInt(v, "created_ms", 0);
  m.last_modified_ms = GetInt(v, "last_modified_ms", 0);
  return m;
}

}  // namespace riffle::functions
