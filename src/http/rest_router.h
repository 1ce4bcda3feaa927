// A small path router for REST APIs (the Confluent registry, later the
// Lambda REST API): routes are a method and a pattern of literal segments
// and `{name}` parameters ("/subjects/{subject}/versions/{version}").
//
// Parameters are taken from the raw request target and percent-decoded one
// segment at a time, so that an encoded slash ("a%2Fb") stays inside its
// parameter instead of splitting the path. A path that matches no pattern
// goes to the not-found handler; one that matches a pattern under another
// method goes to the method-not-allowed handler (with the allowed methods),
// as JAX-RS servers (Confluent's) answer 404 and 405.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.h"

namespace riffle::http {

// What a matched route sees besides the request: its path parameters and
// the decoded query. Plain data.
struct RouteMatch {
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::pair<std::string, std::string>> query;

  // The path parameter `name`; a programming error if the pattern has none
  // of that name (returns an empty string then).
  const std::string& Param(std::string_view name) const;
  // The last value of query parameter `name`, or nullopt when absent.
  std::optional<std::string> Query(std::string_view name) const;
  // A boolean query parameter: "true" (any case) is true, anything else
  // false, absent is `fallback` (JAX-RS's Boolean parsing).
  bool QueryBool(std::string_view name, bool fallback = false) const;
};

using RestHandler =
    std::function<void(Request request, RouteMatch match, Responder respond)>;
using MethodNotAllowedHandler = std::function<void(
    Request request, std::vector<std::string> allowed, Responder respond)>;

// Built once at start-up, then only read: Add and the Set* calls are not
// thread-safe, but a finished router serves concurrent requests (the Handler
// from AsHandler shares ownership of the routes).
class RestRouter {
 public:
  RestRouter();

  // `pattern` starts with '/'; a segment "{name}" matches any one non-empty
  // segment, and a last segment "{name+}" (API Gateway's greedy variable)
  // one or more: `name` is then the rest of the path, its decoded segments
  // joined by '/'. When several patterns match, one without a greedy
  // segment wins, then the one with a literal segment earliest
  // ("/schemas/types" over "/schemas/{x}", "/a/b/{p+}" over "/a/{p+}").
  // `method` is
  // kAnyMethod for a route that serves every method: among matches of the
  // same pattern a route of the request's own method beats it, and a
  // request it matches is never a 405 (API Gateway's ANY routes).
  void Add(std::string method, std::string_view pattern, RestHandler handler);

  static constexpr std::string_view kAnyMethod = "*";
  void SetNotFound(Handler handler);
  void SetMethodNotAllowed(MethodNotAllowedHandler handler);

  // Routes one request (on the calling thread).
  void Dispatch(Request request, Responder respond) const;

  // A Handler that dispatches to a snapshot of this router's routes.
  Handler AsHandler() const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{name}" for a parameter
    RestHandler handler;
  };
  struct Routes {
    std::vector<Route> routes;
    Handler not_found;
    MethodNotAllowedHandler method_not_allowed;
  };
  static void DispatchTo(const Routes& routes, Request request,
                         Responder respond);

  std::shared_ptr<Routes> routes_;
};

// Splits the path of a raw request target ("/a/b%2Fc/?x=1") into decoded
// segments ({"a", "b/c"}); a trailing slash is ignored. False when a
// segment has a bad percent escape.
bool SplitPath(std::string_view target, std::vector<std::string>* segments);

}  // namespace riffle::http
