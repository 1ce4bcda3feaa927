// API Gateway's HTTP API Lambda proxy integration, payload format 2.0: the
// event a function route sends and how the function's response becomes the
// HTTP reply. The reference is AWS's "Create AWS Lambda proxy integrations
// for HTTP APIs" (docs.aws.amazon.com/apigateway/latest/developerguide/
// http-api-develop-integrations-lambda.html); docs/read-api.md lists what
// riffle fills in and where it differs. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/routes.h"
#include "http/message.h"
#include "http/rest_router.h"

namespace riffle::gateway {

// What the event carries besides the request itself.
struct HttpApiContext {
  std::string account_id;  // requestContext.accountId
  std::string api_id;      // requestContext.apiId
  std::string request_id;  // requestContext.requestId (API Gateway's own)
  int64_t time_ms = 0;     // when the request arrived, epoch milliseconds
  std::string source_ip;   // the client's address
};

// The payload format 2.0 event of `request`, matched by `route` with
// `match` (decoded path parameters and query), as compact JSON.
//
// Headers are lower case with repeats joined by commas; Cookie headers go
// to `cookies` (one entry per cookie) instead. The body is sent as text
// when it is valid UTF-8 and its content type is textual (or absent), and
// base64 with isBase64Encoded otherwise, as API Gateway does for binary
// media.
std::string HttpApiEvent(const http::Request& request, const Route& route,
                         const http::RouteMatch& match,
                         const HttpApiContext& context);

// True when `content_type` names text (text/*, JSON, XML, JavaScript, form
// data and their +json/+xml kin); an empty one counts as text.
bool IsTextContentType(std::string_view content_type);

// The HTTP reply for a function's successful response `payload`, by API
// Gateway's rules for format 2.0: a JSON object with a statusCode is a
// structured response (statusCode, headers, cookies -> set-cookie, body,
// isBase64Encoded); anything else is the body of a 200 with content-type
// application/json (a JSON string's contents, other JSON as returned). A
// malformed structured response (statusCode not an integer from 100 to
// 599, a body that is not a string, bad base64) is a 500, as API Gateway
// answers; `why`, when given, says what was wrong.
http::Response HttpApiResponse(std::string_view payload,
                               std::string* why = nullptr);

// API Gateway's reply when the integration fails (function error, timeout,
// throttle, no such function): 500 {"message":"Internal Server Error"}.
http::Response HttpApiInternalError();

// API Gateway's reply when the function does not answer within the
// route's timeout: 503 {"message":"Service Unavailable"}.
http::Response HttpApiServiceUnavailable();

// API Gateway's reply to a request whose body is over its payload limit
// (10 MB for HTTP APIs), or whose event is over Lambda's (6 MB): 413
// {"message":"Request Entity Too Large"}.
http::Response HttpApiPayloadTooLarge();

// The largest request body API Gateway takes on an HTTP API: its 10 MB
// payload quota (docs.aws.amazon.com/apigateway/latest/developerguide/
// http-api-quotas.html), which cannot be raised.
inline constexpr size_t kHttpApiMaxBodyBytes = 10u << 20;

// A fresh API Gateway style request id (16 base64 characters).
std::string NewHttpApiRequestId();

}  // namespace riffle::gateway
