// Runs one function's code as child processes that speak the Lambda Runtime
// API (2018-06-01,
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
//
// Each process gets its own private loopback listener (its
// AWS_LAMBDA_RUNTIME_API), so a request on it always names the process: a
// timeout or a crash is pinned to the right invocation without trusting
// anything the process says. Concurrency is the number of processes: an
// invocation waits in a FIFO queue until a process asks for work with GET
// invocation/next. Processes start on demand, up to max_processes, and stay
// warm.
//
// Failure rules, as Lambda's: an invocation that outlives the timeout fails
// (Sandbox.Timedout) and its process is killed and replaced; a process that
// exits fails its invocation (Runtime.ExitError); a process that dies before
// its first GET next fails the oldest queued invocation, so a bootstrap that
// cannot start never loops forever. stdout and stderr (one pipe, so their
// lines interleave as written) are the function's log.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "http/message.h"

namespace riffle::http {
class IoPool;
class Server;
}  // namespace riffle::http

namespace riffle::functions {

// The outcome of one invocation.
struct InvokeResult {
  // Not ok when riffle could not run the function at all (throttled:
  // ResourceExhausted; deleted: NotFound; spawn failure: Internal). A
  // handler error is ok() with function_error set.
  Status status;
  std::string payload;         // the response, or the error document
  std::string function_error;  // "" or "Unhandled"
  std::string log;             // this invocation's log lines (START..REPORT)
  std::string request_id;
};
using InvokeCallback = std::function<void(InvokeResult)>;

// How to start one process.
struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is the executable's path
  std::string cwd;                // LAMBDA_TASK_ROOT
  // The whole environment except AWS_LAMBDA_RUNTIME_API, which is per
  // process.
  std::map<std::string, std::string> env;
  int timeout_seconds = 3;
  int max_processes = 4;  // 0: every invocation is throttled
  std::string function_arn;
  int memory_mb = 128;
};

// Receives every line a function writes (and riffle's START/END/REPORT
// lines), on the supervisor thread or on the thread completing an
// invocation. Must be thread-safe and must not block for long.
using LogSink = std::function<void(std::string_view line)>;

// Owns the function's processes, their pipes and their Runtime API
// listeners. Thread-safe: Invoke from any thread; Poll and the pipe/reaping
// work happen on the owner's supervisor thread (see Service), which is the
// only thread that starts processes, so network threads never fork or wait.
// Created with std::make_shared: the listeners hold weak references.
class ProcessRuntime : public std::enable_shared_from_this<ProcessRuntime> {
 public:
  ProcessRuntime(http::IoPool& io, std::string function_name, ProcessSpec spec,
                 LogSink log, std::function<void()> wake_supervisor);
  ~ProcessRuntime();
  ProcessRuntime(const ProcessRuntime&) = delete;
  ProcessRuntime& operator=(const ProcessRuntime&) = delete;

  // Queues an invocation; `done` runs exactly once, on any thread, never
  // under this runtime's lock. `client_context` is passed on as
  // Lambda-Runtime-Client-Context when non-empty.
  void Invoke(std::string payload, std::string client_context,
              InvokeCallback done);

  // New code or configuration: idle processes stop now, busy ones once
  // their invocation ends; new processes use `spec`.
  void Update(ProcessSpec spec);

  // Kills every process, fails queued and running invocations with
  // `reason`, and waits for the processes to exit (briefly: SIGKILL). Call
  // off the network threads. Idempotent.
  void Shutdown(Status reason);

  // Supervisor work: reads pipes, enforces deadlines, reaps exited
  // processes and starts processes for queued work. Appends the pipe fds to
  // watch to `fds`. Supervisor thread only.
  void Poll(std::vector<int>* fds);

  // For metrics and tests.
  size_t process_count() const;
  size_t queued() const;

 private:
  struct Invocation;
  struct Instance;
  using Actions = std::vector<std::function<void()>>;

  // Runtime API requests of process `instance_id`.
  void OnRuntimeRequest(int instance_id, http::Request req,
                        http::Responder respond);
  void AssignLocked(Instance& inst, http::Responder respond, Actions* after);
  void CompleteLocked(Instance& inst, InvokeResult result, Actions* after);
  void DrainLocked(Instance& inst);
  void AppendLogLocked(Instance* inst, std::string_view line);
  Status SpawnLocked();
  void KillLocked(Instance& inst);
  InvokeResult FailureResult(const Invocation& inv, std::string error_type,
                             std::string message);

  http::IoPool& io_;
  const std::string function_name_;
  const LogSink log_;
  const std::function<void()> wake_;

  mutable std::mutex mu_;
  ProcessSpec spec_;
  uint64_t generation_ = 0;
  int next_instance_id_ = 1;
  std::map<int, std::unique_ptr<Instance>> instances_;
  std::deque<std::shared_ptr<Invocation>> queue_;
  // Servers of exited processes, destroyed on the supervisor thread.
  std::vector<std::unique_ptr<http::Server>> retired_servers_;
  bool shut_down_ = false;
};

// A random v4 UUID ("1f2e...-..."), for request ids and mapping UUIDs.
std::string NewUuid();

}  // namespace riffle::functions
