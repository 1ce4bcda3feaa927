#include "app/server_command.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "app/routes_store.h"
#include "app/stack_apply.h"
#include "app/stack_file.h"
#include "core/clock.h"
#include "core/logging.h"
#include "core/thread_pool.h"
#include "functions/lambda_api.h"
#include "functions/local_clients.h"
#include "functions/service.h"
#include "gateway/cursor.h"
#include "gateway/functions_client.h"
#include "gateway/http_api_event.h"
#include "gateway/read_api.h"
#include "gateway/tables_client.h"
#include "http/aws_json.h"
#include "http/ops.h"
#include "http/server.h"
#include "json/writer.h"
#include "registry/confluent_api.h"
#include "registry/service.h"
#include "storage/kv/kv.h"
#include "storage/log/log.h"
#include "streams/kinesis_api.h"
#include "streams/service.h"
#include "tables/dynamodb_api.h"
#include "tables/service.h"

namespace riffle::app {
namespace {

namespace fs = std::filesystem;

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// Test hook: when RIFFLE_FAKE_CLOCK_OFFSET_FILE names a file, its content
// (milliseconds) is added to the wall clock, re-read on every use, so that
// tests can make records expire without waiting a day.
std::function<int64_t()> MakeClock() {
  const char* path = std::getenv("RIFFLE_FAKE_CLOCK_OFFSET_FILE");
  if (!path || !*path) return [] { return NowMillis(); };
  std::string file = path;
  RLOG_WARN("clock offset from {} (a test hook): do not use in production",
            file);
  return [file] {
    std::ifstream in(file);
    long long offset = 0;
    in >> offset;
    return NowMillis() + offset;
  };
}

// Holds DATA_DIR/LOCK for the life of the process, so that two servers can
// never write the same data.
class DataDirLock {
 public:
  Status Acquire(const fs::path& dir) {
    fd_ = ::open((dir / "LOCK").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      return Internal(fmt::format("cannot open {}/LOCK", dir.string()));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      return FailedPrecondition(
          fmt::format("{} is in use by another riffle process", dir.string()));
    }
    return Status::Ok();
  }
  ~DataDirLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};

Status WriteEndpoints(const fs::path& dir, const std::string& aws,
                      const std::string& registry, const std::string& http) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("aws")
      .String(aws)
      .Key("registry")
      .String(registry)
      .Key("http")
      .String(http);
  w.EndObject();
  out.push_back('\n');
  fs::path tmp = dir / "endpoints.json.tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << out;
    if (!f) return Internal("cannot write endpoints.json");
  }
  std::error_code ec;
  fs::rename(tmp, dir / "endpoints.json", ec);
  if (ec) return Internal("cannot write endpoints.json: " + ec.message());
  return Status::Ok();
}

http::Response JsonNotFound() {
  return http::JsonResponse(404, R"({"message":"Not Found"})");
}

