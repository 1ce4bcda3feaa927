// The read API's routes as last applied, kept across restarts. A routes
// document (Stack::routes_document: the stack file's `read_api` and
// `routes` sections as canonical JSON) is what `riffle server --stack` and
// `riffle apply` set; this class serves it through the ReadApi and keeps it
// in DATA_DIR/gateway/routes.json, so that a restart serves the routes of
// the last apply, whichever command made it.
//
// The routes endpoint (riffle's extension on the http port; there is no
// AWS API for these routes; docs/stack-file.md, "Routes endpoint"):
//   GET /_riffle/routes   200, the document served now ({} when none)
//   PUT /_riffle/routes   body: a routes document; validated like a stack
//                         file, then served and stored. 200 with the
//                         stored document, 400 {"message": "..."} naming
//                         the line and field of a bad one.
#pragma once

#include <filesystem>
#include <mutex>
#include <string>

#include "app/stack_file.h"
#include "core/status.h"
#include "http/message.h"

namespace riffle {
class ThreadPool;
}
namespace riffle::gateway {
class ReadApi;
}

namespace riffle::app {

// The path of the routes endpoint.
inline constexpr std::string_view kRoutesPath = "/_riffle/routes";

// Borrows the ReadApi (which must outlive it). Thread-safe: Set calls are
// serialized, so the file and the served routes always agree.
class RoutesStore {
 public:
  RoutesStore(gateway::ReadApi* read_api, std::filesystem::path file);

  // Serves the stored document, if any (at start, before listening).
  // DataLoss when it cannot be read or no longer parses.
  Status Load();

  // The document served now; "" when none was ever set.
  std::string Document() const;

  // Serves `stack`'s routes and stores its document (fsync'd) — blocking.
  // InvalidArgument when the ReadApi rejects a route.
  Status Set(const Stack& stack);

  // Parses `document` as a routes document (nothing but `read_api` and
  // `routes`) and Sets it.
  Status SetDocument(const std::string& document);

  // Serves kRoutesPath and hands every other request to `next`. PUTs run
  // on `blocking` (they sync a file); both must outlive the handler.
  http::Handler Wrap(http::Handler next, ThreadPool& blocking);

 private:
  gateway::ReadApi* const read_api_;
  const std::filesystem::path file_;
  mutable std::mutex mu_;
  std::string document_;  // guarded by mu_
};

}  // namespace riffle::app
