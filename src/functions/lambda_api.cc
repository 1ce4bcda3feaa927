#include "functions/lambda_api.h"

#include <fmt/format.h>

#include <cmath>
#include <memory>

#include "core/base64.h"
#include "core/logging.h"
#include "http/rest_router.h"
#include "json/json.h"

namespace riffle::functions {
namespace {

using http::Request;
using http::Responder;
using http::Response;
using http::RouteMatch;
using json::Value;

// Lambda's largest synchronous payload.
constexpr size_t kMaxPayloadBytes = 6 * 1024 * 1024;
// LogType=Tail returns the last 4 KB of the invocation's log.
constexpr size_t kLogTailBytes = 4096;

Response JsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.SetHeader("content-type", "application/json");
  r.body = std::move(body);
  return r;
}

Response JsonResponse(int status, const Value& v) {
  return JsonResponse(status, json::Serialize(v));
}

Response Empty(int status) {
  Response r;
  r.status = status;
  return r;
}

// A request's fields with Lambda's type checks.
class Fields {
 public:
  explicit Fields(const Value& body) : body_(body) {}

  Result<std::optional<std::string>> String(std::string_view key) const {
    const Value* v = body_.Find(key);
    if (!v || v->is_null()) return std::optional<std::string>();
    if (!v->is_string()) return TypeError(key, "String");
    return std::optional<std::string>(v->text());
  }
  Result<std::optional<int>> Int(std::string_view key) const {
    const Value* v = body_.Find(key);
    if (!v || v->is_null()) return std::optional<int>();
    std::optional<int64_t> n = v->is_number() ? v->AsInt64() : std::nullopt;
    if (!n || *n < INT32_MIN || *n > INT32_MAX)
      return TypeError(key, "Integer");
    return std::optional<int>(static_cast<int>(*n));
  }
  Result<std::optional<bool>> Bool(std::string_view key) const {
    const Value* v = body_.Find(key);
    if (!v || v->is_null()) return std::optional<bool>();
    if (!v->is_bool()) return TypeError(key, "Boolean");
    return std::optional<bool>(v->bool_value());
  }
  const Value* Find(std::string_view key) const { return body_.Find(key); }

