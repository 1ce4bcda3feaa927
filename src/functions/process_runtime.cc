#include "functions/process_runtime.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "core/clock.h"
#include "core/logging.h"
#include "http/server.h"
#include "json/json.h"

namespace riffle::functions {
namespace {

constexpr std::string_view kApiPrefix = "/2018-06-01/runtime/";
// Lambda's cap on a synchronous response (6 MB and 100 bytes): above it the
// Runtime API answers 413 and the caller gets Function.ResponseSizeTooLarge.
constexpr size_t kMaxResponseBytes = 6 * 1024 * 1024 + 100;
// Lambda keeps the last 4 KB for LogType=Tail; keep a little more so that
// the caller can cut at a line boundary.
constexpr size_t kInvocationLogCap = 64 * 1024;

std::string RandomHex(int digits) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string out;
  while (static_cast<int>(out.size()) < digits)
    out += fmt::format("{:016x}", rng());
  out.resize(digits);
  return out;
}

// Starts argv[0] with `envp` in `cwd`: stdin /dev/null, stdout and stderr
// on `out_fd`, a process group of its own, the default signal mask and
// dispositions. Returns 0 with the child in `*pid`, or the errno of the
// step that failed (the exec included: a status pipe reports it).
//
// fork and exec rather than posix_spawn, for what the child must do before
// exec that posix_spawn cannot:
// - PR_SET_PDEATHSIG: the child is killed when its parent dies. Without
//   it, a riffle killed with kill -9 leaves its function processes behind,
//   and aws-lambda-ric, finding its stdout pipe broken, spins forever
//   logging that it cannot log. The signal fires when the *thread* that
//   forked exits: only the supervisor thread spawns (see Service), and it
//   outlives every process it started.
// - Close every descriptor but 0-2: Asio's sockets are not close-on-exec,
//   and a child holding riffle's listeners or the other processes' Runtime
//   API connections would keep ports bound and connections open.
int SpawnProcess(char* const argv[], char* const envp[], const char* cwd,
                 int out_fd, pid_t* pid) {
  int status[2];
  if (::pipe2(status, O_CLOEXEC) != 0) return errno;
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) {
    int e = errno;
    ::close(status[0]);
    ::close(status[1]);
    return e;
  }
  if (child == 0) {
    // The child of a multi-threaded process: async-signal-safe calls only
    // (another thread may have held any lock at fork).
    int report = status[1];
    auto fail = [&report](int e) {
      (void)!::write(report, &e, sizeof e);
      ::_exit(127);
    };
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(errno);
    if (::getppid() != parent) ::_exit(127);  // it died before prctl
    ::setpgid(0, 0);
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGCHLD})
      ::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int in = ::open("/dev/null", O_RDONLY);
    if (in < 0) fail(errno);
    if (::dup2(in, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(out_fd, 2) < 0)
      fail(errno);
    if (::chdir(cwd) != 0) fail(errno);
    // Keep only the status pipe (close-on-exec), as descriptor 3.
    if (report != 3) {
      if (::dup3(report, 3, O_CLOEXEC) < 0) fail(errno);
      report = 3;
    }
    if (::close_range(4, ~0U, 0) != 0)
      for (int fd = 4; fd < 65536; ++fd) ::close(fd);
    ::execve(argv[0], argv, envp);
    fail(errno);
  }
  ::close(status[1]);
  int err = 0;
  ssize_t n;
  do {
    n = ::read(status[0], &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  ::close(status[0]);
  if (n == static_cast<ssize_t>(sizeof err)) {
    ::waitpid(child, nullptr, 0);
    return err;
  }
  *pid = child;
  return 0;
}

std::string ErrorDocument(std::string_view type, std::string_view message) {
  json::Value v = json::Value::Object();
  v.Set("errorType", json::Value::String(std::string(type)));
  v.Set("errorMessage", json::Value::String(std::string(message)));
  return json::Serialize(v);
}

std::string ExitDescription(int wait_status) {
  if (WIFEXITED(wait_status))
    return fmt::format("exit status {}", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    if (sig == SIGKILL) return "signal: killed";
    return fmt::format("signal: {}", strsignal(sig));
  }
  return "exited";
}

}  // namespace

