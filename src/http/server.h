// The network front: a pool of I/O threads and HTTP servers on it. Every
// listener serves HTTP/1.1 (keep-alive) and HTTP/2 on the same port: h2c
// with prior knowledge on cleartext, and h2 chosen by ALPN under TLS.
//
// Asio and Beast stay inside server.cc; this header is cheap to include.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "http/message.h"

namespace riffle::http {

// Owns the io_contexts and the threads that run them: one io_context per
// thread, so that everything of one connection runs on one thread without
// strands or locks. Thread-safe.
class IoPool {
 public:
  explicit IoPool(int threads);
  ~IoPool();  // Stops and joins.
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  // Starts the threads; returns at once.
  void Start();
  // Runs `fn` on one of the pool's threads.
  void Post(std::function<void()> fn);
  // Stops the threads (pending handlers are dropped) and joins them.
  void Stop();

  // The first io_context (run by one thread), as void* so that this header
  // stays free of Asio; only http's own translation units cast it back.
  void* native_context();
  // The io_context number `index % size()`.
  void* native_context(size_t index);
  // The number of threads (and io_contexts).
  size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct TlsOptions {
  std::string cert_file;  // PEM chain
  std::string key_file;   // PEM private key
};

struct ServerOptions {
  std::string name = "http";  // for logs and metrics: "aws", "registry", ...
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 picks a free port
  // A request whose body exceeds this is answered 413 before the body is
  // read whole (Content-Length checked first, then while reading).
  size_t max_body_bytes = 8u << 20;
  // That 413's reply, when the protocol served has its own (the read API
  // answers API Gateway's JSON); else text/plain "request body too large".
  std::optional<Response> body_too_large;
  // Header block limit; larger is answered 431.
  size_t max_header_bytes = 64u << 10;
  // Idle keep-alive connections close after this long.
  int idle_timeout_seconds = 120;
  // Once a request's first byte has arrived, all of it (and a TLS
  // handshake) must arrive within this; slow clients are cut off.
  int request_timeout_seconds = 30;
  // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection.
  uint32_t max_concurrent_streams = 128;
  std::optional<TlsOptions> tls;
};

// One listening socket and its connections. Thread-safe. The handler runs
// on the pool's threads, possibly concurrently for different connections
// (and for different streams of one HTTP/2 connection).
//
// Replies: every response gets content-length; HTTP/1 requests with a body
// over max_body_bytes get 413, oversized headers 431, malformed requests
// 400, each followed by closing the connection; HTTP/2 streams get the same
// statuses, and the rest of their upload is read and dropped (up to 16
// MiB, then RST_STREAM(NO_ERROR)): curl and Node lose an answer whose
// stream is reset while they still send. A handler that throws, or
// drops its Responder without calling it, yields a 500.
//
// Lifetime: the Server must be destroyed before its IoPool. After ~Server no
// new request reaches the handler, but a handler already running may still
// call its Responder (harmlessly).
class Server {
 public:
  Server(IoPool& pool, ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting. Fails when the address is in use or bad.
  Status Listen();
  // The bound port (after Listen), the chosen one when options.port was 0.
  uint16_t port() const;
  // "http://host:port" (https when TLS is configured).
  std::string url() const;

  // Stops accepting new connections; open ones finish their in-flight
  // requests, then close. Returns at once.
  void StopAccepting();
  // Closes every connection now.
  void CloseAll();
  // Number of requests that have been received but not answered.
  size_t in_flight() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace riffle::http
