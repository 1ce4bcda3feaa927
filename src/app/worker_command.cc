#include "app/worker_command.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <vector>

#include "app/stack_file.h"
#include "client/aws_clients.h"
#include "client/registry_client.h"
#include "core/clock.h"
#include "core/logging.h"
#include "functions/avro_to_table.h"
#include "functions/lease_table.h"
#include "functions/mapping_runner.h"
#include "functions/remote_clients.h"
#include "functions/service.h"
#include "http/ops.h"
#include "http/server.h"
#include "json/json.h"

namespace riffle::app {

namespace fs = std::filesystem;

WorkerCommand::WorkerCommand(CLI::App* app) {
  cmd_ = app->add_subcommand(
      "worker",
      "Run a stack's event-source mappings against remote endpoints, sharing "
      "shards with other workers by leases");
  cmd_->add_option("--stack", stack_file_, "Stack file with the mappings")
      ->required();
  cmd_->add_option("--endpoint", endpoint_, "Kinesis, DynamoDB and Lambda URL")
      ->capture_default_str();
  cmd_->add_option("--registry", registry_, "Confluent schema registry URL")
      ->capture_default_str();
  cmd_->add_option("--worker-id", worker_id_,
                   "Lease owner name (default: host:pid:random)");
  cmd_->add_option("--data-dir", data_dir_,
                   "worker.json, and functions/: code and logs of the "
                   "functions (default: a temporary directory)");
  cmd_->add_option("--failover-ms", failover_ms_,
                   "A lease not renewed for this long is taken by others")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{300}, int64_t{3'600'000}));
  cmd_->add_option("--poll-ms", poll_ms_,
                   "How often an idle shard is read again")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{60'000}));
  cmd_->add_option("--http-port", http_port_,
                   "Serve /metrics and /health here (0: any free port)")
      ->check(CLI::Range(0, 65535));
}

bool WorkerCommand::parsed() const { return cmd_->parsed(); }

namespace {

std::string DefaultWorkerId() {
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, 5, "host");
  std::random_device rd;
  return fmt::format("{}:{}:{:08x}", host, ::getpid(), rd());
}

// One mapping as this worker runs it. Members are declared in the order
// they must be built (and destroyed in reverse: the runner first).
struct WorkerMapping {
  std::string what;
  std::unique_ptr<functions::RemoteRecordSource> source;
  std::unique_ptr<functions::RemoteFailureDestination> destination;
  std::unique_ptr<functions::BatchInvoker> invoker;
  std::unique_ptr<functions::LeaseCoordinator> leases;
  std::unique_ptr<functions::MappingRunner> runner;
};

// The stream's ARN, from the endpoint (so that it is right for AWS too).
Result<std::string> StreamArn(client::AwsJsonClient& kinesis,
                              const std::string& stream) {
  json::Value request = json::Value::Object();
  request.Set("StreamName", json::Value::String(stream));
  ASSIGN_OR_RETURN(json::Value reply,
                   kinesis.Call("DescribeStreamSummary", request));
  const json::Value* d = reply.Find("StreamDescriptionSummary");
  const json::Value* arn = d ? d->Find("StreamARN") : nullptr;
  if (!arn || !arn->is_string())
    return Unavailable("DescribeStreamSummary without StreamARN");
  return arn->text();
}

// The lease table of a mapping: the one of the endpoint's own mapping of
// this function and stream when there is one (so that a riffle server
// running it, or one where it is disabled, shares its leases with the
// workers), else one named after the function and the stream.
std::string LeaseTable(client::LambdaClient& lambda,
                       const std::string& function, const std::string& stream,
                       const std::string& stream_arn) {
  Result<json::Value> list =
      lambda.Call("GET", "/2015-03-31/event-source-mappings/?FunctionName=" +
                             http::UriEncode(function) +
                             "&EventSourceArn=" + http::UriEncode(stream_arn));
  if (list.ok()) {
    const json::Value* m = list->Find("EventSourceMappings");
    if (m && m->is_array() && !m->items().empty()) {
      const json::Value* uuid = m->items()[0].Find("UUID");
      if (uuid && uuid->is_string())
        return functions::LeaseTableName(uuid->text());
    }
  } else {
    RLOG_INFO(
        "no Lambda mapping of {} at the endpoint ({}); leases named "
        "after the function and stream",
        function, list.status().ToString());
  }
  return "riffle-leases-" + function + "-" + stream;
}