std::string NewUuid() {
  std::string h = RandomHex(32);
  h[12] = '4';
  h[16] = "89ab"[h[16] % 4];
  return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4),
                     h.substr(12, 4), h.substr(16, 4), h.substr(20, 12));
}

struct ProcessRuntime::Invocation {
  std::string request_id;
  std::string payload;
  std::string client_context;
  InvokeCallback done;
  std::string log;
  int64_t start_ns = 0;
};

struct ProcessRuntime::Instance {
  enum class State {
    kReady,    // started, or between invocations: not asking for work
    kWaiting,  // holds a GET next
    kBusy,     // runs `current`
  };
  int id = 0;
  pid_t pid = -1;
  int out_fd = -1;  // read end of the stdout+stderr pipe
  std::unique_ptr<http::Server> server;
  uint64_t generation = 0;
  State state = State::kReady;
  http::Responder waiter;
  std::shared_ptr<Invocation> current;
  int64_t deadline_ns = 0;
  std::string partial_line;
  bool asked_for_work = false;
  std::string init_error;  // the document POSTed to init/error
  bool killed = false;
};

ProcessRuntime::ProcessRuntime(http::IoPool& io, std::string function_name,
                               ProcessSpec spec, LogSink log,
                               std::function<void()> wake_supervisor)
    : io_(io),
      function_name_(std::move(function_name)),
      log_(std::move(log)),
      wake_(std::move(wake_supervisor)),
      spec_(std::move(spec)) {}

ProcessRuntime::~ProcessRuntime() {
  Shutdown(Unavailable("the function runtime is shutting down"));
}

size_t ProcessRuntime::process_count() const {
  std::lock_guard l(mu_);
  return instances_.size();
}

size_t ProcessRuntime::queued() const {
  std::lock_guard l(mu_);
  return queue_.size();
}

// Invocations waiting for a process, per function. Beyond it callers get
// 429 (as from Lambda) instead of the server holding ever more payloads.
constexpr size_t kMaxQueuedInvocations = 256;

void ProcessRuntime::Invoke(std::string payload, std::string client_context,
                            InvokeCallback done) {
  auto inv = std::make_shared<Invocation>();
  inv->request_id = NewUuid();
  inv->payload = std::move(payload);
  inv->client_context = std::move(client_context);
  inv->done = std::move(done);
  inv->start_ns = MonotonicNanos();
  Actions after;
  {
    std::lock_guard l(mu_);
    if (shut_down_) {
      InvokeResult r;
      r.status = NotFound("Function not found: " + function_name_);
      r.request_id = inv->request_id;
      after.push_back([d = inv->done, r] { d(r); });
    } else if (spec_.max_processes <= 0 ||
               queue_.size() >= kMaxQueuedInvocations) {
      // A bounded queue: asynchronous invokes of a slow function must not
      // hold unbounded payloads in memory. Lambda answers 429 too.
      InvokeResult r;
      r.status = ResourceExhausted("Rate Exceeded.");
      r.request_id = inv->request_id;
      after.push_back([d = inv->done, r] { d(r); });
    } else {
      queue_.push_back(inv);
      for (auto& [id, inst] : instances_) {
        if (inst->state == Instance::State::kWaiting &&
            inst->generation == generation_) {
          AssignLocked(*inst, std::move(inst->waiter), &after);
          break;
        }
      }
    }
  }
  for (auto& a : after) a();
  if (wake_) wake_();
}

void ProcessRuntime::Update(ProcessSpec spec) {
  {
    std::lock_guard l(mu_);
    spec_ = std::move(spec);
    ++generation_;
  }
  if (wake_) wake_();
}

