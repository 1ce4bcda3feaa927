// riffle: the command line.
#include <CLI/CLI.hpp>
#include <iostream>

#include "app/apply_command.h"
#include "app/avro_command.h"
#include "app/record_commands.h"
#include "app/server_command.h"
#include "app/worker_command.h"
#include "core/logging.h"
#include "functions/native_runtime.h"

int main(int argc, char** argv) {
  // The process of a riffle:native function (functions/native_runtime.h),
  // started by riffle itself: not a user command, so not in --help.
  if (argc == 2 &&
      std::string_view(argv[1]) == riffle::functions::kNativeRuntimeCommand)
    return riffle::functions::RunNativeRuntime();
  CLI::App app{
      "riffle: streams, functions and tables that speak AWS's protocols"};
  app.require_subcommand(1);
  // Lets global options such as --log-level follow the subcommand.
  app.fallthrough();
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug, info, warn or error")
      ->capture_default_str();

  riffle::app::ServerConfig config;
  CLI::App* server = app.add_subcommand("server", "Run riffle");
  server->add_option("--data-dir", config.data_dir, "Where all data lives")
      ->capture_default_str();
  server->add_option("--host", config.host, "Address every listener binds")
      ->capture_default_str();
  server
      ->add_option("--aws-port", config.aws_port,
                   "Kinesis, DynamoDB and Lambda APIs (0: any)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  server
      ->add_option("--registry-port", config.registry_port,
                   "Schema registry (0: any)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  server
      ->add_option("--http-port", config.http_port,
                   "Read API, /health, /metrics (0: any)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  server->add_option("--stack", config.stack_file,
                     "Stack file to apply at start");
  server
      ->add_option("--durability", config.durability,
                   "strict: acknowledge after fsync; relaxed: skip fsync")
      ->capture_default_str()
      ->check(CLI::IsMember({"strict", "relaxed"}));
  server
      ->add_option("--threads", config.threads,
                   "Network threads (0: one per core)")
      ->check(CLI::Range(0, 256));
  server->add_flag("--enforce-shard-limits", config.enforce_shard_limits,
                   "Apply AWS's per-shard read and write limits");
  server
      ->add_option("--retention-check-ms", config.retention_check_ms,
                   "How often expired log segments are deleted")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{10}, int64_t{86'400'000}));
  server
      ->add_option(
          "--max-body-bytes", config.max_body_bytes,
          "Largest request body the AWS and registry ports accept (413 "
          "beyond; the read API takes API Gateway's 10 MB)")
      ->capture_default_str();
  server->add_option("--tls-cert", config.tls_cert,
                     "PEM certificate chain: serve https and h2");
  server->add_option("--tls-key", config.tls_key,
                     "PEM private key for --tls-cert");
  server->add_flag("--print-help-on-ready", config.print_welcome,
                   "Print the endpoints and example commands once ready");

  riffle::app::ApplyCommand apply(&app);
  riffle::app::AvroCommand avro(&app);
  riffle::app::ProduceCommand produce(&app);
  riffle::app::TailCommand tail(&app);
  riffle::app::WorkerCommand worker(&app);

  CLI11_PARSE(app, argc, argv);
  riffle::logging::Init(log_level);
  if (server->parsed()) return riffle::app::RunServer(config);
  if (apply.parsed()) return apply.Run();
  if (avro.parsed()) return avro.Run();
  if (produce.parsed()) return produce.Run();
  if (tail.parsed()) return tail.Run();
  if (worker.parsed()) return worker.Run();
  return 2;
}
