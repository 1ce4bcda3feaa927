#include "functions/service.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <cstdio>
#include <cstdlib>
#include <future>

#include "core/base64.h"
#include "core/clock.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "functions/filter_pattern.h"
#include "functions/local_streams.h"
#include "functions/mapping_runner.h"
#include "functions/native_runtime.h"
#include "json/json.h"
#include "json/writer.h"
#include "streams/service.h"

namespace riffle::functions {

namespace fs = std::filesystem;

namespace {

// Lambda's quota on unzipped code.
constexpr uint64_t kMaxUnzippedBytes = 262144000;

Result<std::string> ReadFile(const fs::path& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return NotFound("cannot read " + path.string());
  std::string out;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

// Unpacks `zip` under `dest` (which must not exist), keeping Unix modes so
// that `bootstrap` stays executable. Entries that would land outside `dest`
// and symbolic links are refused.
Result<uint64_t> Unzip(const std::string& data, const fs::path& dest) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src =
      zip_source_buffer_create(data.data(), data.size(), 0, &error);
  if (!src) return InvalidArgument("Could not unzip uploaded file.");
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY, &error);
  if (!za) {
    zip_source_free(src);
    zip_error_fini(&error);
    return InvalidArgument(
        "Could not unzip uploaded file. Please check your file, then try to "
        "upload again.");
  }
  uint64_t total = 0;
  Status status;
  std::error_code ec;
  fs::create_directories(dest, ec);
  zip_int64_t count = zip_get_num_entries(za, 0);
  for (zip_int64_t i = 0; i < count && status.ok(); ++i) {
    zip_stat_t st;
    if (zip_stat_index(za, static_cast<zip_uint64_t>(i), 0, &st) != 0 ||
        !(st.valid & ZIP_STAT_NAME)) {
      status = InvalidArgument("Could not unzip uploaded file.");
      break;
    }
    std::string name = st.name;
    fs::path rel = fs::path(name).lexically_normal();
    if (name.empty() || rel.is_absolute() || *rel.begin() == "..") {
      status =
          InvalidArgument("Could not unzip uploaded file: bad entry " + name);
      break;
    }
    zip_uint8_t opsys = 0;
    zip_uint32_t attributes = 0;
    zip_file_get_external_attributes(za, static_cast<zip_uint64_t>(i), 0,
                                     &opsys, &attributes);
    mode_t mode = 0644;
    if (opsys == ZIP_OPSYS_UNIX) {
      mode_t unix_mode = static_cast<mode_t>(attributes >> 16);
      if (S_ISLNK(unix_mode)) {
        RLOG_WARN("skipping symbolic link {} in function code", name);
        continue;
      }
      if (unix_mode & 0777) mode = (unix_mode & 0777) | 0400;
    }
    fs::path out = dest / rel;
    if (name.back() == '/') {
      fs::create_directories(out, ec);
      continue;
    }
    fs::create_directories(out.parent_path(), ec);
    total += st.size;
    if (total > kMaxUnzippedBytes) {
      status = InvalidArgument(fmt::format(
          "Unzipped size must be smaller than {} bytes", kMaxUnzippedBytes));
      break;
    }
    zip_file_t* zf = zip_fopen_index(za, static_cast<zip_uint64_t>(i), 0);
    int fd =
        ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (!zf || fd < 0) {
      if (zf) zip_fclose(zf);
      if (fd >= 0) ::close(fd);
      status = InvalidArgument("Could not unzip uploaded file: " + name);
      break;
    }
    char buf[65536];
    zip_int64_t n;
    while ((n = zip_fread(zf, buf, sizeof buf)) > 0) {
      if (::write(fd, buf, static_cast<size_t>(n)) != n) {
        status = Internal("cannot write " + out.string());
        break;
      }
    }
    if (n < 0) status = InvalidArgument("Could not unzip uploaded file.");
    ::fchmod(fd, mode);
    // The function's metadata, written durably next, will point at this
    // code: it must be on disk first.
    if (status.ok() && ::fsync(fd) != 0)
      status = Internal("cannot sync " + out.string());
    ::close(fd);
    zip_fclose(zf);
  }
  zip_close(za);  // also frees src
  zip_error_fini(&error);
  if (!status.ok()) return status;
  // Directory entries too, so that the files' names survive a crash.
  std::vector<fs::path> dirs = {dest, dest.parent_path()};
  for (auto it = fs::recursive_directory_iterator(dest, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec)) dirs.push_back(it->path());
  }
  for (const fs::path& d : dirs) {
    int dfd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) continue;
    ::fsync(dfd);
    ::close(dfd);
  }
  return total;
}

// The same payload bytes under a new name; `tag` tells code trees apart.
std::string NewRevision() { return NewUuid(); }

}  // namespace

std::string FindAwsLambdaRic() {
  if (const char* env = std::getenv("RIFFLE_AWS_LAMBDA_RIC"); env && *env)
    return env;
  const fs::path rel = "node_modules/aws-lambda-ric/bin/index.mjs";
  std::error_code ec;
  std::vector<fs::path> roots;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path dir = exe.parent_path();
    for (int i = 0; i < 3 && !dir.empty(); ++i) {
      roots.push_back(dir);
      dir = dir.parent_path();
    }
  }
  roots.push_back(fs::current_path(ec));
  for (const fs::path& root : roots)
    if (fs::exists(root / rel, ec)) return (root / rel).string();
  return "";
}