void ProcessRuntime::AssignLocked(Instance& inst, http::Responder respond,
                                  Actions* after) {
  std::shared_ptr<Invocation> inv = queue_.front();
  queue_.pop_front();
  inst.current = inv;
  inst.state = Instance::State::kBusy;
  inst.deadline_ns =
      MonotonicNanos() + int64_t{spec_.timeout_seconds} * 1'000'000'000;
  inst.waiter = nullptr;
  AppendLogLocked(&inst, fmt::format("START RequestId: {} Version: $LATEST",
                                     inv->request_id));

  http::Response r = http::JsonResponse(200, inv->payload);
  r.SetHeader("lambda-runtime-aws-request-id", inv->request_id);
  r.SetHeader(
      "lambda-runtime-deadline-ms",
      std::to_string(NowMillis() + int64_t{spec_.timeout_seconds} * 1000));
  r.SetHeader("lambda-runtime-invoked-function-arn", spec_.function_arn);
  r.SetHeader("lambda-runtime-trace-id",
              fmt::format("Root=1-{:08x}-{};Parent={};Sampled=0",
                          NowMillis() / 1000, RandomHex(24), RandomHex(16)));
  if (!inv->client_context.empty())
    r.SetHeader("lambda-runtime-client-context", inv->client_context);
  after->push_back([respond = std::move(respond), r = std::move(r)]() mutable {
    respond(std::move(r));
  });
}

void ProcessRuntime::CompleteLocked(Instance& inst, InvokeResult result,
                                    Actions* after) {
  std::shared_ptr<Invocation> inv = std::move(inst.current);
  inst.current = nullptr;
  inst.state = Instance::State::kReady;
  double ms = static_cast<double>(MonotonicNanos() - inv->start_ns) / 1e6;
  std::string end = fmt::format("END RequestId: {}", inv->request_id);
  std::string report = fmt::format(
      "REPORT RequestId: {}\tDuration: {:.2f} ms\tBilled Duration: {} "
      "ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
      inv->request_id, ms, static_cast<int64_t>(ms) + 1, spec_.memory_mb,
      spec_.memory_mb);
  inv->log += end + "\n" + report + "\n";
  log_(end);
  log_(report);
  result.log = std::move(inv->log);
  result.request_id = inv->request_id;
  after->push_back(
      [done = std::move(inv->done), result = std::move(result)]() mutable {
        done(std::move(result));
      });
}

InvokeResult ProcessRuntime::FailureResult(const Invocation& inv,
                                           std::string error_type,
                                           std::string message) {
  InvokeResult r;
  r.function_error = "Unhandled";
  r.payload = ErrorDocument(error_type, fmt::format("RequestId: {} Error: {}",
                                                    inv.request_id, message));
  return r;
}

void ProcessRuntime::AppendLogLocked(Instance* inst, std::string_view line) {
  if (inst && inst->current) {
    std::string& log = inst->current->log;
    log.append(line);
    log.push_back('\n');
    if (log.size() > kInvocationLogCap)
      log.erase(0, log.size() - kInvocationLogCap);
  }
  log_(line);
}

