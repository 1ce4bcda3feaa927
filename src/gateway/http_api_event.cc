#include "gateway/http_api_event.h"

#include <fmt/format.h>

#include <cctype>
#include <random>
#include <utility>
#include <vector>

#include "core/base64.h"
#include "core/clock.h"
#include "json/json.h"
#include "json/writer.h"

namespace riffle::gateway {
namespace {

// The length of the UTF-8 sequence at the start of `s`, or 0 when it is not
// a valid one (overlong forms, surrogates and values past U+10FFFF
// included).
size_t Utf8SequenceLength(std::string_view s) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

bool IsValidUtf8(std::string_view s) {
  while (!s.empty()) {
    size_t n = Utf8SequenceLength(s);
    if (n == 0) return false;
    s.remove_prefix(n);
  }
  return true;
}

// `s` with every invalid byte replaced by U+FFFD, so that the event stays
// valid JSON whatever bytes a client put in a header.
std::string Utf8Lossy(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  while (!s.empty()) {
    size_t n = Utf8SequenceLength(s);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      s.remove_prefix(1);
    } else {
      out.append(s.substr(0, n));
      s.remove_prefix(n);
    }
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Pairs in first-seen order with the values of repeated names joined by
// commas: how format 2.0 folds repeated headers and query parameters.
std::vector<std::pair<std::string, std::string>> Fold(
    std::vector<std::pair<std::string, std::string>> pairs) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& [name, value] : pairs) {
    bool merged = false;
    for (auto& [n, v] : out) {
      if (n == name) {
        v += ',';
        v += value;
        merged = true;
        break;
      }
    }
    if (!merged) out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

// A header value from a function's response: strings as they are, numbers
// and booleans as their JSON text (API Gateway accepts both).
bool HeaderValue(const json::Value& v, std::string* out) {
  if (v.is_string() || v.is_number()) {
    *out = v.text();
    return true;
  }
  if (v.is_bool()) {
    *out = v.bool_value() ? "true" : "false";
    return true;
  }
  return false;
}

// Header names a function may not set: the server frames the reply itself.
bool IsFramingHeader(std::string_view lower) {
  return lower == "content-length" || lower == "transfer-encoding" ||
         lower == "connection" || lower == "keep-alive" || lower == "upgrade";
}

bool IsHeaderSafe(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

}  // namespace

bool IsTextContentType(std::string_view content_type) {
  std::string type =
      Lower(Trim(content_type.substr(0, content_type.find(';'))));
  if (type.empty()) return true;
  if (type.starts_with("text/")) return true;
  if (type.ends_with("+json") || type.ends_with("+xml")) return true;
  for (std::string_view t :
       {"application/json", "application/xml", "application/javascript",
        "application/ecmascript", "application/x-www-form-urlencoded",
        "application/graphql", "application/x-ndjson"}) {
    if (type == t) return true;
  }
  return false;
}

std::string HttpApiEvent(const http::Request& request, const Route& route,
                         const http::RouteMatch& match,
                         const HttpApiContext& context) {
  std::string_view raw_path = request.target;
  raw_path = raw_path.substr(0, raw_path.find('?'));
  std::string route_key = RouteKey(route);

  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> cookies;
  for (const http::Header& h : request.headers) {
    if (h.name == "cookie") {
      // One entry per cookie, from every Cookie header.
      std::string_view rest = h.value;
      while (!rest.empty()) {
        size_t semi = rest.find(';');
        std::string_view one = Trim(rest.substr(0, semi));
        if (!one.empty()) cookies.push_back(Utf8Lossy(one));
        if (semi == std::string_view::npos) break;
        rest.remove_prefix(semi + 1);
      }
      continue;
    }
    headers.emplace_back(h.name, Utf8Lossy(h.value));
  }
  headers = Fold(std::move(headers));
  auto header = [&](std::string_view name) -> std::string {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "";
  };
  // API Gateway's domainName has no port.
  std::string domain = header("host");
  if (domain.empty()) domain = "localhost";
  if (domain.front() == '[') {
    domain = domain.substr(0, domain.find(']') + 1);  // [::1]:8080
  } else if (size_t colon = domain.rfind(':');
             colon != std::string::npos &&
             domain.find(':') == colon) {  // host:port, not a bare IPv6
    domain.resize(colon);
  }
  std::string prefix = domain.substr(0, domain.find('.'));

  std::string out;
  out.reserve(1024 + request.body.size() * 4 / 3);
  json::Writer w(&out);
  w.BeginObject();
  w.Key("version").String("2.0");
  w.Key("routeKey").String(route_key);
  w.Key("rawPath").String(Utf8Lossy(raw_path));
  w.Key("rawQueryString").String(Utf8Lossy(request.query));
  if (!cookies.empty()) {
    w.Key("cookies").BeginArray();
    for (const std::string& c : cookies) w.String(c);
    w.EndArray();
  }
  w.Key("headers").BeginObject();
  for (const auto& [name, value] : headers) w.Key(name).String(value);
  w.EndObject();
  if (!match.query.empty()) {
    w.Key("queryStringParameters").BeginObject();
    for (const auto& [name, value] : Fold(match.query)) {
      w.Key(Utf8Lossy(name)).String(Utf8Lossy(value));
    }
    w.EndObject();
  }
  w.Key("requestContext").BeginObject();
  w.Key("accountId").String(context.account_id);
  w.Key("apiId").String(context.api_id);
  w.Key("domainName").String(Utf8Lossy(domain));
  w.Key("domainPrefix").String(Utf8Lossy(prefix));
  w.Key("http").BeginObject();
  w.Key("method").String(request.method);
  w.Key("path").String(Utf8Lossy(raw_path));
  w.Key("protocol").String(request.http_major == 2 ? "HTTP/2.0" : "HTTP/1.1");
  w.Key("sourceIp").String(context.source_ip);
  w.Key("userAgent").String(header("user-agent"));
  w.EndObject();
  w.Key("requestId").String(context.request_id);
  w.Key("routeKey").String(route_key);
  w.Key("stage").String("$default");
  // "12/Mar/2020:19:03:58 +0000": the Common Log Format time.
  w.Key("time").String(FormatUtc(context.time_ms, "%d/%b/%Y:%H:%M:%S +0000"));
  w.Key("timeEpoch").Int(context.time_ms);
  w.EndObject();
  if (!match.params.empty()) {
    w.Key("pathParameters").BeginObject();
    for (const auto& [name, value] : match.params) {
      w.Key(name).String(Utf8Lossy(value));
    }
    w.EndObject();
  }
  bool base64 = false;
  if (!request.body.empty()) {
    const std::string* type = request.FindHeader("content-type");
    base64 =
        !IsTextContentType(type ? *type : "") || !IsValidUtf8(request.body);
    w.Key("body");
    if (base64) {
      w.Base64(request.body);
    } else {
      w.String(request.body);
    }
  }
  w.Key("isBase64Encoded").Bool(base64);
  w.EndObject();
  return out;
}

http::Response HttpApiResponse(std::string_view payload, std::string* why) {
  auto malformed = [&](std::string reason) {
    if (why) *why = std::move(reason);
    return HttpApiInternalError();
  };
  http::Response r;
  std::string_view trimmed = payload;
  while (!trimmed.empty() &&
         std::isspace(static_cast<unsigned char>(trimmed.front())))
    trimmed.remove_prefix(1);
  while (!trimmed.empty() &&
         std::isspace(static_cast<unsigned char>(trimmed.back())))
    trimmed.remove_suffix(1);
  if (trimmed.empty()) {
    // A handler that returns nothing.
    r.SetHeader("content-type", "application/json");
    return r;
  }
  auto parsed = json::Parse(trimmed);
  if (!parsed.ok()) {
    return malformed("the function's response is not JSON: " +
                     parsed.status().message());
  }
  const json::Value& v = *parsed;
  const json::Value* status = v.is_object() ? v.Find("statusCode") : nullptr;
  if (status == nullptr) {
    // Not a structured response: the value is the body.
    r.SetHeader("content-type", "application/json");
    r.body = v.is_string() ? v.text() : std::string(trimmed);
    return r;
  }
  auto code = status->AsInt64();
  if (!code || *code < 100 || *code > 599) {
    return malformed("statusCode must be an integer from 100 to 599");
  }
  r.status = static_cast<int>(*code);
  if (const json::Value* headers = v.Find("headers");
      headers && !headers->is_null()) {
    if (!headers->is_object()) return malformed("headers must be an object");
    for (const auto& [name, value] : headers->members()) {
      std::string text;
      if (!HeaderValue(value, &text)) {
        return malformed(fmt::format("header {} must be a string", name));
      }
      std::string lower = Lower(name);
      if (lower.empty() || !IsHeaderSafe(lower) || !IsHeaderSafe(text)) {
        return malformed(fmt::format("header {} is not a valid header", name));
      }
      if (IsFramingHeader(lower)) continue;
      r.SetHeader(std::move(lower), std::move(text));
    }
  }
  if (const json::Value* cookies = v.Find("cookies");
      cookies && !cookies->is_null()) {
    if (!cookies->is_array()) return malformed("cookies must be an array");
    for (const json::Value& c : cookies->items()) {
      if (!c.is_string() || !IsHeaderSafe(c.text())) {
        return malformed("cookies must be strings");
      }
      // Each cookie is its own Set-Cookie header (RFC 6265 section 3).
      r.headers.push_back({"set-cookie", c.text()});
    }
  }
  bool base64 = false;
  if (const json::Value* b = v.Find("isBase64Encoded"); b && !b->is_null()) {
    if (!b->is_bool()) return malformed("isBase64Encoded must be a boolean");
    base64 = b->bool_value();
  }
  if (const json::Value* body = v.Find("body"); body && !body->is_null()) {
    if (!body->is_string()) return malformed("body must be a string");
    if (base64) {
      auto bytes = base64::Decode(body->text());
      if (!bytes) return malformed("body is not valid base64");
      r.body = std::move(*bytes);
    } else {
      r.body = body->text();
    }
  }
  return r;
}

http::Response HttpApiInternalError() {
  return http::JsonResponse(500, R"({"message":"Internal Server Error"})");
}

http::Response HttpApiServiceUnavailable() {
  return http::JsonResponse(503, R"({"message":"Service Unavailable"})");
}

http::Response HttpApiPayloadTooLarge() {
  return http::JsonResponse(413, R"({"message":"Request Entity Too Large"})");
}

std::string NewHttpApiRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  std::string bytes(12, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(a >> (8 * i));
  for (int i = 0; i < 4; ++i) bytes[8 + i] = static_cast<char>(b >> (8 * i));
  return base64::Encode(bytes);
}

}  // namespace riffle::gateway
