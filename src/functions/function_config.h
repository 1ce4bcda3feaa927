// The configuration of a function and of an event-source mapping, as riffle
// stores them and as the Lambda API shows them. Plain data, not thread-safe
// to mutate.
//
// The on-disk form (DATA_DIR/functions/<name>/function.json and
// DATA_DIR/functions/mappings/<uuid>.json) is the JSON of ToStoredJson; the
// wire form follows Lambda's FunctionConfiguration and
// EventSourceMappingConfiguration shapes
// (https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html,
// https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "json/json.h"

namespace riffle::functions {

// How a function's code runs. Stored by name, so adding one is safe.
enum class RuntimeKind {
  kProvided,  // provided.al2, provided.al2023: the code's `bootstrap`
  kNode,      // nodejs18.x/20.x/22.x: node with aws-lambda-ric
  // riffle:avro-to-table: built in, in process, no code (avro_to_table.h).
  kAvroToTable,
  // riffle:native: a shared library with the C ABI of
  // include/riffle/function.h, run by riffle's helper process
  // (native_runtime.h).
  kNative,
};

// The Runtime name of the built-in Avro-to-table function.
inline constexpr std::string_view kAvroToTableRuntime = "riffle:avro-to-table";
// The Runtime name of native (shared library) functions.
inline constexpr std::string_view kNativeRuntime = "riffle:native";

// The runtime kind for a Lambda Runtime name, or nullopt when riffle does
// not run it.
std::optional<RuntimeKind> RuntimeKindOf(std::string_view runtime);

struct FunctionConfig {
  std::string name;
  std::string runtime;  // "provided.al2", "nodejs20.x", ...
  std::string handler;  // "index.handler"; ignored by provided runtimes
  std::string role;
  std::string description;
  int timeout_seconds = 3;  // Lambda's default
  int memory_mb = 128;      // Lambda's default
  std::map<std::string, std::string> environment;
  std::map<std::string, std::string> tags;
  // Reserved concurrency (PutFunctionConcurrency); absent = unreserved.
  std::optional<int> reserved_concurrency;
  // Where the code is: DATA_DIR/functions/<name>/code-<revision> for a zip,
  // or the user's directory (riffle extension: Code.Directory).
  std::string code_dir;
  bool code_is_external = false;  // code_dir is the user's, never deleted
  int64_t code_size = 0;
  std::string code_sha256;    // base64 of the SHA-256 of the zip (or dir tag)
  std::string last_modified;  // "2024-01-02T03:04:05.000+0000"
  std::string revision_id;    // changes on every update
};

// The region and account used in ARNs.
struct ArnContext {
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
};

std::string FunctionArn(const ArnContext& ctx, std::string_view name);

// Accepts a function name, a full ARN or a partial ARN
// ("123456789012:function:name"), with an optional ":$LATEST" qualifier;
// returns the bare name, or InvalidArgument.
Result<std::string> ParseFunctionName(std::string_view name_or_arn);
// Lambda's FunctionName pattern, for names given to CreateFunction.
bool IsValidFunctionName(std::string_view name);

// What CreateFunction and UpdateFunctionConfiguration refuse in a
// configuration by itself (a runtime riffle does not run, timeout and
// memory out of Lambda's ranges, a Node function without a handler, a
// native handler that does not parse), with Lambda's words.
// InvalidArgument.
Status ValidateFunctionConfig(const FunctionConfig& config);

// Lambda's FunctionConfiguration object.
json::Value FunctionConfigurationJson(const FunctionConfig& config,
                                      const ArnContext& ctx);

json::Value ToStoredJson(const FunctionConfig& config);
Result<FunctionConfig> FunctionFromStoredJson(const json::Value& v);

// "2024-01-02T03:04:05.000+0000", Lambda's LastModified format.
std::string LambdaTimestamp(int64_t millis);
// "2024-01-02T03:04:05.123Z" (ISO 8601, UTC), for failure records.
std::string IsoTimestamp(int64_t millis);

// Base64 of the SHA-256 of `data`: Lambda's CodeSha256 of a zip file.
std::string Sha256Base64(std::string_view data);

enum class StartingPosition { kTrimHorizon, kLatest, kAtTimestamp };
std::string_view StartingPositionName(StartingPosition p);
std::optional<StartingPosition> ParseStartingPosition(std::string_view s);

struct MappingConfig {
  std::string uuid;
  std::string function_name;
  std::string event_source_arn;  // arn:aws:kinesis:region:acct:stream/name
  StartingPosition starting_position = StartingPosition::kLatest;
  int64_t starting_position_timestamp_ms = 0;  // kAtTimestamp
  int batch_size = 100;
  int maximum_batching_window_seconds = 0;
  int parallelization_factor = 1;       // concurrent batches per shard (1-10)
  int maximum_retry_attempts = -1;      // -1: until the record expires
  int maximum_record_age_seconds = -1;  // -1: until the record expires
  bool bisect_batch_on_function_error = false;
  bool report_batch_item_failures = false;
  std::string on_failure_destination;  // a stream ARN, or empty
  int tumbling_window_seconds = 0;     // 0: no windows
  // FilterCriteria.Filters[].Pattern, as given (filter_pattern.h); empty:
  // every record goes to the function.
  std::vector<std::string> filter_patterns;
  bool enabled = true;
  int64_t created_ms = 0;  // pins LATEST to the creation time (see runner)
  int64_t last_modified_ms = 0;
};

// The stream name of a Kinesis stream ARN, or InvalidArgument.
Result<std::string> StreamNameFromArn(std::string_view arn);

// Lambda's EventSourceMappingConfiguration object; `state` is "Enabled",
// "Disabled", "Creating", ...
json::Value MappingConfigurationJson(const MappingConfig& m,
                                     const ArnContext& ctx,
                                     std::string_view state,
                                     std::string_view last_result);

json::Value ToStoredJson(const MappingConfig& m);
Result<MappingConfig> MappingFromStoredJson(const json::Value& v);

}  // namespace riffle::functions
