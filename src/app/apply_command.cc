// `riffle apply` (apply_command.h): the stack file's decisions are
// stack_apply.h's; this file parses the command line, builds the remote
// backend and prints.
#include "app/apply_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/remote_stack_backend.h"
#include "app/stack_apply.h"
#include "app/stack_file.h"

namespace riffle::app {

ApplyCommand::ApplyCommand(CLI::App* app) {
  cmd_ = app->add_subcommand(
      "apply",
      "Make a running server match a stack file, through its public APIs");
  cmd_->add_option("file", file_, "Stack file (YAML)")->required();
  cmd_->add_option("--endpoint", endpoint_,
                   "Kinesis, DynamoDB and Lambda API URL")
      ->capture_default_str();
  cmd_->add_option("--registry", registry_, "Schema registry URL")
      ->capture_default_str();
  cmd_->add_option("--http", http_,
                   "riffle's http port (read-API routes), used when the "
                   "stack declares routes")
      ->capture_default_str();
  cmd_->add_option("--role", role_,
                   "Execution role of created functions (AWS needs a real "
                   "one; riffle ignores it)")
      ->capture_default_str();
  cmd_->add_flag("--dry-run", dry_run_,
                 "Print what would change, change nothing");
}

bool ApplyCommand::parsed() const { return cmd_->parsed(); }

int ApplyCommand::Run() {
  auto fail = [](int code, const std::string& message) {
    std::fprintf(stderr, "riffle apply: %s\n", message.c_str());
    return code;
  };
  auto stack = LoadStack(file_);
  if (!stack.ok()) return fail(2, stack.status().message());

  RemoteTargets targets;
  auto aws = client::ParseAwsEndpoint(endpoint_);
  if (!aws.ok()) return fail(2, "--endpoint: " + aws.status().message());
  auto registry = http::ParseUrl(registry_);
  if (!registry.ok())
    return fail(2, "--registry: " + registry.status().message());
  auto http = http::ParseUrl(http_);
  if (!http.ok()) return fail(2, "--http: " + http.status().message());
  targets.aws = *aws;
  targets.registry = *registry;
  targets.http = *http;
  targets.aws_url = endpoint_;
  targets.registry_url = registry_;
  targets.http_url = http_;
  targets.role = role_;
  RemoteStackBackend backend(std::move(targets));

  std::printf("%s %s to %s\n", dry_run_ ? "planning" : "applying",
              file_.c_str(), backend.Describe().c_str());
  std::fflush(stdout);
  ApplyOptions options;
  options.dry_run = dry_run_;
  auto summary =
      ApplyStack(*stack, backend, options, [](const std::string& line) {
        std::printf("  %s\n", line.c_str());
        std::fflush(stdout);
      });
  // The message names the file, the item's line and its field.
  if (!summary.ok()) {
    std::string message = summary.status().message();
    if (summary.status().code() == StatusCode::kUnavailable)
      message += " (is the server running? see --endpoint, --registry, --http)";
    return fail(1, message);
  }
  if (dry_run_) {
    std::printf("dry run: %d to change, %d unchanged; nothing was changed\n",
                summary->changed, summary->unchanged);
  } else if (summary->changed == 0) {
    std::printf("no changes: all %d items match %s\n", summary->unchanged,
                file_.c_str());
  } else {
    std::printf("%d changed, %d unchanged\n", summary->changed,
                summary->unchanged);
  }
  return 0;
}

}  // namespace riffle::app