 private:
  static Status TypeError(std::string_view key, std::string_view type) {
    return InvalidArgument(
        fmt::format("Value for {} must be of type {}", key, type));
  }
  const Value& body_;
};

Result<std::map<std::string, std::string>> Variables(const Value* env) {
  std::map<std::string, std::string> out;
  if (!env || env->is_null()) return out;
  const Value* vars = env->is_object() ? env->Find("Variables") : nullptr;
  if (!env->is_object() || (vars && !vars->is_object() && !vars->is_null()))
    return InvalidArgument("Environment.Variables must be a map of strings");
  if (!vars || vars->is_null()) return out;
  for (const auto& [k, v] : vars->members()) {
    if (!v.is_string())
      return InvalidArgument("Environment.Variables must be a map of strings");
    out[k] = v.text();
  }
  return out;
}

Result<FunctionCode> ParseCode(const Value* code) {
  FunctionCode out;
  if (!code || !code->is_object()) return out;
  if (const Value* zip = code->Find("ZipFile"); zip && !zip->is_null()) {
    if (!zip->is_string())
      return InvalidArgument("Code.ZipFile must be a blob");
    std::optional<std::string> bytes = base64::Decode(zip->text());
    if (!bytes) return InvalidArgument("Code.ZipFile is not valid base64");
    out.zip = std::move(*bytes);
  }
  if (const Value* dir = code->Find("Directory"); dir && dir->is_string())
    out.directory = dir->text();
  for (const char* unsupported : {"S3Bucket", "S3Key", "ImageUri"}) {
    if (code->Find(unsupported))
      return InvalidArgument(
          fmt::format("Code.{} is not supported by riffle: use Code.ZipFile or "
                      "Code.Directory",
                      unsupported));
  }
  return out;
}

Result<MappingConfig> ApplyMappingFields(const Fields& f, MappingConfig m,
                                         bool create) {
  ASSIGN_OR_RETURN(auto fn, f.String("FunctionName"));
  if (fn) {
    ASSIGN_OR_RETURN(m.function_name, ParseFunctionName(*fn));
  }
  ASSIGN_OR_RETURN(auto enabled, f.Bool("Enabled"));
  if (enabled) m.enabled = *enabled;
  ASSIGN_OR_RETURN(auto batch, f.Int("BatchSize"));
  if (batch) m.batch_size = *batch;
  ASSIGN_OR_RETURN(auto window, f.Int("MaximumBatchingWindowInSeconds"));
  if (window) m.maximum_batching_window_seconds = *window;
  ASSIGN_OR_RETURN(auto pf, f.Int("ParallelizationFactor"));
  if (pf) m.parallelization_factor = *pf;
  ASSIGN_OR_RETURN(auto retries, f.Int("MaximumRetryAttempts"));
  if (retries) m.maximum_retry_attempts = *retries;
  ASSIGN_OR_RETURN(auto age, f.Int("MaximumRecordAgeInSeconds"));
  if (age) m.maximum_record_age_seconds = *age;
  ASSIGN_OR_RETURN(auto bisect, f.Bool("BisectBatchOnFunctionError"));
  if (bisect) m.bisect_batch_on_function_error = *bisect;
  ASSIGN_OR_RETURN(auto tumbling, f.Int("TumblingWindowInSeconds"));
  if (tumbling) m.tumbling_window_seconds = *tumbling;
  if (const Value* filters = f.Find("FilterCriteria"); filters) {
    // {} or {"Filters": []} clears the filters (UpdateEventSourceMapping).
    if (!filters->is_object() && !filters->is_null())
      return InvalidArgument("FilterCriteria must be a structure");
    const Value* list =
        filters->is_object() ? filters->Find("Filters") : nullptr;
    if (list && !list->is_array() && !list->is_null())
      return InvalidArgument("FilterCriteria.Filters must be a list");
    m.filter_patterns.clear();
    if (list && list->is_array()) {
      for (const Value& item : list->items()) {
        const Value* pattern =
            item.is_object() ? item.Find("Pattern") : nullptr;
        if (!pattern || !pattern->is_string())
          return InvalidArgument("Invalid filter pattern definition.");
        m.filter_patterns.push_back(pattern->text());
      }
    }
  }
  if (const Value* types = f.Find("FunctionResponseTypes");
      types && !types->is_null()) {
    if (!types->is_array())
      return InvalidArgument("FunctionResponseTypes must be a list");
    m.report_batch_item_failures = false;
    for (const Value& t : types->items()) {
      if (!t.is_string() || t.text() != "ReportBatchItemFailures")
        return InvalidArgument(
            "1 validation error detected: Value at 'functionResponseTypes' "
            "failed to satisfy constraint: Member must satisfy enum value "
            "set: [ReportBatchItemFailures]");
      m.report_batch_item_failures = true;
    }
  }
  if (const Value* dest = f.Find("DestinationConfig");
      dest && dest->is_object()) {
    const Value* on_failure = dest->Find("OnFailure");
    const Value* d = on_failure && on_failure->is_object()
                         ? on_failure->Find("Destination")
                         : nullptr;
    m.on_failure_destination = d && d->is_string() ? d->text() : "";
  }
  if (create) {
    ASSIGN_OR_RETURN(auto arn, f.String("EventSourceArn"));
    if (!arn || arn->empty())
      return InvalidArgument("EventSourceArn is required");
    m.event_source_arn = *arn;
    ASSIGN_OR_RETURN(auto pos, f.String("StartingPosition"));
    if (!pos)
      return InvalidArgument(
          "1 validation error detected: Value null at 'startingPosition' "
          "failed to satisfy constraint: Member must not be null");
    std::optional<StartingPosition> p = ParseStartingPosition(*pos);
    if (!p)
      return InvalidArgument(fmt::format(
          "1 validation error detected: Value '{}' at 'startingPosition' "
          "failed to satisfy constraint: Member must satisfy enum value set: "
          "[LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
          *pos));
    m.starting_position = *p;
    if (*p == StartingPosition::kAtTimestamp) {
      const Value* ts = f.Find("StartingPositionTimestamp");
      std::optional<double> secs =
          ts && ts->is_number() ? ts->AsDouble() : std::nullopt;
      if (!secs)
        return InvalidArgument(
            "StartingPositionTimestamp is required with AT_TIMESTAMP");
      // Rounded: 1714564800.123 * 1000 is a hair below ...123 in binary.
      m.starting_position_timestamp_ms = std::llround(*secs * 1000);
    }
  }
  if (m.function_name.empty())
    return InvalidArgument("FunctionName is required");
  return m;
}

// One table from Status codes to Lambda's exceptions.
struct ErrorKind {
  std::string_view type;
  int status;
};

ErrorKind KindOf(StatusCode code) {
  switch (code) {
    case StatusCode::kNotFound:
      return {"ResourceNotFoundException", 404};
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
    case StatusCode::kUnimplemented:
      return {"InvalidParameterValueException", 400};
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAborted:
      return {"ResourceConflictException", 409};
    case StatusCode::kResourceExhausted:
    case StatusCode::kQuotaExceeded:
      return {"TooManyRequestsException", 429};
    default:
      return {"ServiceException", 500};
  }
}

class LambdaApi {
 public:
  LambdaApi(Service& service, ThreadPool& blocking)
      : service_(service), blocking_(blocking) {}

