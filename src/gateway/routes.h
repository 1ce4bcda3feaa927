// The read API's configuration: which routes exist and what each does. The
// stack file fills these structs in (app/stack_file.h); the gateway only
// reads them. Plain data; not thread-safe to mutate.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace riffle::gateway {

// What a route does with the table behind it.
enum class RouteKind {
  // GetItem: every key attribute of the table comes from the path parameter
  // of the same name; the item is the response body.
  kGetItem,
  // Query on the table or an index: the partition key comes from the path
  // parameter of the same name, the sort key conditions from the query
  // parameters declared in `SortKeyParams`.
  kQuery,
  // Invokes `function` with API Gateway's HTTP API proxy event (payload
  // format 2.0) and answers what it returns (http_api_event.h). Any method
  // but OPTIONS (the CORS preflight) and HEAD; no table.
  kFunction,
};

// Which query parameters of a Query route constrain the sort key. An empty
// name disables that condition. `from` alone is >=, `to` alone <=, both
// BETWEEN (inclusive, as DynamoDB's); `prefix` is begins_with and cannot be
// combined with the others (DynamoDB allows one sort key condition).
struct SortKeyParams {
  std::string from;
  std::string to;
  std::string prefix;
};

// API Gateway's method of a route that serves every method no other route
// of its path names ("ANY /orders/{id}"); function routes only.
inline constexpr std::string_view kAnyMethod = "ANY";
// API Gateway's catch-all route key: the path of the function route that
// serves every request no other route matches (its method is kAnyMethod).
inline constexpr std::string_view kDefaultRoute = "$default";

struct Route {
  // The OpenAPI operationId, and part of what a cursor is bound to: unique
  // among the routes.
  std::string name;
  // GET for table routes; GET, POST, PUT, PATCH, DELETE or ANY for
  // functions.
  std::string method = "GET";
  // Literal segments and {param} segments: "/accounts/{accountId}/payments",
  // the last of which may be API Gateway's greedy "{proxy+}" (the rest of
  // the path); or kDefaultRoute.
  std::string path;
  RouteKind kind = RouteKind::kGetItem;
  std::string table;     // kGetItem, kQuery
  std::string function;  // kFunction: the function's name
  std::string index;     // kQuery: "" queries the table itself
  // Top-level attributes to return; empty returns whole items.
  std::vector<std::string> projection;
  SortKeyParams sort_key;  // kQuery
  int default_limit = 25;  // kQuery: page size without ?limit=
  int max_limit = 100;     // kQuery: the largest ?limit= accepted
  // kFunction: how long the gateway waits for the function before it
  // answers 503 (API Gateway's timeoutInMillis: 50 to 30000). The function
  // runs on to its own timeout.
  int timeout_ms = 30000;
  std::string description;  // for OpenAPI
};

// Cross-origin resource sharing. Disabled when `allowed_origins` is empty.
struct Cors {
  // Exact origins ("https://app.example.com"), or "*" for any.
  std::vector<std::string> allowed_origins;
  std::vector<std::string> allowed_headers = {"content-type", "if-none-match"};
  int max_age_seconds = 600;  // how long a browser caches a preflight
};

// API Gateway's route key: "GET /orders/{id}", "ANY /orders/{id}" or
// "$default" (the event's routeKey).
inline std::string RouteKey(const Route& route) {
  if (route.path == kDefaultRoute) return std::string(kDefaultRoute);
  return route.method + " " + route.path;
}

struct Config {
  std::vector<Route> routes;
  Cors cors;
  std::string title = "riffle read API";  // OpenAPI info.title
};

}  // namespace riffle::gateway
