// Makes this process's services match a Stack (`riffle server --stack`):
// in dependency order (schemas, streams, tables, functions, mappings,
// routes), creating what is missing and updating what differs, never
// deleting. Idempotent: a second apply of the same stack changes nothing
// and reports every item "unchanged".
#pragma once

#include <functional>
#include <string>

#include "app/stack_file.h"
#include "core/status.h"

namespace riffle::registry {
class Service;
}
namespace riffle::streams {
class Service;
}
namespace riffle::tables {
class Service;
}
namespace riffle::functions {
class Service;
}
namespace riffle::gateway {
class ReadApi;
}

namespace riffle::app {

// The in-process services a stack is applied to; borrowed.
struct StackTargets {
  registry::Service* registry = nullptr;
  streams::Service* streams = nullptr;
  tables::Service* tables = nullptr;
  functions::Service* functions = nullptr;
  gateway::ReadApi* read_api = nullptr;
};

// Applies `stack`, calling `report` with one line per item ("created
// stream payments (2 shards)", "unchanged: table payments"). Blocking
// (durable metadata writes): call from the main thread at start-up, with
// the I/O threads running (registry writes complete through them). Stops
// at the first error, which names the item; what was applied before it
// stays applied, and applying again resumes.
Status ApplyStack(const Stack& stack, const StackTargets& targets,
                  const std::function<void(const std::string&)>& report);

}  // namespace riffle::app