// Lines a function printed, buffered until the supervisor writes them to
// function.log, so that the thread that read them never waits for disk.
struct LogBuffer {
  std::mutex mu;
  std::string pending;
  fs::path path;
};

struct Service::Function {
  FunctionConfig config;
  std::shared_ptr<ProcessRuntime> runtime;
  std::shared_ptr<LogBuffer> log;
};

// Invokes a function synchronously for a mapping's shard threads: built-in
// functions with the records themselves, others with Lambda's event.
class ServiceInvoker : public BatchInvoker {
 public:
  ServiceInvoker(Service& service, std::string function,
                 bool report_item_failures)
      : service_(service),
        function_(std::move(function)),
        report_item_failures_(report_item_failures) {}
  BatchOutcome Invoke(const std::string& event) override {
    auto promise = std::make_shared<std::promise<InvokeResult>>();
    std::future<InvokeResult> future = promise->get_future();
    service_.Invoke(function_, event, "", [promise](InvokeResult r) {
      promise->set_value(std::move(r));
    });
    return Wait(future);
  }
  // Asked before every batch: the runtime may change under a mapping.
  bool AcceptsRecords() override { return service_.IsBuiltin(function_); }
  BatchOutcome InvokeRecords(
      const std::vector<const SourceRecord*>& records) override {
    std::vector<BuiltinRecord> refs;
    refs.reserve(records.size());
    for (const SourceRecord* r : records)
      refs.push_back(BuiltinRecord{r->data, r->sequence_number});
    auto promise = std::make_shared<std::promise<InvokeResult>>();
    std::future<InvokeResult> future = promise->get_future();
    service_.InvokeRecords(
        function_, refs, report_item_failures_,
        [promise](InvokeResult r) { promise->set_value(std::move(r)); });
    return Wait(future);
  }

 private:
  static BatchOutcome Wait(std::future<InvokeResult>& future) {
    InvokeResult r = future.get();
    return BatchOutcome{r.status, std::move(r.payload),
                        std::move(r.function_error)};
  }

  Service& service_;
  const std::string function_;
  const bool report_item_failures_;
};

std::unique_ptr<BatchInvoker> Service::NewBatchInvoker(
    const std::string& name, bool report_item_failures) {
  return std::make_unique<ServiceInvoker>(*this, name, report_item_failures);
}

struct Service::Mapping {
  MappingConfig config;
  std::unique_ptr<StreamsRecordSource> source;
  std::unique_ptr<LeaseCoordinator> leases;
  std::unique_ptr<StreamFailureDestination> destination;
  std::unique_ptr<ServiceInvoker> invoker;
  std::unique_ptr<MappingRunner> runner;
};

Service::Service(ServiceOptions options, http::IoPool& io,
                 streams::Service* streams)
    : options_(std::move(options)),
      native_runtime_path_(SelfExecutable()),
      io_(io),
      streams_(streams) {}