// `stack`, when given, adds its read-API routes: the curl commands of each
// route's examples, or else its path template with every query parameter
// it accepts (fill in the {params}); and /openapi.json.
void PrintWelcome(const std::string& aws, const std::string& registry,
                  const std::string& http, const Stack* stack) {
  // Copy-pasteable commands: the aws CLI v2 and curl, with any credentials.
  std::string text = fmt::format(
      R"(
riffle is running.
  AWS APIs (Kinesis, DynamoDB, Lambda):  {0}
  Schema registry (Confluent REST):      {1}
  Health and metrics:                    {2}/health  {2}/metrics

Try it (any credentials work locally):
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1
  aws --endpoint-url {0} kinesis create-stream --stream-name demo --shard-count 1
  aws --endpoint-url {0} kinesis put-record --stream-name demo --partition-key k --cli-binary-format raw-in-base64-out --data hello
  aws --endpoint-url {0} dynamodb create-table --table-name demo --attribute-definitions AttributeName=id,AttributeType=S --key-schema AttributeName=id,KeyType=HASH --billing-mode PAY_PER_REQUEST
  curl -s -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' --data '{{"schema": "\"string\""}}' {1}/subjects/demo-value/versions

)",
      aws, registry, http);
  if (stack != nullptr && !stack->read_api.routes.empty()) {
    text += fmt::format("Read API (routes of {}):\n",
                        stack->file.filename().string());
    for (const gateway::Route& route : stack->read_api.routes) {
      if (auto it = stack->route_examples.find(route.name);
          it != stack->route_examples.end()) {
        // Quoted: the shell must not read `&` or `?`.
        // An ANY route's examples are GETs.
        std::string method =
            route.method == "GET" || route.method == gateway::kAnyMethod
                ? ""
                : "-X " + route.method + " ";
        for (const std::string& example : it->second) {
          text += fmt::format("  curl -s {}'{}{}'\n", method, http, example);
        }
        continue;
      }
      if (route.path == gateway::kDefaultRoute) {
        text += fmt::format(
            "  ANY {}/... (any request no other route serves)\n", http);
        continue;
      }
      std::string params;
      if (route.kind == gateway::RouteKind::kQuery) {
        params = "?limit=N&order=asc|desc&cursor=C";
        for (const std::string* p : {&route.sort_key.from, &route.sort_key.to,
                                     &route.sort_key.prefix}) {
          if (!p->empty()) params += "&" + *p + "=V";
        }
      }
      text +=
          fmt::format("  {} {}{}{}\n", route.method, http, route.path, params);
    }
    text += fmt::format("  curl -s {}/openapi.json\n\n", http);
  }
  text += "Stop with Ctrl-C.\n";
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace

