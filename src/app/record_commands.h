// `riffle produce` and `riffle tail`: Avro records on a stream from the
// command line, through the public APIs only (Kinesis on --endpoint, the
// Confluent registry on --registry), so they work against any riffle
// server, and against AWS Kinesis with a Confluent registry.
//
//   riffle produce --endpoint URL --registry URL --stream S --subject SUBJ
//                  [--schema FILE] [--partition-key-field F] < records.jsonl
//       stdin: one plain-JSON record per line (docs/avro.md). Each is
//       encoded as Avro with the subject's latest schema (registered first
//       with --schema), framed with its id (Confluent wire format) and put
//       with PutRecords. Exit 1 naming the line of the first record that
//       does not match the schema (the records before it are put).
//   riffle tail --endpoint URL --registry URL --stream S
//               [--from trim-horizon|latest] [--format json|avro-json]
//               [--max N]
//       stdout: every record as a JSON line, decoded with the schema its
//       framing names; follows every shard, parents before children, until
//       Ctrl-C or N records.
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace riffle::app {

// Registers `produce` and holds its options. Owned by main(); not
// thread-safe (used while parsing and running the command line).
class ProduceCommand {
 public:
  explicit ProduceCommand(CLI::App* app);
  bool parsed() const;
  // Runs the command; returns the process exit code.
  int Run();

 private:
  CLI::App* cmd_ = nullptr;
  std::string endpoint_ = "http://127.0.0.1:4566";
  std::string registry_ = "http://127.0.0.1:8081";
  std::string stream_;
  std::string subject_;
  std::string schema_file_;
  std::string partition_key_field_;
  int batch_size_ = 500;
};

// Registers `tail` and holds its options. Owned by main(); not thread-safe.
class TailCommand {
 public:
  explicit TailCommand(CLI::App* app);
  bool parsed() const;
  // Runs the command until SIGINT/SIGTERM or --max records; returns the
  // process exit code.
  int Run();

 private:
  CLI::App* cmd_ = nullptr;
  std::string endpoint_ = "http://127.0.0.1:4566";
  std::string registry_ = "http://127.0.0.1:8081";
  std::string stream_;
  std::string from_ = "trim-horizon";
  std::string format_ = "json";
  int64_t max_ = 0;  // 0: no limit
};

}  // namespace riffle::app