Result<std::unique_ptr<Service>> Service::Open(ServiceOptions options,
                                               http::IoPool& io,
                                               streams::Service* streams) {
  if (!options.now_ms) options.now_ms = [] { return NowMillis(); };
  std::unique_ptr<Service> s(new Service(std::move(options), io, streams));
  if (s->options_.schemas && s->options_.tables)
    s->avro_to_table_ = std::make_unique<AvroToTable>(*s->options_.schemas,
                                                      *s->options_.tables);
  std::error_code ec;
  fs::create_directories(s->options_.dir / "mappings", ec);
  if (ec) return Internal("cannot create " + s->options_.dir.string());
  if (::pipe2(s->wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0)
    return Internal("pipe failed");
  RETURN_IF_ERROR(s->Load());
  s->supervisor_ = std::thread([p = s.get()] { p->Supervise(); });
  return s;
}

Service::~Service() {
  stopping_ = true;
  std::vector<std::shared_ptr<Function>> functions;
  {
    std::lock_guard l(mu_);
    for (auto& [id, m] : mappings_)
      if (m->runner) m->runner->Stop();
    for (auto& [name, f] : functions_) functions.push_back(f);
  }
  // Fails in-flight invocations, which releases the shard threads.
  for (auto& f : functions)
    f->runtime->Shutdown(Unavailable("riffle is shutting down"));
  // Join outside mu_: a shard thread finishing its step may still take it.
  std::vector<std::unique_ptr<MappingRunner>> runners;
  {
    std::lock_guard l(mu_);
    for (auto& [id, m] : mappings_)
      if (m->runner) runners.push_back(std::move(m->runner));
  }
  for (auto& r : runners) r->Join();
  runners.clear();
  {
    std::lock_guard l(mu_);
    mappings_.clear();
  }
  Wake();
  if (supervisor_.joinable()) supervisor_.join();
  for (int fd : wake_fds_)
    if (fd >= 0) ::close(fd);
}

void Service::Wake() {
  char c = 1;
  if (wake_fds_[1] >= 0) (void)!::write(wake_fds_[1], &c, 1);
}

void Service::Supervise() {
  while (!stopping_) {
    std::vector<std::shared_ptr<Function>> functions;
    {
      std::lock_guard l(mu_);
      for (auto& [name, f] : functions_) functions.push_back(f);
    }
    std::vector<int> fds;
    for (auto& f : functions) f->runtime->Poll(&fds);
    // Write buffered log lines (disk work belongs on this thread).
    for (auto& f : functions) {
      std::string pending;
      {
        std::lock_guard l(f->log->mu);
        pending.swap(f->log->pending);
      }
      if (pending.empty()) continue;
      if (FILE* out = std::fopen(f->log->path.c_str(), "ab")) {
        std::fwrite(pending.data(), 1, pending.size(), out);
        std::fclose(out);
      }
    }
    std::vector<pollfd> pfds;
    pfds.push_back({wake_fds_[0], POLLIN, 0});
    for (int fd : fds) pfds.push_back({fd, POLLIN, 0});
    // The timeout bounds how late a deadline or an exit is noticed.
    ::poll(pfds.data(), pfds.size(), 50);
    char buf[64];
    while (::read(wake_fds_[0], buf, sizeof buf) > 0) {
    }
  }
}

ProcessSpec Service::SpecFor(const FunctionConfig& c) const {
  ProcessSpec spec;
  spec.cwd = c.code_dir;
  spec.timeout_seconds = c.timeout_seconds;
  spec.memory_mb = c.memory_mb;
  spec.function_arn = FunctionArn(options_.arn, c.name);
  spec.max_processes = c.reserved_concurrency ? *c.reserved_concurrency
                                              : options_.default_concurrency;
  std::optional<RuntimeKind> kind = RuntimeKindOf(c.runtime);
  if (kind == RuntimeKind::kNode) {
    spec.argv = {options_.node_path, options_.aws_lambda_ric, c.handler};
  } else if (kind == RuntimeKind::kNative) {
    spec.argv = {native_runtime_path_, std::string(kNativeRuntimeCommand)};
  } else if (kind == RuntimeKind::kAvroToTable) {
    // Never started: built-in functions run in process (Invoke routes
    // them before the runtime).
    spec.argv = {};
  } else {
    spec.argv = {(fs::path(c.code_dir) / "bootstrap").string()};
  }
  auto& env = spec.env;
  const char* path = std::getenv("PATH");
  env["PATH"] = path ? path : "/usr/local/bin:/usr/bin:/bin";
  if (const char* home = std::getenv("HOME")) env["HOME"] = home;
  env["LANG"] = "en_US.UTF-8";
  env["TZ"] = ":UTC";
  env["LAMBDA_TASK_ROOT"] = c.code_dir;
  env["LAMBDA_RUNTIME_DIR"] = c.code_dir;
  env["_HANDLER"] = c.handler;
  env["AWS_LAMBDA_FUNCTION_NAME"] = c.name;
  env["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST";
  env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = std::to_string(c.memory_mb);
  env["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + c.name;
  std::string day = IsoTimestamp(options_.now_ms()).substr(0, 10);
  for (char& ch : day)
    if (ch == '-') ch = '/';
  env["AWS_LAMBDA_LOG_STREAM_NAME"] =
      fmt::format("{}/[$LATEST]{}", day, c.revision_id.substr(0, 8));
  env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand";
  env["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + c.runtime;
  env["AWS_REGION"] = options_.arn.region;
  env["AWS_DEFAULT_REGION"] = options_.arn.region;
  // Local credentials: riffle does not check signatures on loopback.
  const char* key = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  env["AWS_ACCESS_KEY_ID"] = key ? key : "riffle";
  env["AWS_SECRET_ACCESS_KEY"] = secret ? secret : "riffle";
  if (!options_.aws_endpoint_url.empty())
    env["AWS_ENDPOINT_URL"] = options_.aws_endpoint_url;
  for (const auto& [k, v] : c.environment) env[k] = v;
  return spec;
}

Status Service::SaveFunction(const FunctionConfig& c) {
  return WriteFileAtomically(options_.dir / c.name / "function.json",
                             json::Serialize(ToStoredJson(c)) + "\n");
}

Status Service::InstallCode(const std::string& name, const FunctionCode& code,
                            FunctionConfig* c) {
  if (RuntimeKindOf(c->runtime) == RuntimeKind::kAvroToTable) {
    // Built in: any code given is ignored (the API and its clients insist
    // on a Code member, so an empty one or a placeholder zip is accepted).
    c->code_dir.clear();
    c->code_is_external = false;
    c->code_size = 0;
    c->code_sha256 = Sha256Base64(c->runtime);
    return Status::Ok();
  }
  if (code.zip && code.directory)
    return InvalidArgument(
        "Please provide either Code.ZipFile or Code.Directory, not both.");
  if (code.directory) {
    fs::path dir = fs::absolute(*code.directory);
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
      return InvalidArgument("Code.Directory " + dir.string() +
                             " is not a directory");
    c->code_dir = dir.string();
    c->code_is_external = true;
    c->code_size = 0;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file(ec))
        c->code_size += static_cast<int64_t>(it->file_size(ec));
    c->code_sha256 = Sha256Base64(dir.string());
    return Status::Ok();
  }
  if (!code.zip)
    return InvalidArgument(
        "Please provide a source for function code (Code.ZipFile, or riffle's "
        "Code.Directory).");
  std::string revision = NewRevision();
  fs::path dest = options_.dir / name / ("code-" + revision.substr(0, 8));
  Result<uint64_t> size = Unzip(*code.zip, dest);
  if (!size.ok()) {
    std::error_code ec;
    fs::remove_all(dest, ec);
    return size.status();
  }
  c->code_dir = dest.string();
  c->code_is_external = false;
  c->code_size = static_cast<int64_t>(code.zip->size());
  c->code_sha256 = Sha256Base64(*code.zip);
  return Status::Ok();
}

namespace {

// Deletes code trees of `name` other than the current one and `keep`
// (processes of the previous revision may still be finishing).
void PruneCode(const fs::path& fn_dir, const std::string& current,
               const std::string& keep) {
  std::error_code ec;
  for (auto& e : fs::directory_iterator(fn_dir, ec)) {
    std::string p = e.path().string();
    if (e.path().filename().string().rfind("code-", 0) == 0 && p != current &&
        p != keep)
      fs::remove_all(e.path(), ec);
  }
}

}  // namespace

Status Service::Load() {
  std::error_code ec;
  for (auto& e : fs::directory_iterator(options_.dir, ec)) {
    if (!e.is_directory() || e.path().filename() == "mappings") continue;
    fs::path file = e.path() / "function.json";
    if (!fs::exists(file)) continue;
    ASSIGN_OR_RETURN(std::string text, ReadFile(file));
    ASSIGN_OR_RETURN(json::Value v, json::Parse(text));
    ASSIGN_OR_RETURN(FunctionConfig c, FunctionFromStoredJson(v));
    auto f = std::make_shared<Function>();
    f->config = c;
    f->log = std::make_shared<LogBuffer>();
    f->log->path = e.path() / "function.log";
    f->runtime = std::make_shared<ProcessRuntime>(
        io_, c.name, SpecFor(c),
        [log = f->log](std::string_view line) {
          std::lock_guard l(log->mu);
          log->pending.append(line);
          log->pending.push_back('\n');
        },
        [this] { Wake(); });
    functions_[c.name] = std::move(f);
  }
  for (auto& e : fs::directory_iterator(options_.dir / "mappings", ec)) {
    std::string fname = e.path().filename().string();
    if (fname.size() < 5 || fname.find('.') != fname.size() - 5 ||
        fname.substr(fname.size() - 5) != ".json")
      continue;
    ASSIGN_OR_RETURN(std::string text, ReadFile(e.path()));
    ASSIGN_OR_RETURN(json::Value v, json::Parse(text));
    ASSIGN_OR_RETURN(MappingConfig mc, MappingFromStoredJson(v));
    auto m = std::make_unique<Mapping>();
    m->config = mc;
    Mapping& ref = *m;
    mappings_[mc.uuid] = std::move(m);
    if (ref.config.enabled) RETURN_IF_ERROR(StartMapping(ref));
  }
  return Status::Ok();
}

Result<FunctionConfig> Service::CreateFunction(FunctionConfig c,
                                               FunctionCode code) {
  std::lock_guard control(control_mu_);
  if (!IsValidFunctionName(c.name))
    return InvalidArgument(fmt::format(
        "1 validation error detected: Value '{}' at 'functionName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z0-9-_]+",
        c.name));
  RETURN_IF_ERROR(ValidateFunctionConfig(c));
  {
    std::lock_guard l(mu_);
    if (functions_.count(c.name))
      return AlreadyExists("Function already exist: " + c.name);
  }
  fs::path dir = options_.dir / c.name;
  std::error_code ec;
  fs::remove_all(dir, ec);  // leftovers of a failed create
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create " + dir.string());
  Status s = InstallCode(c.name, code, &c);
  if (!s.ok()) {
    fs::remove_all(dir, ec);
    return s;
  }
  c.revision_id = NewUuid();
  c.last_modified = LambdaTimestamp(options_.now_ms());
  if (Status st = SaveFunction(c); !st.ok()) {
    fs::remove_all(dir, ec);
    return st;
  }
  auto f = std::make_shared<Function>();
  f->config = c;
  f->log = std::make_shared<LogBuffer>();
  f->log->path = dir / "function.log";
  f->runtime = std::make_shared<ProcessRuntime>(
      io_, c.name, SpecFor(c),
      [log = f->log](std::string_view line) {
        std::lock_guard l(log->mu);
        log->pending.append(line);
        log->pending.push_back('\n');
      },
      [this] { Wake(); });
  std::lock_guard l(mu_);
  functions_[c.name] = std::move(f);
  return c;
}

Result<FunctionConfig> Service::GetFunction(const std::string& name) const {
  std::lock_guard l(mu_);
  auto it = functions_.find(name);
  if (it == functions_.end())
    return NotFound("Function not found: " + FunctionArn(options_.arn, name));
  return it->second->config;
}

std::vector<FunctionConfig> Service::ListFunctions() const {
  std::lock_guard l(mu_);
  std::vector<FunctionConfig> out;
  for (const auto& [name, f] : functions_) out.push_back(f->config);
  return out;
}

Result<FunctionConfig> Service::UpdateFunctionCode(const std::string& name,
                                                   FunctionCode code) {
  std::lock_guard control(control_mu_);
  ASSIGN_OR_RETURN(FunctionConfig c, GetFunction(name));
  std::string previous = c.code_is_external ? "" : c.code_dir;
  RETURN_IF_ERROR(InstallCode(name, code, &c));
  c.revision_id = NewUuid();
  c.last_modified = LambdaTimestamp(options_.now_ms());
  RETURN_IF_ERROR(SaveFunction(c));
  std::shared_ptr<Function> f;
  {
    std::lock_guard l(mu_);
    f = functions_[name];
    f->config = c;
  }
  f->runtime->Update(SpecFor(c));
  PruneCode(options_.dir / name, c.code_dir, previous);
  return c;
}

Result<FunctionConfig> Service::UpdateFunctionConfiguration(
    const std::string& name, const FunctionUpdate& u) {
  std::lock_guard control(control_mu_);
  ASSIGN_OR_RETURN(FunctionConfig c, GetFunction(name));
  if (u.runtime) c.runtime = *u.runtime;
  if (u.handler) c.handler = *u.handler;
  if (u.role) c.role = *u.role;
  if (u.description) c.description = *u.description;
  if (u.timeout_seconds) c.timeout_seconds = *u.timeout_seconds;
  if (u.memory_mb) c.memory_mb = *u.memory_mb;
  if (u.environment) c.environment = *u.environment;
  RETURN_IF_ERROR(ValidateFunctionConfig(c));
  c.revision_id = NewUuid();
  c.last_modified = LambdaTimestamp(options_.now_ms());
  RETURN_IF_ERROR(SaveFunction(c));
  std::shared_ptr<Function> f;
  {
    std::lock_guard l(mu_);
    f = functions_[name];
    f->config = c;
  }
  f->runtime->Update(SpecFor(c));
  return c;
}

Status Service::DeleteFunction(const std::string& name) {
  std::lock_guard control(control_mu_);
  std::shared_ptr<Function> f;
  {
    std::lock_guard l(mu_);
    auto it = functions_.find(name);
    if (it == functions_.end())
      return NotFound("Function not found: " + FunctionArn(options_.arn, name));
    f = it->second;
    functions_.erase(it);
  }
  f->runtime->Shutdown(
      NotFound("Function not found: " + FunctionArn(options_.arn, name)));
  std::error_code ec;
  fs::remove_all(options_.dir / name, ec);
  return Status::Ok();
}

Status Service::PutFunctionConcurrency(const std::string& name,
                                       std::optional<int> reserved) {
  std::lock_guard control(control_mu_);
  ASSIGN_OR_RETURN(FunctionConfig c, GetFunction(name));
  c.reserved_concurrency = reserved;
  RETURN_IF_ERROR(SaveFunction(c));
  std::shared_ptr<Function> f;
  {
    std::lock_guard l(mu_);
    f = functions_[name];
    f->config = c;
  }
  f->runtime->Update(SpecFor(c));
  return Status::Ok();
}

bool Service::IsBuiltin(const std::string& name) const {
  std::lock_guard l(mu_);
  auto it = functions_.find(name);
  return it != functions_.end() &&
         RuntimeKindOf(it->second->config.runtime) == RuntimeKind::kAvroToTable;
}

namespace {

// The records of Lambda's Kinesis event (Records[].kinesis.data, base64,
// named by sequenceNumber), for a built-in function invoked through the
// API. `storage` owns the decoded bytes.
Status RecordsOfEvent(const std::string& payload,
                      std::vector<std::string>* storage,
                      std::vector<std::string>* ids) {
  Result<json::Value> event = json::Parse(payload);
  const json::Value* records =
      event.ok() && event->is_object() ? event->Find("Records") : nullptr;
  if (!records || !records->is_array())
    return InvalidArgument(
        "riffle:avro-to-table expects a Kinesis event ({\"Records\": [...]})");
  for (const json::Value& r : records->items()) {
    const json::Value* k = r.is_object() ? r.Find("kinesis") : nullptr;
    const json::Value* data = k && k->is_object() ? k->Find("data") : nullptr;
    const json::Value* seq =
        k && k->is_object() ? k->Find("sequenceNumber") : nullptr;
    std::optional<std::string> bytes;
    if (data && data->is_string()) bytes = base64::Decode(data->text());
    if (!bytes)
      return InvalidArgument(
          "riffle:avro-to-table: a record without base64 kinesis.data");
    storage->push_back(std::move(*bytes));
    ids->push_back(seq && seq->is_string() ? seq->text()
                                           : std::to_string(ids->size()));
  }
  return Status::Ok();
}

}  // namespace

void Service::InvokeRecords(const std::string& name,
                            const std::vector<BuiltinRecord>& records,
                            bool report_item_failures, InvokeCallback done) {
  std::string table;
  Status status;
  {
    std::lock_guard l(mu_);
    auto it = functions_.find(name);
    if (it == functions_.end()) {
      status =
          NotFound("Function not found: " + FunctionArn(options_.arn, name));
    } else if (RuntimeKindOf(it->second->config.runtime) !=
               RuntimeKind::kAvroToTable) {
      status = FailedPrecondition(name + " is not a built-in function");
    } else if (!avro_to_table_) {
      status = FailedPrecondition(
          "riffle:avro-to-table needs the registry and tables clients");
    } else {
      auto env = it->second->config.environment.find("TABLE_NAME");
      if (env != it->second->config.environment.end()) table = env->second;
    }
  }
  if (!status.ok()) {
    InvokeResult r;
    r.status = status;
    done(std::move(r));
    return;
  }
  done = Instrument(name, std::move(done));
  std::vector<std::string_view> messages;
  messages.reserve(records.size());
  for (const BuiltinRecord& r : records) messages.push_back(r.data);
  // The ids outlive the caller's records, which may be gone once the
  // writes complete; the bytes are only read before Process returns.
  auto ids = std::make_shared<std::vector<std::string>>();
  ids->reserve(records.size());
  for (const BuiltinRecord& r : records) ids->emplace_back(r.id);
  avro_to_table_->Process(
      table, messages,
      [ids, report_item_failures, name,
       done = std::move(done)](std::vector<Status> statuses) {
        std::vector<BuiltinRecord> named;
        named.reserve(ids->size());
        for (const std::string& id : *ids) named.push_back({{}, id});
        BuiltinOutcome o =
            SummarizeBuiltin(named, statuses, report_item_failures);
        for (size_t i = 0; o.failed > 0 && i < statuses.size(); ++i) {
          if (statuses[i].ok()) continue;
          // The first is enough for the log; the reply names them all.
          RLOG_WARN("function {}: record {} not stored ({} failed): {}", name,
                    (*ids)[i], o.failed, statuses[i].message());
          break;
        }
        InvokeResult r;
        r.payload = std::move(o.payload);
        r.function_error = std::move(o.function_error);
        done(std::move(r));
      });
}

InvokeCallback Service::Instrument(const std::string& name,
                                   InvokeCallback done) {
  // Lambda's function metrics (Invocations, Errors, Throttles, Duration).
  metrics::Labels labels = {{"function", name}};
  auto& registry = metrics::Global();
  metrics::Counter& invocations = registry.GetCounter(
      "riffle_function_invocations_total", labels, "Function invocations");
  metrics::Counter& errors =
      registry.GetCounter("riffle_function_errors_total", labels,
                          "Invocations that ended in a function error");
  metrics::Counter& throttles = registry.GetCounter(
      "riffle_function_throttles_total", labels, "Throttled invocations");
  metrics::Histogram& duration =
      registry.GetHistogram("riffle_function_duration_seconds", labels,
                            "Invocation time, queueing included");
  int64_t start = MonotonicNanos();
  return [done = std::move(done), &invocations, &errors, &throttles, &duration,
          start](InvokeResult r) {
    if (r.status.code() == StatusCode::kResourceExhausted) {
      throttles.Add();
    } else {
      invocations.Add();
      if (!r.status.ok() || !r.function_error.empty()) errors.Add();
      duration.Observe(static_cast<double>(MonotonicNanos() - start) / 1e9);
    }
    done(std::move(r));
  };
}

void Service::Invoke(const std::string& name, std::string payload,
                     std::string client_context, InvokeCallback done) {
  std::shared_ptr<ProcessRuntime> runtime;
  bool builtin = false;
  {
    std::lock_guard l(mu_);
    auto it = functions_.find(name);
    if (it != functions_.end()) {
      runtime = it->second->runtime;
      builtin = RuntimeKindOf(it->second->config.runtime) ==
                RuntimeKind::kAvroToTable;
    }
  }
  if (!runtime) {
    InvokeResult r;
    r.status =
        NotFound("Function not found: " + FunctionArn(options_.arn, name));
    done(std::move(r));
    return;
  }
  if (builtin) {
    // Through the API the reply always lists failed records, as a handler
    // written for ReportBatchItemFailures would.
    auto storage = std::make_shared<std::vector<std::string>>();
    auto ids = std::make_shared<std::vector<std::string>>();
    if (Status s = RecordsOfEvent(payload, storage.get(), ids.get()); !s.ok()) {
      done = Instrument(name, std::move(done));
      InvokeResult r;
      r.function_error = "Unhandled";
      std::string body;
      json::Writer w(&body);
      w.BeginObject()
          .Key("errorType")
          .String("InvalidEvent")
          .Key("errorMessage")
          .String(s.message())
          .EndObject();
      r.payload = std::move(body);
      done(std::move(r));
      return;
    }
    std::vector<BuiltinRecord> records;
    for (size_t i = 0; i < storage->size(); ++i)
      records.push_back(BuiltinRecord{(*storage)[i], (*ids)[i]});
    InvokeRecords(name, records, /*report_item_failures=*/true,
                  [storage, ids, done = std::move(done)](InvokeResult r) {
                    done(std::move(r));
                  });
    return;
  }
  runtime->Invoke(std::move(payload), std::move(client_context),
                  Instrument(name, std::move(done)));
}

// ---- event-source mappings ----

Status Service::StartMapping(Mapping& m) {
  if (!streams_) return FailedPrecondition("no streams service");
  ASSIGN_OR_RETURN(std::string stream,
                   StreamNameFromArn(m.config.event_source_arn));
  if (!options_.tables)
    return FailedPrecondition("no tables client for the lease table");
  m.source = std::make_unique<StreamsRecordSource>(*streams_, stream);
  LeaseOptions lo;
  lo.table = LeaseTableName(m.config.uuid);
  lo.worker_id = options_.worker_id;
  lo.failover_ms = options_.lease_failover_ms;
  lo.initial_position =
      std::string(StartingPositionName(m.config.starting_position));
  lo.now_ms = options_.now_ms;
  m.leases = std::make_unique<LeaseCoordinator>(lo, *options_.tables);
  m.destination.reset();
  if (!m.config.on_failure_destination.empty()) {
    ASSIGN_OR_RETURN(std::string dest,
                     StreamNameFromArn(m.config.on_failure_destination));
    m.destination = std::make_unique<StreamFailureDestination>(*streams_, dest);
  }
  m.invoker = std::make_unique<ServiceInvoker>(
      *this, m.config.function_name, m.config.report_batch_item_failures);
  MappingRunnerOptions o;
  o.mapping = m.config;
  o.function_arn = FunctionArn(options_.arn, m.config.function_name);
  {
    auto it = functions_.find(m.config.function_name);
    o.role_arn = it != functions_.end() ? it->second->config.role : "";
  }
  o.region = options_.arn.region;
  o.now_ms = options_.now_ms;
  o.legacy_checkpoints =
      options_.dir / "mappings" / (m.config.uuid + ".checkpoints.json");
  m.runner = std::make_unique<MappingRunner>(o, *m.source, *m.invoker,
                                             *m.leases, m.destination.get());
  m.runner->Start();
  return Status::Ok();
}

void Service::StopMapping(Mapping& m) {
  // Detach the runner under mu_ so that concurrent readers (GetMapping,
  // ListMappings) see either it or nothing; stop and join it outside the
  // lock, since its threads take mu_ on their way out.
  std::unique_ptr<MappingRunner> runner;
  {
    std::lock_guard l(mu_);
    runner = std::move(m.runner);
  }
  if (!runner) return;
  runner->Stop();
  runner->Join();
}

MappingStatus Service::StatusOf(const Mapping& m) const {
  MappingStatus s;
  s.config = m.config;
  s.state = m.config.enabled ? "Enabled" : "Disabled";
  s.last_result =
      m.runner ? m.runner->last_processing_result() : "No records processed";
  return s;
}

namespace {

Status ValidateMapping(const MappingConfig& m) {
  if (m.batch_size < 1 || m.batch_size > 10000)
    return InvalidArgument(
        "1 validation error detected: Value at 'batchSize' failed to satisfy "
        "constraint: Member must have value between 1 and 10000");
  if (m.maximum_batching_window_seconds < 0 ||
      m.maximum_batching_window_seconds > 300)
    return InvalidArgument(
        "1 validation error detected: Value at "
        "'maximumBatchingWindowInSeconds' failed to satisfy constraint: "
        "Member must have value between 0 and 300");
  if (m.parallelization_factor < 1 || m.parallelization_factor > 10)
    return InvalidArgument(
        "1 validation error detected: Value at 'parallelizationFactor' failed "
        "to satisfy constraint: Member must have value between 1 and 10");
  if (m.maximum_retry_attempts < -1 || m.maximum_retry_attempts > 10000)
    return InvalidArgument(
        "1 validation error detected: Value at 'maximumRetryAttempts' failed "
        "to satisfy constraint: Member must have value between -1 and 10000");
  if (m.maximum_record_age_seconds != -1 &&
      (m.maximum_record_age_seconds < 60 ||
       m.maximum_record_age_seconds > 604800))
    return InvalidArgument(
        "1 validation error detected: Value at 'maximumRecordAgeInSeconds' "
        "failed to satisfy constraint: Member must have value between -1 and "
        "604800, and at least 60 when not -1");
  if (m.tumbling_window_seconds < 0 || m.tumbling_window_seconds > 900)
    return InvalidArgument(
        "1 validation error detected: Value at 'tumblingWindowInSeconds' "
        "failed to satisfy constraint: Member must have value between 0 and "
        "900");
  if (Result<FilterSet> filters = FilterSet::Parse(m.filter_patterns);
      !filters.ok())
    return filters.status();
  return Status::Ok();
}

}  // namespace

Result<MappingStatus> Service::CreateMapping(MappingConfig config) {
  std::lock_guard control(control_mu_);
  RETURN_IF_ERROR(ValidateMapping(config));
  ASSIGN_OR_RETURN(std::string stream,
                   StreamNameFromArn(config.event_source_arn));
  if (!streams_ || !streams_->DescribeStream(stream).ok())
    return InvalidArgument("Stream not found: " + config.event_source_arn);
  if (!config.on_failure_destination.empty()) {
    ASSIGN_OR_RETURN(std::string dest,
                     StreamNameFromArn(config.on_failure_destination));
    if (!streams_->DescribeStream(dest).ok())
      return InvalidArgument(
          "The provided destination config "
          "DestinationConfig.OnFailure.Destination is "
          "invalid: stream not found: " +
          config.on_failure_destination);
  }
  {
    std::lock_guard l(mu_);
    if (!functions_.count(config.function_name))
      return NotFound("Function does not exist");
  }
  config.uuid = NewUuid();
  config.created_ms = options_.now_ms();
  config.last_modified_ms = config.created_ms;
  RETURN_IF_ERROR(
      WriteFileAtomically(options_.dir / "mappings" / (config.uuid + ".json"),
                          json::Serialize(ToStoredJson(config)) + "\n"));
  auto m = std::make_unique<Mapping>();
  m->config = config;
  std::lock_guard l(mu_);
  Mapping& ref = *m;
  mappings_[config.uuid] = std::move(m);
  if (ref.config.enabled) RETURN_IF_ERROR(StartMapping(ref));
  MappingStatus s = StatusOf(ref);
  s.state = "Creating";
  return s;
}

Result<MappingStatus> Service::GetMapping(const std::string& uuid) const {
  std::lock_guard l(mu_);
  auto it = mappings_.find(uuid);
  if (it == mappings_.end())
    return NotFound("The resource you requested does not exist.");
  return StatusOf(*it->second);
}

std::vector<MappingStatus> Service::ListMappings(
    const std::string& function_name, const std::string& source_arn) const {
  std::lock_guard l(mu_);
  std::vector<MappingStatus> out;
  for (const auto& [id, m] : mappings_) {
    if (!function_name.empty() && m->config.function_name != function_name)
      continue;
    if (!source_arn.empty() && m->config.event_source_arn != source_arn)
      continue;
    out.push_back(StatusOf(*m));
  }
  return out;
}

Result<MappingStatus> Service::UpdateMapping(
    const std::string& uuid,
    const std::function<Status(MappingConfig&)>& apply) {
  std::lock_guard control(control_mu_);
  Mapping* m = nullptr;
  {
    std::lock_guard l(mu_);
    auto it = mappings_.find(uuid);
    if (it == mappings_.end())
      return NotFound("The resource you requested does not exist.");
    m = it->second.get();
  }
  MappingConfig next = m->config;
  RETURN_IF_ERROR(apply(next));
  RETURN_IF_ERROR(ValidateMapping(next));
  {
    std::lock_guard l(mu_);
    if (!functions_.count(next.function_name))
      return NotFound("Function does not exist");
  }
  next.last_modified_ms = options_.now_ms();
  RETURN_IF_ERROR(
      WriteFileAtomically(options_.dir / "mappings" / (uuid + ".json"),
                          json::Serialize(ToStoredJson(next)) + "\n"));
  // Stopping waits for in-flight batches; done outside mu_.
  StopMapping(*m);
  std::lock_guard l(mu_);
  m->config = next;
  if (m->config.enabled) RETURN_IF_ERROR(StartMapping(*m));
  MappingStatus s = StatusOf(*m);
  s.state = "Updating";
  return s;
}

Result<MappingStatus> Service::DeleteMapping(const std::string& uuid) {
  std::lock_guard control(control_mu_);
  Mapping* m = nullptr;
  {
    std::lock_guard l(mu_);
    auto it = mappings_.find(uuid);
    if (it == mappings_.end())
      return NotFound("The resource you requested does not exist.");
    m = it->second.get();
  }
  StopMapping(*m);
  MappingStatus s = StatusOf(*m);
  s.state = "Deleting";
  // The runner has released its leases; the lease table goes too, so that
  // no checkpoint outlives its mapping. `riffle worker`s still running the
  // mapping see the table gone and stop its shards (lease_table.h). A
  // failure leaves only an orphan table behind: a new mapping gets a new
  // UUID, so a new table, and starts at its own starting position.
  if (options_.tables) {
    if (Status d = options_.tables->DeleteTableIfExists(LeaseTableName(uuid));
        !d.ok())
      RLOG_WARN("mapping {}: deleting lease table {}: {}", uuid,
                LeaseTableName(uuid), d.ToString());
  }
  std::error_code ec;
  fs::remove(options_.dir / "mappings" / (uuid + ".json"), ec);
  fs::remove(options_.dir / "mappings" / (uuid + ".checkpoints.json"), ec);
  fs::remove(options_.dir / "mappings" / (uuid + ".checkpoints.json.migrated"),
             ec);
  std::lock_guard l(mu_);
  mappings_.erase(uuid);
  return s;
}

}  // namespace riffle::functions
