#include "http/aws_json.h"

#include <array>
#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>
#include <random>
#include <unordered_map>

#include "core/clock.h"
#include "core/logging.h"
#include "core/metrics.h"

namespace riffle::http {
namespace {

constexpr std::string_view kJson10 = "application/x-amz-json-1.0";
constexpr const char* kRequestsTotal = "riffle_requests_total";
constexpr const char* kRequestDuration = "riffle_request_duration_seconds";

void FillRequestId(char* out) {
  // A v4-style UUID from a per-thread generator: unique enough for request
  // ids and free of any lock.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t hi = rng(), lo = rng();
  hi = (hi & ~0xf000ull) | 0x4000ull;                  // version 4
  lo = (lo & ~(0xc000ull << 48)) | (0x8000ull << 48);  // variant 10
  int pos = 0;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out[pos++] = '-';
    uint64_t word = i < 16 ? hi : lo;
    int shift = 60 - 4 * (i % 16);
    out[pos++] = kHex[(word >> shift) & 0xf];
  }
}

// The media type without parameters ("; charset=utf-8") or case.
std::string_view MediaType(const std::string* content_type) {
  if (!content_type) return {};
  std::string_view s = *content_type;
  s = s.substr(0, s.find(';'));
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// `s` with each byte that is not part of a well-formed UTF-8 sequence
// (stray continuation bytes, overlong forms, surrogates, code points past
// U+10FFFF, sequences cut short) replaced by U+FFFD. Error messages quote
// what clients sent, from headers (any byte above 0x7f is legal there) or
// from JSON strings as parsed, and a JSON body must be UTF-8 for the SDKs
// to decode it and report the error at all.
std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    if (c < 0x80) {
      n = 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
    }
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    }
    if (ok && n > 2) {
      const auto d = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xe0 && d < 0xa0) &&   // overlong
           !(c == 0xed && d >= 0xa0) &&  // surrogate
           !(c == 0xf0 && d < 0x90) &&   // overlong
           !(c == 0xf4 && d >= 0x90);    // past U+10FFFF
    }
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append("\xef\xbf\xbd");
      ++i;
    }
  }
  return out;
}

void AppendErrorBody(const AwsError& error, std::string_view prefix,
                     std::string* out) {
  out->append("{\"__type\":");
  std::string type;
  type.reserve(prefix.size() + error.type.size());
  type.append(prefix).append(error.type);
  json::AppendQuoted(type, out);
  if (!error.message.empty()) {
    out->append(error.capitalized_message_key ? ",\"Message\":"
                                              : ",\"message\":");
    json::AppendQuoted(ValidUtf8(error.message), out);
  }
  if (!error.extra_members.empty()) {
    out->push_back(',');
    out->append(error.extra_members);
  }
  out->push_back('}');
}

const std::array<uint32_t, 256>& Crc32Table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

}  // namespace

