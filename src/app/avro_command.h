// `riffle avro ...`: Avro from the command line, for scripts and for checking
// riffle against other Avro implementations (tests/avro/).
//
//   riffle avro decode --schema W [--reader-schema R] [--format avro-json|json]
//                      [--framing none|confluent|glue|single-object]
//                      [--schema-id N] [--one]
//       stdin: binary messages back to back (an Avro datum is self-delimiting
//       once its writer schema is known, and so is each framing header); with
//       --one, stdin is exactly one message. stdout: one JSON line each.
//   riffle avro encode --schema W [--format avro-json|json]
//                      [--framing none|confluent|single-object] [--schema-id N]
//       stdin: one JSON value per line; stdout: the messages back to back.
//   riffle avro canonical --schema W     Parsing Canonical Form
//   riffle avro fingerprint --schema W [--algorithm crc64-avro|md5|sha256]
//   riffle avro cat FILE [--reader-schema R] [--format ...]
//       the records of an object container file ("-": stdin), as JSON lines.
//   riffle avro write FILE --schema W [--format ...] [--codec ...]
//       JSON lines from stdin into an object container file ("-": stdout).
//
// Inputs are read whole into memory: these are tools, not a pipeline stage.
// Every failure is one line on stderr naming the subcommand and where the
// input went wrong, and exit code 1.
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace riffle::app {

// Registers the `avro` subcommand and its children on the application and
// holds their parsed options. Owned by main(); not thread-safe (it is only
// used while parsing and running the command line).
class AvroCommand {
 public:
  explicit AvroCommand(CLI::App* app);

  // True when the command line selected `riffle avro ...`.
  bool parsed() const;
  // Runs the selected subcommand; returns the process exit code.
  int Run();

 private:
  CLI::App* avro_ = nullptr;
  CLI::App* decode_ = nullptr;
  CLI::App* encode_ = nullptr;
  CLI::App* canonical_ = nullptr;
  CLI::App* fingerprint_ = nullptr;
  CLI::App* cat_ = nullptr;
  CLI::App* write_ = nullptr;

  std::string schema_file_;
  std::string reader_schema_file_;
  std::string format_ = "avro-json";
  std::string framing_ = "none";
  int64_t schema_id_ = -1;  // -1: not given
  bool one_ = false;
  std::string algorithm_ = "crc64-avro";
  std::string file_;
  std::string codec_ = "null";
};

}  // namespace riffle::app