  http::Handler Build(std::shared_ptr<LambdaApi> self) {
    http::RestRouter r;
    auto route = [&](std::string method, std::string_view pattern,
                     void (LambdaApi::*fn)(Request, RouteMatch, Responder),
                     bool blocking) {
      r.Add(method, pattern,
            [self, fn, blocking](Request req, RouteMatch m, Responder resp) {
              if (!blocking) {
                ((*self).*fn)(std::move(req), std::move(m), std::move(resp));
                return;
              }
              auto shared_req = std::make_shared<Request>(std::move(req));
              self->blocking_.Post([self, fn, shared_req, m = std::move(m),
                                    resp = std::move(resp)]() mutable {
                ((*self).*fn)(std::move(*shared_req), std::move(m),
                              std::move(resp));
              });
            });
    };
    constexpr std::string_view kF = "/2015-03-31/functions";
    constexpr std::string_view kM = "/2015-03-31/event-source-mappings";
    auto p = [](std::string_view a, std::string_view b) {
      return std::string(a) + std::string(b);
    };
    route("POST", kF, &LambdaApi::CreateFunction, true);
    route("GET", kF, &LambdaApi::ListFunctions, false);
    route("GET", p(kF, "/{name}"), &LambdaApi::GetFunction, false);
    route("DELETE", p(kF, "/{name}"), &LambdaApi::DeleteFunction, true);
    route("GET", p(kF, "/{name}/configuration"),
          &LambdaApi::GetFunctionConfiguration, false);
    route("PUT", p(kF, "/{name}/configuration"),
          &LambdaApi::UpdateFunctionConfiguration, true);
    route("PUT", p(kF, "/{name}/code"), &LambdaApi::UpdateFunctionCode, true);
    route("POST", p(kF, "/{name}/invocations"), &LambdaApi::Invoke, false);
    route("PUT", "/2017-10-31/functions/{name}/concurrency",
          &LambdaApi::PutFunctionConcurrency, true);
    route("DELETE", "/2017-10-31/functions/{name}/concurrency",
          &LambdaApi::DeleteFunctionConcurrency, true);
    route("GET", "/2019-09-30/functions/{name}/concurrency",
          &LambdaApi::GetFunctionConcurrency, false);
    route("POST", kM, &LambdaApi::CreateEventSourceMapping, true);
    route("GET", kM, &LambdaApi::ListEventSourceMappings, false);
    route("GET", p(kM, "/{uuid}"), &LambdaApi::GetEventSourceMapping, false);
    route("PUT", p(kM, "/{uuid}"), &LambdaApi::UpdateEventSourceMapping, true);
    route("DELETE", p(kM, "/{uuid}"), &LambdaApi::DeleteEventSourceMapping,
          true);
    r.SetNotFound([](Request req, Responder respond) {
      respond(LambdaError("ResourceNotFoundException", 404,
                          "No API operation at " + req.path));
    });
    r.SetMethodNotAllowed(
        [](Request req, std::vector<std::string>, Responder respond) {
          respond(LambdaError(
              "ResourceNotFoundException", 404,
              fmt::format("No API operation {} {}", req.method, req.path)));
        });
    return r.AsHandler();
  }

 private:
  Result<Value> Body(const Request& req) {
    if (req.body.empty()) return Value::Object();
    Result<Value> v = json::Parse(req.body);
    if (!v.ok() || !v->is_object())
      return InvalidArgument("Could not parse request body into json");
    return v;
  }