uint32_t Crc32Ieee(std::string_view data) {
  const auto& table = Crc32Table();
  uint32_t c = 0xffffffffu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

// Everything a reply needs that does not change per request.
struct AwsJsonReply::Context {
  std::string content_type;
  std::string error_prefix;
  std::string service;    // metrics label; empty: no metrics
  std::string operation;  // metrics label
  bool crc32_header = false;
  metrics::Histogram* latency = nullptr;
  metrics::Counter* ok = nullptr;  // status 200, the hot series

  void Record(int status, int64_t start_nanos) const {
    if (service.empty()) return;
    double seconds = static_cast<double>(MonotonicNanos() - start_nanos) / 1e9;
    latency->Observe(seconds);
    if (status == 200) {
      ok->Add();
      return;
    }
    // Error statuses are rarer; the registry's lookup (with its lock) is
    // fine for them.
    metrics::Global()
        .GetCounter(kRequestsTotal, {{"service", service},
                                     {"operation", operation},
                                     {"status", std::to_string(status)}})
        .Add();
  }
};

namespace {

std::shared_ptr<const AwsJsonReply::Context> MakeContext(
    const AwsJsonService& service, std::string operation) {
  auto ctx = std::make_shared<AwsJsonReply::Context>();
  ctx->content_type = service.content_type;
  ctx->error_prefix = service.error_prefix;
  ctx->service = service.metrics_service;
  ctx->operation = std::move(operation);
  ctx->crc32_header = service.crc32_header;
  if (!ctx->service.empty()) {
    auto& registry = metrics::Global();
    ctx->latency = &registry.GetHistogram(
        kRequestDuration,
        {{"service", ctx->service}, {"operation", ctx->operation}},
        "Time from a request's arrival to its reply, by operation.");
    ctx->ok = &registry.GetCounter(kRequestsTotal,
                                   {{"service", ctx->service},
                                    {"operation", ctx->operation},
                                    {"status", "200"}},
                                   "Requests answered, by operation and "
                                   "HTTP status.");
  }
  return ctx;
}

}  // namespace

AwsJsonReply::AwsJsonReply(Responder respond, std::string content_type,
                           std::string error_prefix, std::string operation)
    : respond_(std::move(respond)), start_nanos_(MonotonicNanos()) {
  auto ctx = std::make_shared<Context>();
  ctx->content_type = std::move(content_type);
  ctx->error_prefix = std::move(error_prefix);
  ctx->operation = std::move(operation);
  context_ = std::move(ctx);
  FillRequestId(request_id_);
}

AwsJsonReply::AwsJsonReply(Responder respond,
                           std::shared_ptr<const Context> context,
                           int64_t start_nanos)
    : respond_(std::move(respond)),
      context_(std::move(context)),
      start_nanos_(start_nanos) {
  FillRequestId(request_id_);
}

void AwsJsonReply::Send(Response response) {
  response.headers.reserve(response.headers.size() + 3);
  response.headers.push_back(Header{"content-type", context_->content_type});
  response.headers.push_back(
      Header{"x-amzn-requestid", std::string(request_id_, 36)});
  if (context_->crc32_header) {
    response.headers.push_back(
        Header{"x-amz-crc32", std::to_string(Crc32Ieee(response.body))});
  }
  context_->Record(response.status, start_nanos_);
  respond_(std::move(response));
}

void AwsJsonReply::Ok(std::string json_body) {
  Response response;
  response.body = std::move(json_body);
  Send(std::move(response));
}

void AwsJsonReply::Error(const AwsError& error) {
  SendError(error, context_->error_prefix);
}

void AwsJsonReply::SendError(const AwsError& error, std::string_view prefix) {
  Response response;
  response.status = error.status;
  AppendErrorBody(error, prefix, &response.body);
  Send(std::move(response));
}

Response MakeAwsJsonError(const AwsError& error, std::string_view content_type,
                          std::string_view error_prefix) {
  Response response;
  response.status = error.status;
  AppendErrorBody(error, error_prefix, &response.body);
  response.headers.push_back(Header{"content-type", std::string(content_type)});
  char id[36];
  FillRequestId(id);
  response.headers.push_back(Header{"x-amzn-requestid", std::string(id, 36)});
  return response;
}

// The immutable routing table behind a Handler.
struct AwsJsonRouter::State {
  struct Operation {
    AwsJsonOperation fn;
    std::shared_ptr<const AwsJsonReply::Context> context;
  };
  struct Service {
    AwsJsonService config;
    std::map<std::string, Operation, std::less<>> operations;
    // Replies for requests that never reach an operation.
    std::shared_ptr<const AwsJsonReply::Context> unknown;
  };
  std::vector<Service> services;
  Handler fallback;

  const Service* ByPrefix(std::string_view prefix) const {
    for (const auto& s : services) {
      if (s.config.target_prefix == prefix) return &s;
    }
    return nullptr;
  }
  const Service* ByContentType(std::string_view media_type) const {
    for (const auto& s : services) {
      if (EqualsIgnoreCase(s.config.content_type, media_type)) return &s;
    }
    return nullptr;
  }

  void Dispatch(Request request, Responder respond) const;
};

namespace {

bool IsJson10(const AwsJsonService& s) {
  return EqualsIgnoreCase(s.content_type, kJson10);
}

Response WrongContentType(const AwsJsonService& service, bool has_auth) {
  Response r;
  char id[36];
  FillRequestId(id);
  r.headers.push_back(Header{"x-amzn-requestid", std::string(id, 36)});
  if (IsJson10(service)) {
    // DynamoDB: 404 with a bare XML element (dynalite index.js).
    r.status = 404;
    r.body = "<UnknownOperationException/>\n";
    return r;
  }
  // Kinesis: 403 with an XML body and no Content-Type (kinesalite
  // index.js and test/connection.js).
  r.status = 403;
  r.body = has_auth ? "<AccessDeniedException>\n"
                      "  <Message>Unable to determine service/operation name "
                      "to be authorized</Message>\n"
                      "</AccessDeniedException>\n"
                    : "<MissingAuthenticationTokenException>\n"
                      "  <Message>Missing Authentication Token</Message>\n"
                      "</MissingAuthenticationTokenException>\n";
  return r;
}

// Checks the presigned-URL parameters; "" when complete.
std::string CheckPresignedQuery(std::string_view query) {
  auto params = ParseQuery(query);
  std::string msg;
  for (const char* name :
       {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature",
        "X-Amz-SignedHeaders", "X-Amz-Date"}) {
    bool found = false;
    for (const auto& [k, v] : params) {
      if (k == name && !v.empty()) found = true;
    }
    if (!found) {
      msg += "AWS query-string parameters must include '";
      msg += name;
      msg += "'. ";
    }
  }
  if (!msg.empty()) msg += "Re-examine the query-string parameters.";
  return msg;
}

bool HasQueryParam(std::string_view query, std::string_view name) {
  for (const auto& [k, v] : ParseQuery(query)) {
    if (k == name) return true;
  }
  return false;
}

}  // namespace

void AwsJsonRouter::State::Dispatch(Request request, Responder respond) const {
  const int64_t start = MonotonicNanos();
  const std::string* target = request.FindHeader("x-amz-target");
  std::string_view media_type = MediaType(request.FindHeader("content-type"));

  // Errors of the request checks: the framework's prefix, not the
  // service's, and counted under the operation when it is known.
  const Operation* op = nullptr;
  auto framework_error = [&](const Service& s, AwsError error) {
    AwsJsonReply reply(std::move(respond), op ? op->context : s.unknown, start);
    reply.SendError(error, s.config.framework_error_prefix);
  };

  if (!target) {
    const Service* s = ByContentType(media_type);
    if (s) {
      framework_error(*s, {"UnknownOperationException", "", 400});
      return;
    }
    if (fallback) {
      fallback(std::move(request), std::move(respond));
      return;
    }
    Response r;
    r.status = 404;
    r.SetHeader("content-type", "text/plain");
    r.body = "Not Found\n";
    respond(std::move(r));
    return;
  }

  std::string_view t = *target;
  size_t dot = t.rfind('.');
  std::string_view prefix =
      dot == std::string_view::npos ? t : t.substr(0, dot);
  std::string_view op_name =
      dot == std::string_view::npos ? std::string_view() : t.substr(dot + 1);
  const Service* service = ByPrefix(prefix);
  const Service* style = service ? service : ByContentType(media_type);
  if (!style) {
    if (services.empty()) {
      respond(
          MakeAwsJsonError({"UnknownOperationException", "", 400}, kJson10));
      return;
    }
    style = &services.front();
  }

  const bool has_auth = request.FindHeader("authorization") != nullptr;
  if (!EqualsIgnoreCase(media_type, style->config.content_type) &&
      !EqualsIgnoreCase(media_type, "application/json")) {
    Response r = WrongContentType(style->config, has_auth);
    style->unknown->Record(r.status, start);
    respond(std::move(r));
    return;
  }

  if (service) {
    auto it = service->operations.find(op_name);
    if (it != service->operations.end()) op = &it->second;
  }
  if (!op) {
    framework_error(*style, {"UnknownOperationException", "", 400});
    return;
  }
  const bool json10 = IsJson10(service->config);

  json::Value body;
  if (!request.body.empty() || !json10) {
    auto parsed = json::Parse(request.body);
    if (!parsed.ok()) {
      framework_error(*service, {"SerializationException", "", 400});
      return;
    }
    body = std::move(parsed).value();
    if (!body.is_object()) {
      // Coral's deserializer reports the first token it cannot bind to the
      // input structure (wording from kinesalite validations/index.js).
      std::string message = body.is_array()
                                ? "Start of list found where not expected"
                                : "Expected null";
      framework_error(*service, {"SerializationException", std::move(message),
                                 400, /*capitalized_message_key=*/true});
      return;
    }
  }

  SigV4Credentials credentials;
  const std::string* auth = request.FindHeader("authorization");
  const bool presigned = HasQueryParam(request.query, "X-Amz-Algorithm");
  if (auth && presigned) {
    framework_error(*service,
                    {"InvalidSignatureException",
                     "Found both 'X-Amz-Algorithm' as a query-string param "
                     "and 'Authorization' as HTTP header.",
                     400});
    return;
  }
  if (!auth && !presigned) {
    framework_error(*service, {"MissingAuthenticationTokenException",
                               service->config.missing_token_message, 400});
    return;
  }
  if (auth) {
    const bool has_date = request.FindHeader("x-amz-date") != nullptr ||
                          request.FindHeader("date") != nullptr;
    static constexpr std::string_view kNoDate =
        "Authorization header requires existence of either a 'X-Amz-Date' or "
        "a 'Date' header. ";
    auto parsed = ParseSigV4Authorization(*auth);
    if (!parsed.ok()) {
      std::string message = parsed.status().message();
      // AWS lists a missing date among the missing parameters, before the
      // echoed header.
      std::string suffix = "Authorization=" + *auth;
      if (!has_date && message.size() >= suffix.size() &&
          message.compare(message.size() - suffix.size(), suffix.size(),
                          suffix) == 0) {
        message.insert(message.size() - suffix.size(), kNoDate);
      }
      framework_error(
          *service, {"IncompleteSignatureException", std::move(message), 400});
      return;
    }
    if (!has_date) {
      framework_error(*service,
                      {"IncompleteSignatureException",
                       std::string(kNoDate) + "Authorization=" + *auth, 400});
      return;
    }
    credentials = std::move(parsed).value();
  } else {
    std::string msg = CheckPresignedQuery(request.query);
    if (!msg.empty()) {
      framework_error(*service,
                      {"IncompleteSignatureException", std::move(msg), 400});
      return;
    }
  }
  if (json10 && request.body.empty()) {
    framework_error(*service, {"SerializationException", "", 400});
    return;
  }

  request.body.clear();
  request.body.shrink_to_fit();
  AwsJsonReply reply(std::move(respond), op->context, start);
  // op_name points into the request's headers: copy it before the move.
  AwsJsonCall call{std::string(op_name), std::move(body), std::move(request),
                   std::move(credentials)};
  // The catch-all of STYLE.md: nothing thrown by a handler escapes to the
  // network thread; the client gets a 500 and the log the reason.
  try {
    op->fn(std::move(call), reply);
  } catch (const std::exception& e) {
    RLOG_ERROR("{} {}: handler threw: {}", service->config.metrics_service,
               op->context->operation, e.what());
    reply.Error({service->config.internal_error_type, "", 500});
  } catch (...) {
    RLOG_ERROR("{} {}: handler threw a non-exception",
               service->config.metrics_service, op->context->operation);
    reply.Error({service->config.internal_error_type, "", 500});
  }
}

AwsJsonRouter::AwsJsonRouter() : state_(std::make_shared<State>()) {}
AwsJsonRouter::~AwsJsonRouter() = default;

void AwsJsonRouter::AddService(AwsJsonService service) {
  State::Service s;
  for (auto& [name, fn] : service.operations) {
    s.operations.emplace(name,
                         State::Operation{fn, MakeContext(service, name)});
  }
  service.operations.clear();
  s.unknown = MakeContext(service, "unknown");
  s.config = std::move(service);
  state_->services.push_back(std::move(s));
}

void AwsJsonRouter::SetFallback(Handler fallback) {
  state_->fallback = std::move(fallback);
}

Handler AwsJsonRouter::AsHandler() {
  auto snapshot = std::make_shared<const State>(*state_);
  return [snapshot](Request request, Responder respond) {
    snapshot->Dispatch(std::move(request), std::move(respond));
  };
}

}  // namespace riffle::http