int RunServer(const ServerConfig& config) {
  if (!IsLoopback(config.host)) {
    RLOG_ERROR(
        "refusing to listen on {}: binding a non-loopback address requires "
        "authentication, "
        "which this build does not configure yet",
        config.host);
    return 2;
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    RLOG_ERROR("--tls-cert and --tls-key go together");
    return 2;
  }
  // The stack file is read before anything opens, so that a mistake in it
  // is reported at once and changes nothing.
  std::optional<Stack> stack;
  if (!config.stack_file.empty()) {
    auto parsed = LoadStack(config.stack_file);
    if (!parsed.ok()) {
      RLOG_ERROR("{}", parsed.status().message());
      return 2;
    }
    stack = std::move(parsed).value();
  }

  // Block the shutdown signals in every thread; the main thread waits for
  // them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  fs::path data_dir = config.data_dir;
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) {
    RLOG_ERROR("cannot create {}: {}", data_dir.string(), ec.message());
    return 1;
  }
  fs::remove(data_dir / "endpoints.json", ec);
  DataDirLock lock;
  if (Status s = lock.Acquire(data_dir); !s.ok()) {
    RLOG_ERROR("{}", s.message());
    return 1;
  }

  int threads = config.threads > 0
                    ? config.threads
                    : std::max(1u, std::thread::hardware_concurrency());
  // Opened (and replayed after a crash) before the streams' logs.
  auto syncer_or = storage::LogSyncer::Open(data_dir / "journal");
  if (!syncer_or.ok()) {
    RLOG_ERROR("cannot open the journal: {}", syncer_or.status().ToString());
    return 1;
  }
  std::unique_ptr<storage::LogSyncer> syncer = std::move(syncer_or).value();
  streams::ServiceOptions stream_options;
  stream_options.dir = data_dir / "streams";
  stream_options.log.sync = config.durability == "strict";
  stream_options.enforce_shard_limits = config.enforce_shard_limits;
  stream_options.now_ms = MakeClock();
  auto streams_or = streams::Service::Open(stream_options, syncer.get());
  if (!streams_or.ok()) {
    RLOG_ERROR("cannot open streams: {}", streams_or.status().ToString());
    return 1;
  }
  std::unique_ptr<streams::Service> streams = std::move(streams_or).value();
  auto blocking = std::make_unique<ThreadPool>(2);

  // The embedded key-value store (DATA_DIR/kv) and the schema registry in
  // its "registry" family. Registry writes are planned on their own thread
  // and made durable by the store's group-committed writer, never on a
  // network thread.
  kv::Options kv_options;
  kv_options.path = (data_dir / "kv").string();
  kv_options.sync = config.durability == "strict";
  auto store_or = kv::Store::Open(kv_options);
  if (!store_or.ok()) {
    RLOG_ERROR("cannot open {}: {}", kv_options.path,
               store_or.status().ToString());
    return 1;
  }
  std::unique_ptr<kv::Store> store = std::move(store_or).value();
  auto registry_pool = std::make_unique<ThreadPool>(1);
  auto registry_or =
      registry::Service::Open({store.get(), registry_pool.get()});
  if (!registry_or.ok()) {
    RLOG_ERROR("cannot open the schema registry: {}",
               registry_or.status().ToString());
    return 1;
  }
  std::unique_ptr<registry::Service> schema_registry =
      std::move(registry_or).value();

  // DynamoDB tables, in the same store ("tables" family).
  auto table_service = std::make_unique<tables::Service>(*store);

  // The read API over the tables; its routes come from the stack file.
  auto cursor_secret =
      gateway::LoadOrCreateSecret(data_dir / "gateway" / "cursor.key");
  if (!cursor_secret.ok()) {
    RLOG_ERROR("{}", cursor_secret.status().ToString());
    return 1;
  }
  // Query pages run on the blocking pool, as the DynamoDB API's do.
  gateway::LocalTablesClient read_tables(*table_service, blocking.get());
  gateway::ReadApi read_api(read_tables, std::move(cursor_secret).value());
  // The routes of the last apply (`--stack` or `riffle apply`), served
  // until an apply replaces them.
  RoutesStore routes(&read_api, data_dir / "gateway" / "routes.json");
  if (Status s = routes.Load(); !s.ok()) {
    RLOG_ERROR("{}", s.ToString());
    return 1;
  }

  http::AwsJsonRouter router;
  router.AddService(streams::MakeKinesisApi(*streams, *blocking));
  router.AddService(tables::MakeDynamoDbApi(*table_service, *blocking));
  // The Lambda REST API (no X-Amz-Target): set once the functions service
  // is open, before the I/O threads start.
  http::Handler lambda_api;
  router.SetFallback([&lambda_api](http::Request req, http::Responder respond) {
    if (lambda_api && functions::IsLambdaPath(req.path))
      return lambda_api(std::move(req), std::move(respond));
    respond(JsonNotFound());
  });

  http::IoPool io(threads);
  auto options = [&](std::string name, int port) {
    http::ServerOptions o;
    o.name = std::move(name);
    o.host = config.host;
    o.port = static_cast<uint16_t>(port);
    o.max_body_bytes = config.max_body_bytes;
    if (!config.tls_cert.empty())
      o.tls = http::TlsOptions{config.tls_cert, config.tls_key};
    return o;
  };
  http::Server aws(io, options("aws", config.aws_port),
                   http::MakeOpsHandler(router.AsHandler()));
  http::Server registry(
      io, options("registry", config.registry_port),
      http::MakeOpsHandler(registry::MakeConfluentApi(*schema_registry)));
  // The read API takes what API Gateway's HTTP APIs take, whatever
  // --max-body-bytes says for the AWS ports, and refuses the rest with
  // API Gateway's own 413 before reading it.
  http::ServerOptions web_options = options("http", config.http_port);
  web_options.max_body_bytes = gateway::kHttpApiMaxBodyBytes;
  web_options.body_too_large = gateway::HttpApiPayloadTooLarge();
  http::Server web(
      io, web_options,
      http::MakeOpsHandler(routes.Wrap(read_api.AsHandler(), *blocking)));
  for (http::Server* s : {&aws, &registry, &web}) {
    if (Status st = s->Listen(); !st.ok()) {
      RLOG_ERROR("cannot listen: {}", st.ToString());
      return 1;
    }
  }

  // Functions (Lambda), after Listen so that handlers learn the AWS
  // endpoint; their runtime listeners share the I/O pool.
  functions::ServiceOptions function_options;
  function_options.dir = data_dir / "functions";
  function_options.arn = {stream_options.region, stream_options.account_id};
  function_options.aws_endpoint_url = aws.url();
  function_options.aws_lambda_ric = functions::FindAwsLambdaRic();
  function_options.now_ms = stream_options.now_ms;
  // Built-in functions reach the registry and the tables in process.
  functions::LocalSchemaClient schema_client(*schema_registry);
  functions::LocalTablesClient tables_client(*table_service);
  function_options.schemas = &schema_client;
  function_options.tables = &tables_client;
  auto functions_or =
      functions::Service::Open(function_options, io, streams.get());
  if (!functions_or.ok()) {
    RLOG_ERROR("cannot open functions: {}", functions_or.status().ToString());
    return 1;
  }
  std::unique_ptr<functions::Service> function_service =
      std::move(functions_or).value();
  lambda_api = functions::MakeLambdaApi(*function_service, *blocking);
  // Function routes of the read API invoke in process.
  gateway::LocalFunctionsClient read_functions(*function_service);
  read_api.SetFunctions(&read_functions);
  io.Start();

  // Retention runs off the network threads.
  std::mutex retention_mu;
  std::condition_variable retention_cv;
  bool stopping = false;
  std::thread retention([&] {
    std::unique_lock l(retention_mu);
    while (!retention_cv.wait_for(
        l, std::chrono::milliseconds(config.retention_check_ms),
        [&] { return stopping; })) {
      streams->EnforceRetention();
      table_service->ExpireItems(stream_options.now_ms() / 1000);  // TTL
    }
  });

  // The stack, once every service is open and the I/O threads run (the
  // registry completes its writes through them), before the server is
  // announced ready: clients never see a half-applied stack.
  int exit_code = 0;
  if (stack) {
    std::printf("applying %s\n", stack->file.string().c_str());
    StackTargets targets{schema_registry.get(), streams.get(),
                         table_service.get(), function_service.get(), &routes};
    Status s = ApplyStack(*stack, targets, [](const std::string& line) {
      std::printf("  %s\n", line.c_str());
      std::fflush(stdout);
    });
    if (!s.ok()) {
      RLOG_ERROR("{}", s.message());  // names the file, line and item
      exit_code = 1;
    }
  }
  if (exit_code == 0) {
    if (Status s =
            WriteEndpoints(data_dir, aws.url(), registry.url(), web.url());
        !s.ok()) {
      RLOG_ERROR("{}", s.message());
      exit_code = 1;
    }
  }
  if (exit_code == 0) {
    RLOG_INFO("riffle ready: aws={} registry={} http={} data={} durability={}",
              aws.url(), registry.url(), web.url(), data_dir.string(),
              config.durability);
    if (config.print_welcome)
      PrintWelcome(aws.url(), registry.url(), web.url(),
                   stack ? &*stack : nullptr);

    int sig = 0;
    sigwait(&signals, &sig);
    RLOG_INFO("received {}, shutting down",
              sig == SIGTERM ? "SIGTERM" : "SIGINT");
  }

  for (http::Server* s : {&aws, &registry, &web}) s->StopAccepting();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline &&
         aws.in_flight() + registry.in_flight() + web.in_flight() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (http::Server* s : {&aws, &registry, &web}) s->CloseAll();
  {
    std::lock_guard l(retention_mu);
    stopping = true;
  }
  retention_cv.notify_all();
  retention.join();
  blocking.reset();  // finishes queued control operations
  // Stops mappings and function processes; before io (runtime listeners),
  // streams (mappings read them) and the registry (built-in functions look
  // schemas up); table writes they wait for complete meanwhile.
  read_api.SetFunctions(nullptr);
  function_service.reset();
  // Waits for registry writes in flight (they answer through the still
  // running I/O threads), then stops the registry's planner.
  schema_registry.reset();
  registry_pool.reset();
  io.Stop();
  streams.reset();        // closes the logs
  syncer.reset();         // drains and syncs the last appends
  store.reset();          // completes queued kv writes, then closes RocksDB
  table_service.reset();  // after the writes whose callbacks release locks
  fs::remove(data_dir / "endpoints.json", ec);
  RLOG_INFO("riffle stopped");
  return exit_code;
}

}  // namespace riffle::app