  // The function named by the path, and by ?Qualifier= (boto3 sends
  // Invoke's and GetFunction's Qualifier there). riffle keeps $LATEST only:
  // any other qualifier names a version or alias that does not exist, which
  // Lambda answers with 404 rather than running $LATEST.
  Result<std::string> Name(const RouteMatch& m) {
    ASSIGN_OR_RETURN(std::string name, ParseFunctionName(m.Param("name")));
    std::optional<std::string> qualifier = m.Query("Qualifier");
    if (qualifier && !qualifier->empty() && *qualifier != "$LATEST")
      return NotFound(fmt::format("Function not found: {}:{}",
                                  FunctionArn(service_.options().arn, name),
                                  *qualifier));
    return name;
  }

  Value Configuration(const FunctionConfig& c) {
    return FunctionConfigurationJson(c, service_.options().arn);
  }

  Value MappingJson(const MappingStatus& s) {
    return MappingConfigurationJson(s.config, service_.options().arn, s.state,
                                    s.last_result);
  }

  void CreateFunction(Request req, RouteMatch, Responder respond) {
    Result<FunctionConfig> r = [&]() -> Result<FunctionConfig> {
      ASSIGN_OR_RETURN(Value body, Body(req));
      Fields f(body);
      FunctionConfig c;
      ASSIGN_OR_RETURN(auto name, f.String("FunctionName"));
      ASSIGN_OR_RETURN(auto runtime, f.String("Runtime"));
      ASSIGN_OR_RETURN(auto role, f.String("Role"));
      ASSIGN_OR_RETURN(auto handler, f.String("Handler"));
      ASSIGN_OR_RETURN(auto description, f.String("Description"));
      ASSIGN_OR_RETURN(auto timeout, f.Int("Timeout"));
      ASSIGN_OR_RETURN(auto memory, f.Int("MemorySize"));
      ASSIGN_OR_RETURN(auto package, f.String("PackageType"));
      if (package && *package != "Zip")
        return InvalidArgument("riffle runs PackageType Zip only");
      if (!name) return InvalidArgument("FunctionName is required");
      if (!role) return InvalidArgument("Role is required");
      if (!runtime)
        return InvalidArgument(
            "The runtime parameter of null is not supported: Runtime is "
            "required for Zip packages");
      c.name = *name;
      c.runtime = *runtime;
      c.role = *role;
      c.handler = handler.value_or("");
      c.description = description.value_or("");
      if (timeout) c.timeout_seconds = *timeout;
      if (memory) c.memory_mb = *memory;
      ASSIGN_OR_RETURN(c.environment, Variables(f.Find("Environment")));
      if (const Value* tags = f.Find("Tags"); tags && tags->is_object())
        for (const auto& [k, v] : tags->members())
          if (v.is_string()) c.tags[k] = v.text();
      ASSIGN_OR_RETURN(FunctionCode code, ParseCode(f.Find("Code")));
      return service_.CreateFunction(std::move(c), std::move(code));
    }();
    if (!r.ok()) return respond(LambdaError(r.status()));
    respond(JsonResponse(201, Configuration(*r)));
  }

  void ListFunctions(Request, RouteMatch m, Responder respond) {
    std::vector<FunctionConfig> all = service_.ListFunctions();
    size_t start = 0;
    if (auto marker = m.Query("Marker"))
      start = std::strtoull(marker->c_str(), nullptr, 10);
    size_t max = 50;
    if (auto items = m.Query("MaxItems")) {
      long n = std::strtol(items->c_str(), nullptr, 10);
      if (n < 1 || n > 10000)
        return respond(LambdaError(InvalidArgument(
            "1 validation error detected: Value at 'maxItems' failed to "
            "satisfy constraint: Member must have value between 1 and 10000")));
      max = static_cast<size_t>(n);
    }
    Value list = Value::Array();
    size_t i = start;
    for (; i < all.size() && i < start + max; ++i)
      list.Push(Configuration(all[i]));
    Value out = Value::Object();
    out.Set("Functions", std::move(list));
    if (i < all.size()) out.Set("NextMarker", Value::String(std::to_string(i)));
    respond(JsonResponse(200, out));
  }

