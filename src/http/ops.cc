#include "http/ops.h"

#include "core/metrics.h"

namespace riffle::http {

Handler MakeOpsHandler(Handler next) {
  return [next = std::move(next)](Request request, Responder respond) {
    const bool get = request.method == "GET" || request.method == "HEAD";
    if (get && request.path == "/health") {
      Response r;
      r.SetHeader("content-type", "application/json");
      r.body = "{\"status\":\"ok\"}";
      respond(std::move(r));
      return;
    }
    if (get && request.path == "/metrics") {
      Response r;
      r.SetHeader("content-type", "text/plain; version=0.0.4; charset=utf-8");
      r.body = metrics::Global().RenderText();
      respond(std::move(r));
      return;
    }
    if (next) {
      next(std::move(request), std::move(respond));
      return;
    }
    Response r;
    r.status = 404;
    r.SetHeader("content-type", "text/plain");
    r.body = "Not Found\n";
    respond(std::move(r));
  };
}

}  // namespace riffle::http
