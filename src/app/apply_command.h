// `riffle apply`: makes a running server match a stack file through its
// public APIs only (remote_stack_backend.h), so it works from another
// machine.
//
//   riffle apply FILE [--endpoint AWS_URL] [--registry REGISTRY_URL]
//                     [--http HTTP_URL] [--dry-run]
//       stdout: one line per item ("created stream payments (...)",
//       "unchanged: table payments", "would update ..." with --dry-run),
//       then a summary. Exit 0 when applied (or planned), 2 when the file
//       does not parse (the message names file, line and field), 1 when
//       applying fails (the message names the file and the item; what was
//       applied before stays, and applying again resumes).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace riffle::app {

// Registers `apply` and holds its options. Owned by main(); not
// thread-safe (used while parsing and running the command line).
class ApplyCommand {
 public:
  explicit ApplyCommand(CLI::App* app);
  bool parsed() const;
  // Runs the command; returns the process exit code.
  int Run();

 private:
  CLI::App* cmd_ = nullptr;
  std::string file_;
  std::string endpoint_ = "http://127.0.0.1:4566";
  std::string registry_ = "http://127.0.0.1:8081";
  std::string http_ = "http://127.0.0.1:8080";
  std::string role_ = "arn:aws:iam::000000000000:role/riffle-apply";
  bool dry_run_ = false;
};

}  // namespace riffle::app
