// The operations endpoints every listener can mount: GET /health and
// GET /metrics (Prometheus text format 0.0.4 from metrics::Global()).
#pragma once

#include "http/message.h"

namespace riffle::http {

// Serves GET (and HEAD) /health with {"status":"ok"} and /metrics with the
// global registry's text; passes every other request to `next` (or answers
// 404 when `next` is empty). The returned Handler is thread-safe.
Handler MakeOpsHandler(Handler next);

}  // namespace riffle::http
