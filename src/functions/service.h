// functions::Service: Lambda-style functions and their event-source
// mappings, as a plain C++ interface; lambda_api.h is its REST adapter.
//
// Storage (all under options.dir, DATA_DIR/functions):
//   <name>/function.json      the FunctionConfig, rewritten atomically
//   <name>/code-<revision>/   the unpacked Code.ZipFile
//   <name>/function.log       everything the function's processes print
//   mappings/<uuid>.json      a MappingConfig
//   mappings/<uuid>.checkpoints.json.migrated   checkpoints of earlier
//                             versions, moved into the mapping's lease
//                             table (riffle-leases-<uuid>, lease_table.h)
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "functions/avro_to_table.h"
#include "functions/clients.h"
#include "functions/function_config.h"
#include "functions/process_runtime.h"

namespace riffle::http {
class IoPool;
}
namespace riffle::streams {
class Service;
}

namespace riffle::functions {

class BatchInvoker;

struct ServiceOptions {
  std::filesystem::path dir;  // DATA_DIR/functions
  ArnContext arn;
  // Processes per function when no concurrency is reserved.
  int default_concurrency = 4;
  // node and aws-lambda-ric's bin/index.mjs, for the nodejs runtimes; empty
  // paths make those functions fail to start with Runtime.InvalidEntrypoint.
  std::string node_path = "/usr/bin/node";
  std::string aws_lambda_ric;
  // Given to every function as AWS_ENDPOINT_URL, so that the AWS SDKs in a
  // handler reach this riffle by default.
  std::string aws_endpoint_url;
  std::function<int64_t()> now_ms;  // wall clock
  // What built-in functions (riffle:avro-to-table) reach the registry and
  // the tables through; not owned, must outlive the service. Without them
  // built-in functions cannot run (invocations fail with
  // FailedPrecondition).
  SchemaClient* schemas = nullptr;
  TablesClient* tables = nullptr;
  // Mappings keep their leases and checkpoints in the table
  // riffle-leases-<uuid> through `tables` (lease_table.h), under this
  // worker id; `riffle worker`s running the same mapping share it.
  std::string worker_id = "riffle-server";
  int64_t lease_failover_ms = 10000;
};

// aws-lambda-ric's bin/index.mjs for the nodejs runtimes:
// $RIFFLE_AWS_LAMBDA_RIC if set, else node_modules/aws-lambda-ric beside the
// riffle binary or up to two directories above it (a build directory in the
// checkout), else in the working directory; empty when none is found.
std::string FindAwsLambdaRic();

// The code of CreateFunction / UpdateFunctionCode: exactly one of them.
struct FunctionCode {
  std::optional<std::string> zip;        // the zip file's bytes
  std::optional<std::string> directory;  // riffle extension: a local dir
};

// UpdateFunctionConfiguration: absent fields keep their value.
struct FunctionUpdate {
  std::optional<std::string> runtime, handler, role, description;
  std::optional<int> timeout_seconds, memory_mb;
  std::optional<std::map<std::string, std::string>> environment;
};

struct MappingStatus {
  MappingConfig config;
  std::string state;        // "Enabled", "Disabled"
  std::string last_result;  // LastProcessingResult
};

// Thread-safety: every method may be called from any thread. The control
// methods write files with fsync (and unzip code): call them off the network
// threads. Invoke never blocks.
class Service {
 public:
  // Loads every function and mapping under options.dir and starts the
  // mappings. `io` runs the Runtime API listeners; both it and `streams`
  // must outlive the service.
  static Result<std::unique_ptr<Service>> Open(ServiceOptions options,
                                               http::IoPool& io,
                                               streams::Service* streams);
  ~Service();  // stops mappings, kills processes

  const ServiceOptions& options() const { return options_; }