// Makes the worker's function service hold the stack's functions as the
// file says now: a function left from an earlier run is replaced (its code
// directory is the user's and stays; its log goes).
Status InstallFunctions(const Stack& stack, const std::string& worker_id,
                        functions::Service& service) {
  for (const StackFunction& f : stack.functions) {
    functions::FunctionConfig config = f.config;
    // Handlers may tell workers apart (tests, logs); Lambda has no such
    // variable, and a stack's own value wins.
    config.environment.emplace("RIFFLE_WORKER_ID", worker_id);
    functions::FunctionCode code;
    if (f.code) code.directory = f.code->string();
    if (service.GetFunction(config.name).ok())
      RETURN_IF_ERROR(service.DeleteFunction(config.name));
    Result<functions::FunctionConfig> made =
        service.CreateFunction(config, code);
    if (!made.ok())
      return Status(made.status().code(),
                    "function " + config.name + ": " + made.status().message());
    if (f.concurrency)
      RETURN_IF_ERROR(
          service.PutFunctionConcurrency(config.name, f.concurrency));
  }
  return Status::Ok();
}

}  // namespace

int WorkerCommand::Run() {
  // Shutdown signals go to sigwait below, in no other thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Result<Stack> stack = LoadStack(stack_file_);
  if (!stack.ok()) {
    std::fprintf(stderr, "riffle worker: %s\n",
                 stack.status().message().c_str());
    return 2;
  }
  Result<client::AwsEndpoint> aws = client::ParseAwsEndpoint(endpoint_);
  Result<http::Url> registry_url = http::ParseUrl(registry_);
  if (!aws.ok() || !registry_url.ok()) {
    std::fprintf(
        stderr, "riffle worker: %s\n",
        (!aws.ok() ? aws.status() : registry_url.status()).message().c_str());
    return 2;
  }
  if (worker_id_.empty()) worker_id_ = DefaultWorkerId();

  std::unique_ptr<client::AwsJsonClient> kinesis =
      client::NewKinesisClient(*aws);
  std::unique_ptr<client::AwsJsonClient> dynamodb =
      client::NewDynamoDbClient(*aws);
  client::LambdaClient lambda(*aws);
  client::RegistryClient registry(*registry_url);
  functions::RemoteTablesClient tables(*dynamodb);
  functions::RemoteSchemaClient schemas(registry);

  // The functions run here as in a server, by the same functions::Service
  // (process runtimes with the Runtime API on `io`, built-ins in process
  // over the remote clients), with no stream and no mapping of its own:
  // the mappings below drive it through NewBatchInvoker.
  std::error_code ec;
  fs::path data_dir = data_dir_;
  fs::path scratch;  // removed at exit when the data directory is ours
  if (data_dir.empty()) {
    std::string tmpl = (fs::temp_directory_path(ec) / "riffle-worker-XXXXXX");
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::fprintf(stderr, "riffle worker: cannot make a temporary dir\n");
      return 1;
    }
    data_dir = scratch = tmpl;
  }
  fs::create_directories(data_dir / "functions", ec);
  // Runtime API listeners of the function processes, and /metrics.
  auto io = std::make_unique<http::IoPool>(2);
  functions::ServiceOptions fo;
  fo.dir = data_dir / "functions";
  fo.arn.region = aws->credentials.region;
  fo.aws_endpoint_url = endpoint_;
  fo.aws_lambda_ric = functions::FindAwsLambdaRic();
  fo.schemas = &schemas;
  fo.tables = &tables;
  fo.worker_id = worker_id_;
  Result<std::unique_ptr<functions::Service>> service_or =
      functions::Service::Open(fo, *io, /*streams=*/nullptr);
  if (!service_or.ok()) {
    std::fprintf(stderr, "riffle worker: %s\n",
                 service_or.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<functions::Service> service = std::move(service_or).value();
  io->Start();
  if (Status s = InstallFunctions(*stack, worker_id_, *service); !s.ok()) {
    std::fprintf(stderr, "riffle worker: %s\n", s.message().c_str());
    return 2;
  }

  std::vector<std::unique_ptr<WorkerMapping>> mappings;
  for (const StackMapping& sm : stack->mappings) {
    auto m = std::make_unique<WorkerMapping>();
    m->what = fmt::format("{} -> {}", sm.stream, sm.config.function_name);
    const StackFunction* function = nullptr;
    for (const auto& f : stack->functions)
      if (f.config.name == sm.config.function_name) function = &f;
    if (!function) {
      std::fprintf(stderr,
                   "riffle worker: mapping %s: the stack declares no such "
                   "function\n",
                   m->what.c_str());
      return 2;
    }
    if (functions::RuntimeKindOf(function->config.runtime) ==
            functions::RuntimeKind::kAvroToTable &&
        !function->config.environment.count("TABLE_NAME")) {
      std::fprintf(stderr, "riffle worker: function %s has no TABLE_NAME\n",
                   function->config.name.c_str());
      return 2;
    }
    // The stream must exist already (the server or `riffle apply` makes
    // it); wait for it a while, so that workers may start with the server.
    Result<std::string> arn = Unavailable("not asked");
    for (int i = 0; i < 100; ++i) {
      arn = StreamArn(*kinesis, sm.stream);
      if (arn.ok() || arn.status().code() == StatusCode::kNotFound) break;
      ::usleep(100'000);
    }
    if (!arn.ok()) {
      std::fprintf(stderr, "riffle worker: mapping %s: %s\n", m->what.c_str(),
                   arn.status().ToString().c_str());
      return 1;
    }
    functions::MappingConfig config = sm.config;
    config.event_source_arn = *arn;
    config.created_ms = NowMillis();
    const std::string table =
        LeaseTable(lambda, config.function_name, sm.stream, *arn);
    config.uuid = table.substr(std::string("riffle-leases-").size());

    m->source =
        std::make_unique<functions::RemoteRecordSource>(*kinesis, sm.stream);
    if (!sm.on_failure_stream.empty())
      m->destination = std::make_unique<functions::RemoteFailureDestination>(
          *kinesis, sm.on_failure_stream);
    m->invoker = service->NewBatchInvoker(config.function_name,
                                          config.report_batch_item_failures);
    functions::LeaseOptions lo;
    lo.table = table;
    lo.worker_id = worker_id_;
    lo.failover_ms = failover_ms_;
    lo.initial_position =
        std::string(functions::StartingPositionName(config.starting_position));
    lo.now_ms = [] { return NowMillis(); };
    m->leases = std::make_unique<functions::LeaseCoordinator>(lo, tables);
    functions::MappingRunnerOptions ro;
    ro.mapping = config;
    ro.function_arn = functions::FunctionArn(fo.arn, config.function_name);
    ro.region = fo.arn.region;
    ro.role_arn = function->config.role;
    ro.poll_interval_ms = poll_ms_;
    ro.now_ms = lo.now_ms;
    m->runner = std::make_unique<functions::MappingRunner>(
        ro, *m->source, *m->invoker, *m->leases, m->destination.get());
    RLOG_INFO("worker {}: mapping {} on lease table {}", worker_id_, m->what,
              table);
    mappings.push_back(std::move(m));
  }
  if (mappings.empty()) {
    std::fprintf(stderr, "riffle worker: %s declares no mappings\n",
                 stack_file_.c_str());
    return 2;
  }

  // /metrics and /health, when asked for.
  std::unique_ptr<http::Server> web;
  if (http_port_ >= 0) {
    http::ServerOptions o;
    o.name = "http";
    o.port = static_cast<uint16_t>(http_port_);
    web = std::make_unique<http::Server>(*io, o, http::MakeOpsHandler({}));
    if (Status s = web->Listen(); !s.ok()) {
      RLOG_ERROR("cannot listen: {}", s.ToString());
      return 1;
    }
  }

  for (auto& m : mappings) m->runner->Start();
  if (!data_dir_.empty()) {
    json::Value info = json::Value::Object();
    info.Set("worker_id", json::Value::String(worker_id_));
    if (web) info.Set("http", json::Value::String(web->url()));
    Status s = functions::WriteFileAtomically(
        fs::path(data_dir_) / "worker.json", json::Serialize(info) + "\n");
    if (!s.ok()) RLOG_WARN("{}", s.ToString());
  }
  RLOG_INFO("riffle worker ready: id={} mappings={} endpoint={} registry={}",
            worker_id_, mappings.size(), endpoint_, registry_);

  int sig = 0;
  sigwait(&signals, &sig);
  RLOG_INFO("received {}, releasing leases",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
  for (auto& m : mappings) m->runner->Stop();
  // Join finishes the batches in flight, then releases the leases.
  for (auto& m : mappings) m->runner->Join();
  mappings.clear();
  service.reset();  // kills the function processes
  if (web) web->CloseAll();
  io->Stop();
  if (!scratch.empty()) fs::remove_all(scratch, ec);
  RLOG_INFO("riffle worker {} stopped", worker_id_);
  return 0;
}

}  // namespace riffle::app
