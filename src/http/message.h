// Protocol-independent HTTP request and response values, the same whether
// they arrived over HTTP/1.1 or HTTP/2. Plain data; not thread-safe to
// mutate.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace riffle::http {

struct Header {
  std::string name;  // lower case
  std::string value;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query as sent
  std::string path;    // percent-decoded path, without the query
  std::string query;   // raw query string after '?', without it
  std::vector<Header> headers;
  std::string body;
  int http_major = 1;  // 1 or 2
  // The client's IP address ("127.0.0.1", "::1"); empty when unknown (a
  // request built in a test).
  std::string remote_address;

  // The first header named `lower_name`, or nullptr.
  const std::string* FindHeader(std::string_view lower_name) const;
};

struct Response {
  int status = 200;
  std::vector<Header> headers;
  std::string body;

  Response& SetHeader(std::string name, std::string value);
};

// A response with `status`, content-type application/json and `body`.
Response JsonResponse(int status, std::string body);

// Completes a request. Call exactly once, from any thread.
using Responder = std::function<void(Response)>;

// Serves one request. Runs on a network thread: must not block (no disk
// waits, no locks held for long); hand slow work elsewhere and respond
// later.
using Handler = std::function<void(Request request, Responder respond)>;

// Splits a query string into decoded name/value pairs.
std::vector<std::pair<std::string, std::string>> ParseQuery(
    std::string_view query);
// Percent-decodes `s` ('+' stays '+'); returns false on a bad escape.
bool PercentDecode(std::string_view s, std::string* out);

}  // namespace riffle::http