  void GetFunction(Request, RouteMatch m, Responder respond) {
    Result<FunctionConfig> c = [&]() -> Result<FunctionConfig> {
      ASSIGN_OR_RETURN(std::string name, Name(m));
      return service_.GetFunction(name);
    }();
    if (!c.ok()) return respond(LambdaError(c.status()));
    Value out = Value::Object();
    out.Set("Configuration", Configuration(*c));
    out.Set("Code",
            Value::Object()
                .Set("RepositoryType", Value::String("S3"))
                .Set("Location", Value::String("file://" + c->code_dir)));
    if (!c->tags.empty()) {
      Value tags = Value::Object();
      for (const auto& [k, v] : c->tags) tags.Set(k, Value::String(v));
      out.Set("Tags", std::move(tags));
    }
    if (c->reserved_concurrency) {
      out.Set("Concurrency",
              Value::Object().Set(
                  "ReservedConcurrentExecutions",
                  Value::Number(int64_t{*c->reserved_concurrency})));
    }
    respond(JsonResponse(200, out));
  }

  void GetFunctionConfiguration(Request, RouteMatch m, Responder respond) {
    Result<FunctionConfig> c = [&]() -> Result<FunctionConfig> {
      ASSIGN_OR_RETURN(std::string name, Name(m));
      return service_.GetFunction(name);
    }();
    if (!c.ok()) return respond(LambdaError(c.status()));
    respond(JsonResponse(200, Configuration(*c)));
  }

  void DeleteFunction(Request, RouteMatch m, Responder respond) {
    Status s = [&]() -> Status {
      ASSIGN_OR_RETURN(std::string name, Name(m));
      return service_.DeleteFunction(name);
    }();
    if (!s.ok()) return respond(LambdaError(s));
    respond(Empty(204));
  }

  void UpdateFunctionConfiguration(Request req, RouteMatch m,
                                   Responder respond) {
    Result<FunctionConfig> r = [&]() -> Result<FunctionConfig> {
      ASSIGN_OR_RETURN(std::string name, Name(m));
      ASSIGN_OR_RETURN(Value body, Body(req));
      Fields f(body);
      FunctionUpdate u;
      ASSIGN_OR_RETURN(u.runtime, f.String("Runtime"));
      ASSIGN_OR_RETURN(u.handler, f.String("Handler"));
      ASSIGN_OR_RETURN(u.role, f.String("Role"));
      ASSIGN_OR_RETURN(u.description, f.String("Description"));
      ASSIGN_OR_RETURN(u.timeout_seconds, f.Int("Timeout"));
      ASSIGN_OR_RETURN(u.memory_mb, f.Int("MemorySize"));
      if (const Value* env = f.Find("Environment")) {
        ASSIGN_OR_RETURN(u.environment, Variables(env));
      }
      return service_.UpdateFunctionConfiguration(name, u);
    }();
    if (!r.ok()) return respond(LambdaError(r.status()));
    respond(JsonResponse(200, Configuration(*r)));
  }

  void UpdateFunctionCode(Request req, RouteMatch m, Responder respond) {
    Result<FunctionConfig> r = [&]() -> Result<FunctionConfig> {
      ASSIGN_OR_RETURN(std::string name, Name(m));
      ASSIGN_OR_RETURN(Value body, Body(req));
      // The fields of Code sit at the top level here.
      ASSIGN_OR_RETURN(FunctionCode code, ParseCode(&body));
      Fields f(body);
      ASSIGN_OR_RETURN(auto dry_run, f.Bool("DryRun"));
      if (dry_run && *dry_run) return service_.GetFunction(name);
      return service_.UpdateFunctionCode(name, std::move(code));
    }();
    if (!r.ok()) return respond(LambdaError(r.status()));
    respond(JsonResponse(200, Configuration(*r)));
  }

  void PutFunctionConcurrency(Request req, RouteMatch m, Responder respond) {
    Result<int> r = [&]() -> Result<int> {
      ASSIGN_OR_RETURN(std::string name, Name(m));
      ASSIGN_OR_RETURN(Value body, Body(req));
      ASSIGN_OR_RETURN(auto n,
                       Fields(body).Int("ReservedConcurrentExecutions"));
      if (!n || *n < 0)
        return InvalidArgument(
            "1 validation error detected: Value at "
            "'reservedConcurrentExecutions' failed to satisfy constraint: "
            "Member must have value greater than or equal to 0");
      RETURN_IF_ERROR(service_.PutFunctionConcurrency(name, *n));
      return *n;
    }();
    if (!r.ok()) return respond(LambdaError(r.status()));
    respond(
        JsonResponse(200, Value::Object().Set("ReservedConcurrentExecutions",
                                              Value::Number(int64_t{*r}))));
  }

