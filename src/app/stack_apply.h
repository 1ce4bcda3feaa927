// Makes a system match a Stack: in dependency order (schemas, streams,
// tables, functions, mappings, routes), creating what is missing and
// updating what differs, never deleting (routes excepted: the served set is
// the file's). Idempotent: a second apply of the same stack changes nothing
// and reports every item "unchanged". The decisions (order, what differs
// and which update fixes it, the report's wording, the dry-run plan) are
// made here once; a StackBackend (stack_backend.h) carries them out, in
// process for `riffle server --stack` or over the public APIs for `riffle
// apply`.
#pragma once

#include <functional>
#include <string>

#include "app/stack_backend.h"
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

namespace riffle::app {

class RoutesStore;

using ReportFn = std::function<void(const std::string&)>;

struct ApplyOptions {
  // Describe only: report what would change ("would create stream ...")
  // and change nothing.
  bool dry_run = false;
};

// What an apply did, for the caller's summary and exit status.
struct ApplySummary {
  int changed = 0;    // items created or updated (or that would be)
  int unchanged = 0;  // items that already matched
};

// Applies `stack` through `backend`, calling `report` with one line per
// item ("created stream payments (2 shards, ...)", "unchanged: table
// payments", "would update function f: environment" in a dry run). What
// the file and the system's state decide (a table key that differs, a
// reference to nothing, an incompatible schema, a missing code directory:
// docs/stack-file.md) is checked before anything changes, so such a file
// fails whole, dry run or not. Otherwise stops at the first error, which
// names the item; what was applied before it stays applied, and applying
// again resumes.
Result<ApplySummary> ApplyStack(const Stack& stack, StackBackend& backend,
                                const ApplyOptions& options,
                                const ReportFn& report);

// The in-process services a stack is applied to; borrowed.
struct StackTargets {
  registry::Service* registry = nullptr;
  streams::Service* streams = nullptr;
  tables::Service* tables = nullptr;
  functions::Service* functions = nullptr;
  RoutesStore* routes = nullptr;
};

// `riffle server --stack`: applies `stack` to this process's services
// (local_stack_backend.h). Blocking (durable metadata writes): call from
// the main thread at start-up, with the I/O threads running (registry
// writes complete through them).
Status ApplyStack(const Stack& stack, const StackTargets& targets,
                  const ReportFn& report);

}  // namespace riffle::app
