// The read API: HTTP/JSON routes over tables (docs/read-api.md). Each
// route maps a method and a path template to GetItem or Query through a
// TablesClient, answers items as plain JSON with ETags, pages Query results
// with HMAC-signed cursors, applies CORS, and describes itself at
// /openapi.json (OpenAPI 3.1). A route may instead invoke a function
// through a FunctionsClient, as API Gateway's HTTP API Lambda proxy
// integration does (payload format 2.0, http_api_event.h).
//
// Every client error of a table route is a JSON body {"code": ...,
// "message": ...} with 400 (bad parameter or cursor), 404 (no route, no
// item), 405 (method); 503 when the table behind a route does not exist.
// A function route answers what the function returns, or API Gateway's
// 500 {"message":"Internal Server Error"} when it fails.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "core/status.h"
#include "gateway/cursor.h"
#include "gateway/deadline_timer.h"
#include "gateway/functions_client.h"
#include "gateway/routes.h"
#include "gateway/tables_client.h"
#include "http/message.h"

namespace riffle::gateway {

// Thread-safe: requests are served concurrently from a snapshot of the
// configuration, and SetConfig swaps the snapshot atomically (requests in
// flight finish on the old one). Borrows `tables`, which must outlive it
// and every request in flight.
class ReadApi {
 public:
  ReadApi(TablesClient& tables, std::string cursor_secret);
  ~ReadApi();

  // The functions that function routes invoke; without them those routes
  // answer 500. Not owned: must outlive this object and every request in
  // flight. May be called at any time (the server sets it once the
  // functions service is open).
  void SetFunctions(FunctionsClient* functions);

  // Replaces the routes. InvalidArgument (naming the route) for a route
  // that cannot work whatever the tables hold: a duplicate name or
  // method+path, a path that is not /-separated literals and {params},
  // a duplicate path parameter, bad limits, /openapi.json, a method the
  // route's kind does not take.
  Status SetConfig(Config config);

  // Serves one request; never blocks (see TablesClient).
  void Handle(http::Request request, http::Responder respond) const;
  // A Handler over this object (which must outlive it).
  http::Handler AsHandler();

  // The OpenAPI 3.1 document of the current routes.
  std::string OpenApiJson() const;

  struct State;

 private:
  std::shared_ptr<const State> Snapshot() const;

  TablesClient& tables_;
  std::atomic<FunctionsClient*> functions_{nullptr};
  DeadlineTimer deadlines_;  // function routes' timeouts
  const CursorCodec cursors_;
  mutable std::mutex mu_;  // guards state_ (the pointer only)
  std::shared_ptr<const State> state_;
};

// Checks one route's own shape (see SetConfig). Exposed for the stack file.
Status ValidateRoute(const Route& route);

// The names of the {params} of a path template, in order (a last greedy
// "{proxy+}" is named "proxy"); false when the template is malformed.
bool PathParams(std::string_view path, std::vector<std::string>* params);

}  // namespace riffle::gateway