void ProcessRuntime::DrainLocked(Instance& inst) {
  char buf[16384];
  while (inst.out_fd >= 0) {
    ssize_t n = ::read(inst.out_fd, buf, sizeof buf);
    if (n > 0) {
      inst.partial_line.append(buf, static_cast<size_t>(n));
      size_t start = 0;
      while (true) {
        size_t nl = inst.partial_line.find('\n', start);
        if (nl == std::string::npos) break;
        AppendLogLocked(
            &inst,
            std::string_view(inst.partial_line).substr(start, nl - start));
        start = nl + 1;
      }
      inst.partial_line.erase(0, start);
      // A process that never writes a newline must not grow this forever.
      if (inst.partial_line.size() > 16384) {
        AppendLogLocked(&inst, inst.partial_line);
        inst.partial_line.clear();
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    // EOF or error: every writer is gone.
    if (!inst.partial_line.empty()) {
      AppendLogLocked(&inst, inst.partial_line);
      inst.partial_line.clear();
    }
    ::close(inst.out_fd);
    inst.out_fd = -1;
  }
}

void ProcessRuntime::KillLocked(Instance& inst) {
  if (inst.pid > 0 && !inst.killed) {
    // The process leads its own group: a bootstrap script's children die
    // with it.
    ::kill(-inst.pid, SIGKILL);
    ::kill(inst.pid, SIGKILL);
    inst.killed = true;
  }
  inst.waiter = nullptr;
}

void ProcessRuntime::OnRuntimeRequest(int instance_id, http::Request req,
                                      http::Responder respond) {
  Actions after;
  {
    std::lock_guard l(mu_);
    auto it = instances_.find(instance_id);
    if (it == instances_.end() || it->second->killed) {
      respond(http::JsonResponse(
          500, ErrorDocument("Runtime.Gone", "this runtime has been stopped")));
      return;
    }
    Instance& inst = *it->second;
    std::string_view path = req.path;
    if (path.substr(0, kApiPrefix.size()) != kApiPrefix) {
      respond(
          http::JsonResponse(404, ErrorDocument("NotFound", "unknown path")));
      return;
    }
    path.remove_prefix(kApiPrefix.size());
    if (req.method == "GET" && path == "invocation/next") {
      inst.asked_for_work = true;
      if (inst.generation != generation_) {
        // Old code: stop it; Poll starts a replacement if work is queued.
        KillLocked(inst);
        after.push_back([respond] {
          respond(http::JsonResponse(500,
                                     ErrorDocument("Runtime.Gone", "updated")));
        });
      } else if (!queue_.empty()) {
        AssignLocked(inst, std::move(respond), &after);
      } else {
        inst.state = Instance::State::kWaiting;
        inst.waiter = std::move(respond);
      }
    } else if (req.method == "POST" && path == "init/error") {
      std::string body = req.body;
      if (body.empty() || !json::Parse(body).ok()) {
        const std::string* type =
            req.FindHeader("lambda-runtime-function-error-type");
        body = ErrorDocument(type ? *type : "Runtime.Unknown", body);
      }
      inst.init_error = std::move(body);
      // A runtime that reported an init error is done; Poll fails the
      // waiting invocation with this document once the process is reaped.
      KillLocked(inst);
      after.push_back([respond] {
        respond(http::JsonResponse(202, R"({"status":"OK"})"));
      });
    } else if (req.method == "POST" && path.substr(0, 11) == "invocation/") {
      std::string_view rest = path.substr(11);
      size_t slash = rest.find('/');
      std::string_view id = rest.substr(0, slash);
      std::string_view verb =
          slash == std::string_view::npos ? "" : rest.substr(slash + 1);
      if ((verb != "response" && verb != "error")) {
        respond(
            http::JsonResponse(404, ErrorDocument("NotFound", "unknown path")));
        return;
      }
      if (!inst.current) {
        // As Lambda's Runtime API: nothing is in progress (the id was
        // already answered, or timed out), so the runtime's state machine
        // refuses the transition.
        respond(http::JsonResponse(
            403,
            ErrorDocument(
                "InvalidStateTransition",
                fmt::format("State transition from Ready to {} failed "
                            "for runtime. Error: State transition is "
                            "not allowed",
                            verb == "response" ? "InvocationResponse"
                                               : "InvocationErrorResponse"))));
        return;
      }
      if (inst.current->request_id != id) {
        respond(http::JsonResponse(
            400, ErrorDocument("InvalidRequestID", "Invalid request ID")));
        return;
      }
      // Lines the handler printed before answering belong to this
      // invocation's log: read them before closing it.
      DrainLocked(inst);
      InvokeResult result;
      bool too_large = false;
      if (verb == "response" && req.body.size() > kMaxResponseBytes) {
        // As Lambda: the invocation fails, the runtime is told why and may
        // go on to the next invocation.
        result.function_error = "Unhandled";
        result.payload = ErrorDocument(
            "Function.ResponseSizeTooLarge",
            fmt::format("Response payload size exceeded maximum allowed "
                        "payload size ({} bytes).",
                        kMaxResponseBytes));
        too_large = true;
      } else if (verb == "response") {
        result.payload = std::move(req.body);
      } else {
        result.function_error = "Unhandled";
        std::string body = std::move(req.body);
        if (body.empty() || !json::Parse(body).ok()) {
          const std::string* type =
              req.FindHeader("lambda-runtime-function-error-type");
          body = ErrorDocument(type ? *type : "Runtime.Unknown", body);
        }
        result.payload = std::move(body);
      }
      CompleteLocked(inst, std::move(result), &after);
      after.push_back([respond, too_large] {
        if (too_large) {
          respond(http::JsonResponse(
              413, ErrorDocument("RequestEntityTooLarge",
                                 fmt::format("Exceeded maximum allowed payload "
                                             "size ({} bytes).",
                                             kMaxResponseBytes))));
          return;
        }
        respond(http::JsonResponse(202, R"({"status":"OK"})"));
      });
    } else {
      respond(
          http::JsonResponse(404, ErrorDocument("NotFound", "unknown path")));
      return;
    }
  }
  for (auto& a : after) a();
}

Status ProcessRuntime::SpawnLocked() {
  auto inst = std::make_unique<Instance>();
  inst->id = next_instance_id_++;
  inst->generation = generation_;
  http::ServerOptions options;
  options.name = "lambda-runtime";
  options.host = "127.0.0.1";
  options.port = 0;
  options.max_body_bytes = 8u << 20;  // Lambda's 6 MB payloads, with room
  // A process may wait for work for as long as it lives.
  options.idle_timeout_seconds = 24 * 3600;
  std::weak_ptr<ProcessRuntime> weak = weak_from_this();
  int id = inst->id;
  inst->server = std::make_unique<http::Server>(
      io_, options, [weak, id](http::Request req, http::Responder respond) {
        if (auto self = weak.lock()) {
          self->OnRuntimeRequest(id, std::move(req), std::move(respond));
        } else {
          respond(http::JsonResponse(500,
                                     ErrorDocument("Runtime.Gone", "stopped")));
        }
      });
  RETURN_IF_ERROR(inst->server->Listen());

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return Internal(fmt::format("pipe: {}", std::strerror(errno)));
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);

  std::vector<std::string> env_strings;
  for (const auto& [k, v] : spec_.env) env_strings.push_back(k + "=" + v);
  env_strings.push_back(
      fmt::format("AWS_LAMBDA_RUNTIME_API=127.0.0.1:{}", inst->server->port()));
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = spec_.argv;
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  int rc = argv.size() > 1 ? SpawnProcess(argv.data(), envp.data(),
                                          spec_.cwd.c_str(), fds[1], &pid)
                           : ENOENT;
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    retired_servers_.push_back(std::move(inst->server));
    return FailedPrecondition(fmt::format(
        "cannot start {}: {}", argv_strings.empty() ? "" : argv_strings[0],
        std::strerror(rc)));
  }
  inst->pid = pid;
  inst->out_fd = fds[0];
  RLOG_DEBUG("function {}: started process {} (runtime API port {})",
             function_name_, pid, inst->server->port());
  instances_.emplace(inst->id, std::move(inst));
  return Status::Ok();
}