  void DeleteFunctionConcurrency(Request, RouteMatch m, Responder respond) {
    Status s = [&]() -> Status {
      ASSIGN_OR_RETURN(std::string name, Name(m));
      return service_.PutFunctionConcurrency(name, std::nullopt);
    }();
    if (!s.ok()) return respond(LambdaError(s));
    respond(Empty(204));
  }

  void GetFunctionConcurrency(Request, RouteMatch m, Responder respond) {
    Result<FunctionConfig> c = [&]() -> Result<FunctionConfig> {
      ASSIGN_OR_RETURN(std::string name, Name(m));
      return service_.GetFunction(name);
    }();
    if (!c.ok()) return respond(LambdaError(c.status()));
    Value out = Value::Object();
    if (c->reserved_concurrency)
      out.Set("ReservedConcurrentExecutions",
              Value::Number(int64_t{*c->reserved_concurrency}));
    respond(JsonResponse(200, out));
  }

  void Invoke(Request req, RouteMatch m, Responder respond) {
    Result<std::string> name = Name(m);
    if (!name.ok()) return respond(LambdaError(name.status()));
    const std::string* type_header = req.FindHeader("x-amz-invocation-type");
    std::string type = type_header ? *type_header : "RequestResponse";
    if (type != "RequestResponse" && type != "Event" && type != "DryRun") {
      return respond(LambdaError(InvalidArgument(fmt::format(
          "1 validation error detected: Value '{}' at 'invocationType' failed "
          "to satisfy constraint: Member must satisfy enum value set: [Event, "
          "RequestResponse, DryRun]",
          type))));
    }
    const std::string* log_header = req.FindHeader("x-amz-log-type");
    bool tail = log_header && *log_header == "Tail";
    std::string payload = req.body.empty() ? "{}" : std::move(req.body);
    if (payload.size() > kMaxPayloadBytes) {
      return respond(LambdaError(
          "RequestTooLargeException", 413,
          fmt::format("Request must be smaller than {} bytes for the "
                      "InvokeFunction operation",
                      kMaxPayloadBytes)));
    }
    if (!json::Parse(payload).ok()) {
      return respond(LambdaError(
          "InvalidRequestContentException", 400,
          "Could not parse request body into json: Could not parse payload "
          "into json"));
    }
    if (Result<FunctionConfig> c = service_.GetFunction(*name); !c.ok())
      return respond(LambdaError(c.status()));
    if (type == "DryRun") return respond(Empty(204));
    std::string client_context;
    if (const std::string* cc = req.FindHeader("x-amz-client-context")) {
      std::optional<std::string> decoded = base64::Decode(*cc);
      if (decoded) client_context = *decoded;
    }
    if (type == "Event") {
      // Queued and forgotten, as Lambda's asynchronous invocation (without
      // its retries, see docs/functions.md); errors are logged.
      std::string fn = *name;
      service_.Invoke(*name, std::move(payload), std::move(client_context),
                      [fn](InvokeResult r) {
                        if (!r.status.ok() || !r.function_error.empty())
                          RLOG_WARN("async invocation of {} failed: {} {}", fn,
                                    r.status.ToString(), r.payload);
                      });
      Response resp = Empty(202);
      return respond(std::move(resp));
    }
    service_.Invoke(*name, std::move(payload), std::move(client_context),
                    [respond, tail](InvokeResult r) {
                      if (!r.status.ok()) return respond(LambdaError(r.status));
                      Response resp = JsonResponse(200, std::move(r.payload));
                      resp.SetHeader("x-amz-executed-version", "$LATEST");
                      if (!r.function_error.empty())
                        resp.SetHeader("x-amz-function-error",
                                       r.function_error);
                      if (tail) {
                        std::string_view log = r.log;
                        if (log.size() > kLogTailBytes)
                          log = log.substr(log.size() - kLogTailBytes);
                        resp.SetHeader("x-amz-log-result", base64::Encode(log));
                      }
                      respond(std::move(resp));
                    });
  }

