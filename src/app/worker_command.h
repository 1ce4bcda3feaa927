// `riffle worker`: the function tier alone. Runs the event-source mappings
// of a stack file against remote endpoints (a riffle server, or AWS Kinesis
// and DynamoDB with a Confluent registry) through their public protocols,
// sharing the shards with every other process that runs the same mapping by
// the mapping's lease table (functions/lease_table.h).
//
//   riffle worker --stack FILE --endpoint AWS_URL --registry REGISTRY_URL
//                 [--worker-id ID] [--data-dir DIR] [--failover-ms N]
//                 [--poll-ms N] [--http-port N]
//
// It creates no stream, table or function: `riffle server --stack` or
// `riffle apply` does. SIGTERM/SIGINT: finish the batches in flight,
// release every lease (others take the shards at once), exit 0. After
// kill -9 the others take the shards once the leases expire
// (--failover-ms), from the last checkpoint. docs/functions.md has the
// details.
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace riffle::app {

// Registers `worker` and holds its options. Owned by main(); not
// thread-safe (used while parsing and running the command line).
class WorkerCommand {
 public:
  explicit WorkerCommand(CLI::App* app);
  bool parsed() const;
  // Runs until SIGTERM/SIGINT; returns the process exit code.
  int Run();

 private:
  CLI::App* cmd_ = nullptr;
  std::string stack_file_;
  std::string endpoint_ = "http://127.0.0.1:4566";
  std::string registry_ = "http://127.0.0.1:8081";
  std::string worker_id_;
  std::string data_dir_;
  int64_t failover_ms_ = 10000;
  int64_t poll_ms_ = 250;
  int http_port_ = -1;  // -1: no listener
};

}  // namespace riffle::app