void ProcessRuntime::Poll(std::vector<int>* fds) {
  Actions after;
  std::vector<std::unique_ptr<http::Server>> dead_servers;
  {
    std::lock_guard l(mu_);
    int64_t now = MonotonicNanos();
    for (auto it = instances_.begin(); it != instances_.end();) {
      Instance& inst = *it->second;
      DrainLocked(inst);
      if (inst.state == Instance::State::kBusy && now > inst.deadline_ns &&
          !inst.killed) {
        AppendLogLocked(
            &inst,
            fmt::format("{} Task timed out after {}.00 seconds",
                        inst.current->request_id, spec_.timeout_seconds));
        InvokeResult r =
            FailureResult(*inst.current, "Sandbox.Timedout",
                          fmt::format("Task timed out after {}.00 seconds",
                                      spec_.timeout_seconds));
        CompleteLocked(inst, std::move(r), &after);
        KillLocked(inst);
      }
      if (inst.state != Instance::State::kBusy &&
          inst.generation != generation_) {
        KillLocked(inst);
      }
      int status = 0;
      pid_t r = ::waitpid(inst.pid, &status, WNOHANG);
      if (r == inst.pid) {
        DrainLocked(inst);
        std::string how = ExitDescription(status);
        if (inst.current) {
          AppendLogLocked(&inst, fmt::format("RequestId: {} Error: Runtime "
                                             "exited with error: {}",
                                             inst.current->request_id, how));
          InvokeResult res =
              FailureResult(*inst.current, "Runtime.ExitError",
                            fmt::format("Runtime exited with error: {}", how));
          CompleteLocked(inst, std::move(res), &after);
        } else if (!inst.asked_for_work && !queue_.empty()) {
          // Died during init: fail one waiting invocation so that a broken
          // function cannot respawn forever.
          std::shared_ptr<Invocation> inv = queue_.front();
          queue_.pop_front();
          InvokeResult res;
          res.function_error = "Unhandled";
          res.payload =
              !inst.init_error.empty()
                  ? inst.init_error
                  : ErrorDocument("Runtime.ExitError",
                                  fmt::format("RequestId: {} Error: Runtime "
                                              "exited with error: {}",
                                              inv->request_id, how));
          res.request_id = inv->request_id;
          res.log = fmt::format("Runtime exited before init: {}\n", how);
          after.push_back([d = inv->done, res] { d(res); });
        }
        RLOG_DEBUG("function {}: process {} ended ({})", function_name_,
                   inst.pid, how);
        if (inst.out_fd >= 0) ::close(inst.out_fd);
        dead_servers.push_back(std::move(inst.server));
        it = instances_.erase(it);
        continue;
      }
      ++it;
    }
    // Start processes for queued work, up to the concurrency cap.
    // Processes not busy will ask for work soon: count them before
    // starting more.
    size_t starting = 0;
    for (auto& [id, inst] : instances_)
      if (inst->state != Instance::State::kBusy && !inst->killed) ++starting;
    while (!shut_down_ && queue_.size() > starting &&
           instances_.size() < static_cast<size_t>(spec_.max_processes)) {
      Status s = SpawnLocked();
      if (!s.ok()) {
        std::shared_ptr<Invocation> inv = queue_.front();
        queue_.pop_front();
        InvokeResult res =
            FailureResult(*inv, "Runtime.InvalidEntrypoint", s.message());
        res.request_id = inv->request_id;
        AppendLogLocked(nullptr, s.message());
        after.push_back([d = inv->done, res] { d(res); });
        continue;
      }
      ++starting;
    }
    for (auto& [id, inst] : instances_)
      if (inst->out_fd >= 0) fds->push_back(inst->out_fd);
    for (auto& s : retired_servers_) dead_servers.push_back(std::move(s));
    retired_servers_.clear();
  }
  for (auto& a : after) a();
  dead_servers.clear();
}

void ProcessRuntime::Shutdown(Status reason) {
  Actions after;
  std::vector<std::unique_ptr<Instance>> instances;
  std::vector<std::unique_ptr<http::Server>> servers;
  {
    std::lock_guard l(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (auto& inv : queue_) {
      InvokeResult r;
      r.status = reason;
      r.request_id = inv->request_id;
      after.push_back([d = inv->done, r] { d(r); });
    }
    queue_.clear();
    for (auto& [id, inst] : instances_) {
      KillLocked(*inst);
      if (inst->current) {
        InvokeResult r;
        r.status = reason;
        CompleteLocked(*inst, std::move(r), &after);
      }
      instances.push_back(std::move(inst));
    }
    instances_.clear();
    for (auto& s : retired_servers_) servers.push_back(std::move(s));
    retired_servers_.clear();
  }
  for (auto& a : after) a();
  for (auto& inst : instances) {
    int status;
    while (::waitpid(inst->pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (inst->out_fd >= 0) ::close(inst->out_fd);
    inst->server.reset();
  }
}

}  // namespace riffle::functions