  Result<FunctionConfig> CreateFunction(FunctionConfig config,
                                        FunctionCode code);
  Result<FunctionConfig> GetFunction(const std::string& name) const;
  std::vector<FunctionConfig> ListFunctions() const;  // sorted by name
  Result<FunctionConfig> UpdateFunctionCode(const std::string& name,
                                            FunctionCode code);
  Result<FunctionConfig> UpdateFunctionConfiguration(
      const std::string& name, const FunctionUpdate& update);
  Status DeleteFunction(const std::string& name);
  // nullopt clears the reservation.
  Status PutFunctionConcurrency(const std::string& name,
                                std::optional<int> reserved);

  // Runs the function; `done` runs once on any thread. NotFound when there
  // is no such function. A built-in function given a Kinesis event stores
  // its records and replies with Lambda's partial-failure shape.
  void Invoke(const std::string& name, std::string payload,
              std::string client_context, InvokeCallback done);

  // True when `name` is a built-in function, which takes records directly
  // (InvokeRecords) rather than a JSON event.
  bool IsBuiltin(const std::string& name) const;
  // Runs a built-in function over raw records (no JSON event, no base64):
  // `records` must stay valid until `done` runs. The outcome is as Invoke's;
  // see SummarizeBuiltin for `report_item_failures`. FailedPrecondition
  // when `name` is not built in.
  void InvokeRecords(const std::string& name,
                     const std::vector<BuiltinRecord>& records,
                     bool report_item_failures, InvokeCallback done);

  // The invoker this service's own mappings use, for a MappingRunner that
  // runs elsewhere (`riffle worker`): built-in functions take the records,
  // the others Lambda's Kinesis event through their processes, and every
  // invocation counts in the function's metrics. Looked up by name at each
  // batch, so a function created later is found. Borrows the service, which
  // must outlive it. Thread-safe.
  std::unique_ptr<BatchInvoker> NewBatchInvoker(const std::string& name,
                                                bool report_item_failures);

  Result<MappingStatus> CreateMapping(MappingConfig config);
  Result<MappingStatus> GetMapping(const std::string& uuid) const;
  // Filtered by function name and/or source ARN when non-empty.
  std::vector<MappingStatus> ListMappings(const std::string& function_name,
                                          const std::string& source_arn) const;
  // Applies the fields the caller set; `apply` edits the stored config.
  Result<MappingStatus> UpdateMapping(
      const std::string& uuid,
      const std::function<Status(MappingConfig&)>& apply);
  // Stops the mapping (its leases released), then deletes it with its
  // lease table. Blocking.
  Result<MappingStatus> DeleteMapping(const std::string& uuid);

 private:
  struct Function;
  struct Mapping;
  Service(ServiceOptions options, http::IoPool& io, streams::Service* streams);

  Status Load();
  void Supervise();
  void Wake();
  ProcessSpec SpecFor(const FunctionConfig& c) const;
  Status SaveFunction(const FunctionConfig& c);
  Status InstallCode(const std::string& name, const FunctionCode& code,
                     FunctionConfig* c);
  Status StartMapping(Mapping& m);
  void StopMapping(Mapping& m);
  MappingStatus StatusOf(const Mapping& m) const;
  // Wraps `done` to count the invocation in the function's metrics.
  InvokeCallback Instrument(const std::string& name, InvokeCallback done);

  const ServiceOptions options_;
  // The riffle executable, which native functions' processes run.
  const std::string native_runtime_path_;
  http::IoPool& io_;
  streams::Service* const streams_;

  // Serializes control operations (one at a time, so a create and a delete
  // of one name cannot interleave); never held while invoking.
  mutable std::mutex control_mu_;
  mutable std::mutex mu_;  // guards functions_ and mappings_
  std::map<std::string, std::shared_ptr<Function>> functions_;
  std::map<std::string, std::unique_ptr<Mapping>> mappings_;

  // The engine of riffle:avro-to-table functions (caches shared by all of
  // them); null without the clients.
  std::unique_ptr<AvroToTable> avro_to_table_;

  int wake_fds_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::thread supervisor_;
};

}  // namespace riffle::functions