  void CreateEventSourceMapping(Request req, RouteMatch, Responder respond) {
    Result<MappingStatus> r = [&]() -> Result<MappingStatus> {
      ASSIGN_OR_RETURN(Value body, Body(req));
      ASSIGN_OR_RETURN(MappingConfig m,
                       ApplyMappingFields(Fields(body), MappingConfig{}, true));
      return service_.CreateMapping(std::move(m));
    }();
    if (!r.ok()) return respond(LambdaError(r.status()));
    respond(JsonResponse(202, MappingJson(*r)));
  }

  void ListEventSourceMappings(Request, RouteMatch m, Responder respond) {
    std::string fn;
    if (auto f = m.Query("FunctionName")) {
      Result<std::string> name = ParseFunctionName(*f);
      if (!name.ok()) return respond(LambdaError(name.status()));
      fn = *name;
    }
    std::vector<MappingStatus> all =
        service_.ListMappings(fn, m.Query("EventSourceArn").value_or(""));
    size_t start = 0;
    if (auto marker = m.Query("Marker"))
      start = std::strtoull(marker->c_str(), nullptr, 10);
    size_t max = 100;
    if (auto items = m.Query("MaxItems")) {
      long n = std::strtol(items->c_str(), nullptr, 10);
      if (n >= 1 && n <= 10000) max = static_cast<size_t>(n);
    }
    Value list = Value::Array();
    size_t i = start;
    for (; i < all.size() && i < start + max; ++i)
      list.Push(MappingJson(all[i]));
    Value out = Value::Object();
    out.Set("EventSourceMappings", std::move(list));
    if (i < all.size()) out.Set("NextMarker", Value::String(std::to_string(i)));
    respond(JsonResponse(200, out));
  }

  void GetEventSourceMapping(Request, RouteMatch m, Responder respond) {
    Result<MappingStatus> r = service_.GetMapping(m.Param("uuid"));
    if (!r.ok()) return respond(LambdaError(r.status()));
    respond(JsonResponse(200, MappingJson(*r)));
  }

  void UpdateEventSourceMapping(Request req, RouteMatch m, Responder respond) {
    Result<MappingStatus> r = [&]() -> Result<MappingStatus> {
      ASSIGN_OR_RETURN(Value body, Body(req));
      return service_.UpdateMapping(
          m.Param("uuid"), [&body](MappingConfig& config) -> Status {
            ASSIGN_OR_RETURN(config,
                             ApplyMappingFields(Fields(body), config, false));
            return Status::Ok();
          });
    }();
    if (!r.ok()) return respond(LambdaError(r.status()));
    respond(JsonResponse(202, MappingJson(*r)));
  }

  void DeleteEventSourceMapping(Request, RouteMatch m, Responder respond) {
    Result<MappingStatus> r = service_.DeleteMapping(m.Param("uuid"));
    if (!r.ok()) return respond(LambdaError(r.status()));
    respond(JsonResponse(202, MappingJson(*r)));
  }

  Service& service_;
  ThreadPool& blocking_;
};

}  // namespace

bool IsLambdaPath(std::string_view path) {
  for (std::string_view prefix :
       {"/2015-03-31/functions", "/2015-03-31/event-source-mappings",
        "/2017-10-31/functions/", "/2019-09-30/functions/"}) {
    if (path.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

Response LambdaError(std::string_view type, int http_status,
                     std::string_view message) {
  Value body = Value::Object();
  body.Set("Type", Value::String(http_status >= 500 ? "Service" : "User"));
  body.Set("message", Value::String(std::string(message)));
  Response r = JsonResponse(http_status, body);
  r.SetHeader("x-amzn-errortype", std::string(type));
  return r;
}

Response LambdaError(const Status& status) {
  ErrorKind kind = KindOf(status.code());
  if (kind.status >= 500) RLOG_ERROR("lambda api: {}", status.ToString());
  Response r = LambdaError(kind.type, kind.status, status.message());
  if (kind.status == 429) {
    // Lambda names the limit that throttled.
    r.body = json::Serialize(
        Value::Object()
            .Set("Reason",
                 Value::String(
                     "ReservedFunctionConcurrentInvocationLimitExceeded"))
            .Set("Type", Value::String("User"))
            .Set("message", Value::String(status.message())));
  }
  return r;
}

http::Handler MakeLambdaApi(Service& service, ThreadPool& blocking) {
  auto api = std::make_shared<LambdaApi>(service, blocking);
  return api->Build(api);
}

}  // namespace riffle::functions
