// HTTP/1.1 (Beast's parser, our own response writer) and HTTP/2 (nghttp2)
// on one port, over TCP or TLS. The only translation unit that sees Asio,
// Beast, OpenSSL and nghttp2.
//
// Threading: IoPool runs one io_context per thread, and each connection
// lives on one of them for its whole life, so a connection's state is only
// ever touched by its own thread and needs no strand or lock. A handler's
// Responder may be called from any thread; it dispatches the response back
// to the connection's io_context (inline when already on that thread, the
// common case for a synchronous handler).

#include "http/server.h"

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "core/logging.h"

namespace riffle::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Executor = asio::io_context::executor_type;
using ErrorCode = boost::system::error_code;

constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// How long a connection that is closing keeps reading (and discarding)
// after its last response, so that unread request bytes do not turn the
// close into a reset that destroys the response in flight (RFC 9112 9.6).
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerMaxBytes = 16u << 20;
constexpr size_t kReadChunk = 16u << 10;
constexpr size_t kH2WriteBatch = 256u << 10;

// io_context with shutdown() reachable, so that IoPool can destroy every
// context's pending handlers while all contexts still exist (handlers of
// one context may own objects bound to another).
class PoolContext : public asio::io_context {
 public:
  PoolContext() : asio::io_context(1) {}
  using asio::execution_context::shutdown;
};

char ToLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLower(a[i]) != ToLower(b[i])) return false;
  }
  return true;
}

// Fills path and query from target. False when the path's escapes are bad.
bool SplitTarget(Request* req) {
  std::string_view t = req->target;
  // absolute-form ("http://host/path"), used by proxies.
  if (!t.empty() && t.front() != '/' && t != "*") {
    size_t scheme = t.find("://");
    if (scheme != std::string_view::npos) {
      size_t slash = t.find('/', scheme + 3);
      t = slash == std::string_view::npos ? std::string_view("/")
                                          : t.substr(slash);
    }
  }
  size_t q = t.find('?');
  if (q != std::string_view::npos) {
    req->query.assign(t.substr(q + 1));
    t = t.substr(0, q);
  } else {
    req->query.clear();
  }
  return PercentDecode(t, &req->path);
}

bool IsConnectionSpecific(std::string_view name) {
  return EqualsIgnoreCase(name, "connection") ||
         EqualsIgnoreCase(name, "keep-alive") ||
         EqualsIgnoreCase(name, "proxy-connection") ||
         EqualsIgnoreCase(name, "transfer-encoding") ||
         EqualsIgnoreCase(name, "upgrade") ||
         EqualsIgnoreCase(name, "content-length");
}

bool HasNoBody(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

Response PlainResponse(int status, std::string_view text) {
  Response r;
  r.status = status;
  r.headers.push_back(Header{"content-type", "text/plain"});
  r.body.assign(text);
  r.body.push_back('\n');
  return r;
}

tcp::socket& Lowest(tcp::socket& s) { return s; }
tcp::socket& Lowest(ssl::stream<tcp::socket>& s) { return s.next_layer(); }

class ConnectionBase;

}  // namespace

// ---------------------------------------------------------------- IoPool

struct IoPool::Impl {
  std::vector<std::unique_ptr<PoolContext>> contexts;
  std::vector<asio::executor_work_guard<Executor>> guards;
  std::vector<std::thread> threads;
  std::atomic<size_t> next{0};
  std::mutex mu;  // guards started/stopped and threads
  bool started = false;
  bool stopped = false;
};

IoPool::IoPool(int threads) : impl_(std::make_unique<Impl>()) {
  int n = threads < 1 ? 1 : threads;
  for (int i = 0; i < n; ++i) {
    impl_->contexts.push_back(std::make_unique<PoolContext>());
    impl_->guards.push_back(
        asio::make_work_guard(impl_->contexts.back()->get_executor()));
  }
}

IoPool::~IoPool() {
  Stop();
  impl_->guards.clear();
  // Destroy every pending handler (and what it owns: connections, sockets,
  // timers) while all contexts are still alive, then the contexts.
  for (auto& ctx : impl_->contexts) ctx->shutdown();
  impl_->contexts.clear();
}

void IoPool::Start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->started || impl_->stopped) return;
  impl_->started = true;
  for (auto& ctx : impl_->contexts) {
    PoolContext* c = ctx.get();
    impl_->threads.emplace_back([c] {
      for (;;) {
        try {
          c->run();
          return;
        } catch (const std::exception& e) {
          // A throwing completion handler is a bug; keep serving the
          // other connections rather than taking the process down.
          RLOG_ERROR("http: I/O thread caught exception: {}", e.what());
        }
      }
    });
  }
}

void IoPool::Post(std::function<void()> fn) {
  size_t i = impl_->next.fetch_add(1, std::memory_order_relaxed) %
             impl_->contexts.size();
  asio::post(*impl_->contexts[i], std::move(fn));
}

void IoPool::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    for (auto& ctx : impl_->contexts) ctx->stop();
    threads = std::move(impl_->threads);
  }
  for (auto& t : threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // Stop() from a pool thread: cannot join itself.
    } else {
      t.join();
    }
  }
}

void* IoPool::native_context() { return impl_->contexts[0].get(); }

void* IoPool::native_context(size_t index) {
  return impl_->contexts[index % impl_->contexts.size()].get();
}

size_t IoPool::size() const { return impl_->contexts.size(); }

// ------------------------------------------------------------ ServerState

namespace {

// Everything connections share with their Server. Owned jointly by the
// Server and its connections (shared_ptr), so that a connection that
// outlives ~Server still finds it. Thread-safe: immutable after Listen()
// except for the atomics and the mutex-guarded connection registry.
struct ServerState {
  ServerState(IoPool& p, ServerOptions o, Handler h)
      : pool(p), options(std::move(o)), handler(std::move(h)) {}

  IoPool& pool;
  const ServerOptions options;
  const Handler handler;
  std::unique_ptr<ssl::context> tls;
  std::unique_ptr<tcp::acceptor> acceptor;  // on pool context 0
  std::unique_ptr<asio::steady_timer> accept_retry;
  std::atomic<uint16_t> port{0};
  std::atomic<bool> draining{false};
  std::atomic<bool> handler_disabled{false};
  // Shared with ResponseSlots, which may outlive everything else.
  std::shared_ptr<std::atomic<size_t>> in_flight =
      std::make_shared<std::atomic<size_t>>(0);
  std::atomic<size_t> next_context{0};

  std::mutex mu;  // guards connections and next_id
  std::unordered_map<uint64_t, std::weak_ptr<ConnectionBase>> connections;
  uint64_t next_id = 1;

  uint64_t Register(const std::shared_ptr<ConnectionBase>& c) {
    std::lock_guard lock(mu);
    uint64_t id = next_id++;
    connections.emplace(id, c);
    return id;
  }
  void Unregister(uint64_t id) {
    std::lock_guard lock(mu);
    connections.erase(id);
  }
  std::vector<std::shared_ptr<ConnectionBase>> Snapshot() {
    std::vector<std::shared_ptr<ConnectionBase>> out;
    std::lock_guard lock(mu);
    for (auto& [id, weak] : connections) {
      if (auto c = weak.lock()) out.push_back(std::move(c));
    }
    return out;
  }
};

// One accepted connection, whichever protocol it speaks. Lives on one
// io_context; every method runs there. Owned only by its pending
// operations (Invariant: until closed, its timer always has a wait
// pending), so tearing down the io_context destroys it, and nothing else
// can keep it alive past its io_context.
class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  ConnectionBase(std::shared_ptr<ServerState> server, Executor executor)
      : server_(std::move(server)), executor_(executor) {}
  virtual ~ConnectionBase() {
    if (registry_id_) server_->Unregister(registry_id_);
  }

  virtual void Start() = 0;
  // Finish the requests in flight, then close.
  virtual void Drain() = 0;
  virtual void Close() = 0;
  // The response to request `id` (an HTTP/1 sequence number or an HTTP/2
  // stream id); runs on the connection's executor.
  virtual void OnResponse(uint64_t id, Response response) = 0;

  Executor executor() const { return executor_; }
  ServerState& server() { return *server_; }
  void set_registry_id(uint64_t id) { registry_id_ = id; }
  const std::string& remote_address() const { return remote_address_; }
  void set_remote_address(std::string a) { remote_address_ = std::move(a); }

 protected:
  std::shared_ptr<ServerState> server_;
  Executor executor_;
  uint64_t registry_id_ = 0;
  std::string remote_address_;  // set before Start, then only read
};

// The shared state behind one request's Responder: delivers exactly one
// response to the connection, and a 500 if every copy of the Responder is
// dropped without being called. Holds the connection weakly: a Responder
// that outlives its connection (or the whole server and pool) answers into
// the void instead of keeping sockets alive past their io_context.
// Thread-safe.
class ResponseSlot {
 public:
  ResponseSlot(const std::shared_ptr<ConnectionBase>& conn, uint64_t id,
               std::shared_ptr<std::atomic<size_t>> in_flight)
      : conn_(conn), id_(id), in_flight_(std::move(in_flight)) {
    in_flight_->fetch_add(1, std::memory_order_relaxed);
  }
  ~ResponseSlot() {
    if (!done_.exchange(true)) {
      Deliver(PlainResponse(500, "the request handler dropped the request"));
    }
  }
  ResponseSlot(const ResponseSlot&) = delete;
  ResponseSlot& operator=(const ResponseSlot&) = delete;

  void Complete(Response response) {
    if (done_.exchange(true)) {
      RLOG_WARN("http: a request was answered twice; ignoring the second");
      return;
    }
    Deliver(std::move(response));
  }

 private:
  void Deliver(Response response) {
    in_flight_->fetch_sub(1, std::memory_order_relaxed);
    std::shared_ptr<ConnectionBase> conn = conn_.lock();
    // Gone (closed by the client, CloseAll, or the pool's teardown), or on
    // a stopped pool: the response has nowhere to go.
    if (!conn || conn->executor().context().stopped()) return;
    Executor ex = conn->executor();
    asio::dispatch(ex, [conn = std::move(conn), id = id_,
                        r = std::move(response)]() mutable {
      conn->OnResponse(id, std::move(r));
    });
  }

  std::weak_ptr<ConnectionBase> conn_;
  const uint64_t id_;
  std::shared_ptr<std::atomic<size_t>> in_flight_;
  std::atomic<bool> done_{false};
};

void InvokeHandler(ConnectionBase& conn, uint64_t id, Request request) {
  ServerState& server = conn.server();
  auto slot = std::make_shared<ResponseSlot>(conn.shared_from_this(), id,
                                             server.in_flight);
  if (server.handler_disabled.load(std::memory_order_relaxed)) {
    slot->Complete(PlainResponse(503, "server is shutting down"));
    return;
  }
  request.remote_address = conn.remote_address();
  // The catch-all: an exception from a handler becomes a 500, never a
  // dead I/O thread.
  try {
    server.handler(std::move(request),
                   [slot](Response r) { slot->Complete(std::move(r)); });
  } catch (const std::exception& e) {
    RLOG_ERROR("http {}: handler threw: {}", server.options.name, e.what());
    slot->Complete(PlainResponse(500, "internal error"));
  } catch (...) {
    RLOG_ERROR("http {}: handler threw a non-exception", server.options.name);
    slot->Complete(PlainResponse(500, "internal error"));
  }
}

// Parses one HTTP/1 request straight into a Request (no intermediate
// field container). One parser per request, as Beast requires.
class RequestParser : public bhttp::basic_parser<true> {
 public:
  explicit RequestParser(Request* req) : req_(req) {}
  bool expect_continue() const { return expect_continue_; }
  // The status for a request refused by our own header checks (0: none).
  int refusal_status() const { return refusal_status_; }

 private:
  void on_request_impl(bhttp::verb, beast::string_view method,
                       beast::string_view target, int version,
                       ErrorCode& ec) override {
    req_->method.assign(method.data(), method.size());
    req_->target.assign(target.data(), target.size());
    req_->http_major = version / 10;
    version_ = version;
    if (!SplitTarget(req_)) ec = bhttp::error::bad_target;
  }
  void on_response_impl(int, beast::string_view, int, ErrorCode&) override {}
  void on_field_impl(bhttp::field field, beast::string_view name,
                     beast::string_view value, ErrorCode&) override {
    Header h;
    h.name.resize(name.size());
    for (size_t i = 0; i < name.size(); ++i) h.name[i] = ToLower(name[i]);
    h.value.assign(value.data(), value.size());
    if (field == bhttp::field::expect &&
        EqualsIgnoreCase({value.data(), value.size()}, "100-continue")) {
      expect_continue_ = true;
    }
    if (field == bhttp::field::transfer_encoding) {
      AddCodings({value.data(), value.size()});
    }
    req_->headers.push_back(std::move(h));
  }
  void on_header_impl(ErrorCode& ec) override {
    if (!has_transfer_encoding_) return;
    // Beast frames "gzip" or "chunked, chunked" as a body-less request and
    // takes Content-Length beside a final non-chunked coding, while a proxy
    // in front may frame them otherwise: the request-smuggling gap. RFC
    // 9112 6.1 and 6.3: only a final, single "chunked" gives a length we
    // can trust (400 and close otherwise), other codings we cannot decode
    // (501), and HTTP/1.0 has no transfer codings at all.
    const bool final_chunked =
        !codings_.empty() && EqualsIgnoreCase(codings_.back(), "chunked");
    size_t chunked = 0;
    for (const std::string& c : codings_) {
      if (EqualsIgnoreCase(c, "chunked")) ++chunked;
    }
    if (version_ < 11 || !final_chunked || chunked != 1) {
      refusal_status_ = 400;
      ec = bhttp::error::bad_transfer_encoding;
    } else if (codings_.size() > 1) {
      refusal_status_ = 501;
      ec = bhttp::error::bad_transfer_encoding;
    }
  }
  // Appends the codings of one Transfer-Encoding field value: a
  // comma-separated list whose elements may carry ";parameters" and
  // surrounding whitespace, and may be empty.
  void AddCodings(std::string_view value) {
    has_transfer_encoding_ = true;
    while (!value.empty()) {
      size_t comma = value.find(',');
      std::string_view c = value.substr(0, comma);
      value = comma == std::string_view::npos ? std::string_view()
                                              : value.substr(comma + 1);
      c = c.substr(0, c.find(';'));
      while (!c.empty() && (c.front() == ' ' || c.front() == '\t')) {
        c.remove_prefix(1);
      }
      while (!c.empty() && (c.back() == ' ' || c.back() == '\t')) {
        c.remove_suffix(1);
      }
      if (!c.empty()) codings_.emplace_back(c);
    }
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         ErrorCode&) override {
    // Beast has already checked the length against body_limit.
    if (length) req_->body.reserve(*length);
  }
  size_t on_body_impl(beast::string_view body, ErrorCode&) override {
    req_->body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view,
                            ErrorCode&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                            ErrorCode&) override {
    req_->body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(ErrorCode&) override {}

  Request* req_;
  int version_ = 11;
  bool expect_continue_ = false;
  bool has_transfer_encoding_ = false;
  std::vector<std::string> codings_;  // every Transfer-Encoding, in order
  int refusal_status_ = 0;
};

// One HTTP/2 stream's request and, once answered, its response (which the
// data provider reads from until nghttp2 closes the stream).
struct H2Stream {
  Request request;
  Clock::time_point started;  // its HEADERS began; bounds the request time
  size_t header_bytes = 0;
  bool headers_too_large = false;
  bool headers_done = false;
  bool dispatched = false;
  bool rejected = false;           // answered before its request was complete
  bool early_answer_sent = false;  // the whole early answer has gone out
  size_t discarded = 0;  // request bytes dropped after rejected was set
  bool reset = false;    // RST_STREAM submitted
  bool head = false;
  Response response;
  size_t sent = 0;
};

template <class Stream>
class Connection final : public ConnectionBase {
 public:
  Connection(std::shared_ptr<ServerState> server, Executor executor,
             Stream stream)
      : ConnectionBase(std::move(server), executor),
        stream_(std::move(stream)),
        timer_(executor) {}

  ~Connection() override {
    if (h2_) nghttp2_session_del(h2_);
  }

  void Start() override {
    draining_ = server_->draining.load();
    SetDeadline(RequestTimeout());
    if constexpr (std::is_same_v<Stream, ssl::stream<tcp::socket>>) {
      state_ = State::kHandshake;
      stream_.async_handshake(
          ssl::stream_base::server,
          [self = Self()](const ErrorCode& ec) { self->OnHandshake(ec); });
    } else {
      Sniff();
    }
  }

  void Drain() override {
    draining_ = true;
    if (closed_) return;
    if (mode_ == Mode::kHttp2) {
      H2Goaway();
      return;
    }
    switch (state_) {
      case State::kHandshake:
      case State::kSniff:
      case State::kIdle:
        Close();
        break;
      default:
        break;  // the response in progress carries "connection: close"
    }
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    ErrorCode ec;
    timer_.cancel();
    Lowest(stream_).shutdown(tcp::socket::shutdown_both, ec);
    Lowest(stream_).close(ec);
  }

  void OnResponse(uint64_t id, Response response) override {
    if (closed_) return;
    if (mode_ == Mode::kHttp2) {
      H2Respond(static_cast<int32_t>(id), std::move(response));
    } else {
      H1Respond(id, std::move(response));
    }
  }

 private:
  enum class Mode { kUnknown, kHttp1, kHttp2 };
  enum class State {
    kHandshake,
    kSniff,
    kIdle,      // HTTP/1: waiting for the first byte of a request
    kReading,   // HTTP/1: part of a request has arrived
    kHandling,  // HTTP/1: the handler has the request
    kWriting,
    kLinger,
    kHttp2,
  };

  std::shared_ptr<Connection> Self() {
    return std::static_pointer_cast<Connection>(shared_from_this());
  }
  Clock::duration RequestTimeout() const {
    return std::chrono::seconds(server_->options.request_timeout_seconds);
  }
  Clock::duration IdleTimeout() const {
    return std::chrono::seconds(server_->options.idle_timeout_seconds);
  }

  // ----- deadlines: one timer, re-armed lazily, so that the hot path only
  // stores a time point.
  void SetDeadline(Clock::duration d) {
    deadline_ = Clock::now() + d;
    if (!timer_armed_ || deadline_ < timer_expiry_) ArmTimer();
  }
  void ClearDeadline() { deadline_ = Clock::time_point::max(); }
  void ArmTimer() {
    timer_armed_ = true;
    timer_expiry_ = deadline_;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = Self()](const ErrorCode& ec) {
      if (ec == asio::error::operation_aborted) return;  // re-armed/closed
      self->OnTimer();
    });
  }
  void OnTimer() {
    timer_armed_ = false;
    if (closed_) return;
    if (deadline_ == Clock::time_point::max()) {
      // No deadline (a handler has the request); keep a wait pending all
      // the same, since the timer's wait is what owns the connection.
      timer_armed_ = true;
      timer_expiry_ = Clock::now() + IdleTimeout();
      timer_.expires_at(timer_expiry_);
      timer_.async_wait([self = Self()](const ErrorCode& ec) {
        if (ec == asio::error::operation_aborted) return;
        self->OnTimer();
      });
      return;
    }
    if (Clock::now() < deadline_) {
      ArmTimer();
      return;
    }
    if (mode_ == Mode::kHttp2 && H2OnDeadline()) return;
    RLOG_DEBUG("http {}: connection timed out", server_->options.name);
    Close();
  }

  // ----- TLS and protocol detection
  void OnHandshake(const ErrorCode& ec) {
    if (ec || closed_) {
      Close();
      return;
    }
    if constexpr (std::is_same_v<Stream, ssl::stream<tcp::socket>>) {
      const unsigned char* alpn = nullptr;
      unsigned int alpn_len = 0;
      SSL_get0_alpn_selected(stream_.native_handle(), &alpn, &alpn_len);
      if (alpn_len == 2 && std::memcmp(alpn, "h2", 2) == 0) {
        StartHttp2();
        return;
      }
    }
    Sniff();
  }

  void Sniff() {
    state_ = State::kSniff;
    std::string_view have(static_cast<const char*>(buf_.data().data()),
                          buf_.size());
    size_t k = std::min(have.size(), kH2Preface.size());
    if (have.substr(0, k) != kH2Preface.substr(0, k)) {
      StartHttp1();
      return;
    }
    if (have.size() >= kH2Preface.size()) {
      StartHttp2();
      return;
    }
    // Nothing yet, or a strict prefix of the preface: need more bytes.
    SetDeadline(IdleTimeout());
    stream_.async_read_some(buf_.prepare(kReadChunk),
                            [self = Self()](const ErrorCode& ec, size_t n) {
                              if (ec || self->closed_) {
                                self->Close();
                                return;
                              }
                              self->buf_.commit(n);
                              self->Sniff();
                            });
  }

  // ----- HTTP/1.1
  void StartHttp1() {
    mode_ = Mode::kHttp1;
    H1NextRequest();
  }

  void H1NextRequest() {
    if (closed_) return;
    if (draining_ && buf_.size() == 0) {
      Close();
      return;
    }
    request_ = Request();
    parser_.emplace(&request_);
    parser_->header_limit(
        static_cast<std::uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(server_->options.max_body_bytes);
    parser_->eager(true);
    continue_sent_ = false;
    state_ = State::kIdle;
    H1Parse();
  }

  void H1Parse() {
    while (buf_.size() > 0) {
      if (state_ == State::kIdle) {
        state_ = State::kReading;
        SetDeadline(RequestTimeout());
      }
      ErrorCode ec;
      size_t n = parser_->put(buf_.data(), ec);
      buf_.consume(n);
      if (ec == bhttp::error::need_more) break;
      if (ec) {
        H1Fail(ec);
        return;
      }
      if (parser_->is_done()) {
        H1Dispatch();
        return;
      }
      if (n == 0) break;
    }
    if (parser_->is_header_done() && parser_->expect_continue() &&
        !continue_sent_) {
      continue_sent_ = true;
      static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(k100.data(), k100.size()),
                        [self = Self()](const ErrorCode& ec, size_t) {
                          if (ec || self->closed_) {
                            self->Close();
                            return;
                          }
                          self->H1Read();
                        });
      return;
    }
    H1Read();
  }

  void H1Read() {
    if (state_ == State::kIdle) SetDeadline(IdleTimeout());
    stream_.async_read_some(buf_.prepare(kReadChunk),
                            [self = Self()](const ErrorCode& ec, size_t n) {
                              self->OnH1Read(ec, n);
                            });
  }

  void OnH1Read(const ErrorCode& ec, size_t n) {
    if (closed_) return;
    if (ec) {
      // EOF between requests is the normal end of a keep-alive connection.
      Close();
      return;
    }
    buf_.commit(n);
    H1Parse();
  }

  void H1Fail(const ErrorCode& ec) {
    int status = 400;
    std::string_view text = "bad request";
    if (ec == bhttp::error::body_limit) {
      status = 413;
      text = "request body too large";
    } else if (ec == bhttp::error::header_limit) {
      status = 431;
      text = "request header fields too large";
    } else if (parser_ && parser_->refusal_status() == 501) {
      status = 501;
      text = "transfer coding not implemented";
    }
    RLOG_DEBUG("http {}: {} ({})", server_->options.name, status, ec.message());
    keep_alive_ = false;
    head_ = false;
    if (status == 413 && server_->options.body_too_large) {
      return H1Write(*server_->options.body_too_large);
    }
    H1Write(PlainResponse(status, text));
  }

  void H1Dispatch() {
    state_ = State::kHandling;
    ClearDeadline();
    keep_alive_ = parser_->keep_alive() && !draining_;
    head_ = request_.method == "HEAD";
    parser_.reset();
    InvokeHandler(*this, ++sequence_, std::move(request_));
  }

  void H1Respond(uint64_t id, Response response) {
    if (id != sequence_ || state_ != State::kHandling) return;
    if (draining_) keep_alive_ = false;
    H1Write(std::move(response));
  }

  void H1Write(Response response) {
    state_ = State::kWriting;
    SetDeadline(IdleTimeout());
    out_ = std::move(response);
    head_buf_.clear();
    head_buf_.append("HTTP/1.1 ");
    head_buf_.append(std::to_string(out_.status));
    head_buf_.push_back(' ');
    auto reason =
        bhttp::obsolete_reason(static_cast<bhttp::status>(out_.status));
    head_buf_.append(reason.data(), reason.size());
    head_buf_.append("\r\n");
    for (const Header& h : out_.headers) {
      if (IsConnectionSpecific(h.name)) continue;
      // A CR or LF from a handler would let it split the response.
      if (h.name.find_first_of("\r\n:") != std::string::npos ||
          h.value.find_first_of("\r\n") != std::string::npos) {
        continue;
      }
      head_buf_.append(h.name);
      head_buf_.append(": ");
      head_buf_.append(h.value);
      head_buf_.append("\r\n");
    }
    const bool no_body = HasNoBody(out_.status);
    if (!no_body) {
      head_buf_.append("content-length: ");
      head_buf_.append(std::to_string(out_.body.size()));
      head_buf_.append("\r\n");
    }
    if (!keep_alive_) head_buf_.append("connection: close\r\n");
    head_buf_.append("\r\n");
    std::array<asio::const_buffer, 2> buffers = {
        asio::buffer(head_buf_),
        (no_body || head_) ? asio::const_buffer() : asio::buffer(out_.body)};
    asio::async_write(stream_, buffers,
                      [self = Self()](const ErrorCode& ec, size_t) {
                        self->OnH1Written(ec);
                      });
  }

  void OnH1Written(const ErrorCode& ec) {
    if (closed_) return;
    out_ = Response();
    if (ec) {
      Close();
      return;
    }
    if (!keep_alive_) {
      Linger();
      return;
    }
    H1NextRequest();
  }

  // Half-closes and discards what the client still sends, briefly.
  void Linger() {
    state_ = State::kLinger;
    ErrorCode ignored;
    Lowest(stream_).shutdown(tcp::socket::shutdown_send, ignored);
    SetDeadline(kLingerTime);
    buf_.clear();
    LingerRead();
  }
  void LingerRead() {
    Lowest(stream_).async_read_some(
        buf_.prepare(kReadChunk),
        [self = Self()](const ErrorCode& ec, size_t n) {
          if (self->closed_) return;
          self->lingered_ += n;
          if (ec || self->lingered_ > kLingerMaxBytes) {
            self->Close();
            return;
          }
          self->LingerRead();
        });
  }

  // ----- HTTP/2
  void StartHttp2() {
    mode_ = Mode::kHttp2;
    state_ = State::kHttp2;
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs,
                                                            &OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &OnHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &OnFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
                                                              &OnDataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &OnStreamClose);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &OnFrameSend);
    nghttp2_option* opt;
    nghttp2_option_new(&opt);
    int rv = nghttp2_session_server_new2(&h2_, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0) {
      h2_ = nullptr;
      Close();
      return;
    }
    const auto& o = server_->options;
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, o.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
         static_cast<uint32_t>(o.max_header_bytes)},
    };
    nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, settings,
                            sizeof(settings) / sizeof(settings[0]));
    // A connection window larger than the default 64 KiB, so that several
    // streams can upload at once without waiting for WINDOW_UPDATEs.
    nghttp2_session_set_local_window_size(h2_, NGHTTP2_FLAG_NONE, 0, 16u << 20);
    if (draining_) H2Goaway();
    H2Consume();
  }

  // Feeds buffered bytes to nghttp2, writes what it wants to send, reads.
  void H2Consume() {
    if (buf_.size() > 0) {
      in_recv_ = true;
      ssize_t rv = nghttp2_session_mem_recv(
          h2_, static_cast<const uint8_t*>(buf_.data().data()), buf_.size());
      in_recv_ = false;
      if (rv < 0) {
        RLOG_DEBUG("http {}: HTTP/2 error: {}", server_->options.name,
                   nghttp2_strerror(static_cast<int>(rv)));
        Close();
        return;
      }
      buf_.consume(buf_.size());
    }
    if (!H2HasPendingHandlers()) SetDeadline(IdleTimeout());
    H2BoundIncompleteRequests();
    H2Flush();
    if (closed_) return;
    if (!reading_ && nghttp2_session_want_read(h2_)) {
      reading_ = true;
      stream_.async_read_some(buf_.prepare(kReadChunk),
                              [self = Self()](const ErrorCode& ec, size_t n) {
                                self->reading_ = false;
                                if (self->closed_) return;
                                if (ec) {
                                  self->Close();
                                  return;
                                }
                                self->buf_.commit(n);
                                self->H2Consume();
                              });
    }
  }

  void H2Flush() {
    if (closed_ || writing_ || in_recv_) return;
    write_buf_.clear();
    while (write_buf_.size() < kH2WriteBatch) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(h2_, &data);
      if (n < 0) {
        Close();
        return;
      }
      if (n == 0) break;
      write_buf_.append(reinterpret_cast<const char*>(data),
                        static_cast<size_t>(n));
    }
    if (write_buf_.empty()) {
      if (!nghttp2_session_want_read(h2_) && !nghttp2_session_want_write(h2_)) {
        Close();
      }
      return;
    }
    writing_ = true;
    asio::async_write(stream_, asio::buffer(write_buf_),
                      [self = Self()](const ErrorCode& ec, size_t) {
                        self->writing_ = false;
                        if (self->closed_) return;
                        if (ec) {
                          self->Close();
                          return;
                        }
                        self->H2Flush();
                      });
  }

  void H2Goaway() {
    if (!h2_ || goaway_sent_) return;
    goaway_sent_ = true;
    // Streams up to the last one we have seen complete; the client may
    // retry later ones elsewhere (RFC 9113 6.8).
    nghttp2_submit_goaway(h2_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(h2_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    H2Flush();
  }

  bool H2HasPendingHandlers() const { return h2_pending_ > 0; }

  // A stream whose request has begun but not ended: it holds a buffered
  // body and is owed nothing yet.
  static bool H2Incomplete(const H2Stream& s) {
    return !s.dispatched && !s.rejected && !s.reset;
  }

  // Brings the deadline forward to the first incomplete request's own
  // (request_timeout after its HEADERS), as HTTP/1 bounds a request from
  // its first byte: any frame at all (a PING, one DATA byte) pushes the
  // idle deadline back, so it alone would let a half-sent upload, and the
  // body it buffers, live for ever.
  void H2BoundIncompleteRequests() {
    for (const auto& [id, s] : streams_) {
      if (H2Incomplete(*s) && s->started + RequestTimeout() < deadline_) {
        deadline_ = s->started + RequestTimeout();
      }
    }
    if (!timer_armed_ || deadline_ < timer_expiry_) ArmTimer();
  }

  // The deadline has passed: resets the requests that have run out of
  // time. True when the connection lives on (it had such requests, or
  // handlers still owe answers), false when it has been idle too long.
  bool H2OnDeadline() {
    const Clock::time_point now = Clock::now();
    bool expired = false;
    for (auto& [id, s] : streams_) {
      if (H2Incomplete(*s) && s->started + RequestTimeout() <= now) {
        s->reset = true;
        expired = true;
        s->request.body = std::string();
        nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
      }
    }
    if (!expired && !H2HasPendingHandlers()) return false;
    SetDeadline(IdleTimeout());
    H2BoundIncompleteRequests();
    H2Flush();
    return true;
  }

  H2Stream* GetStream(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }

  void H2Dispatch(int32_t id, H2Stream* s) {
    if (s->dispatched || s->rejected) return;
    s->dispatched = true;
    ++h2_pending_;
    s->head = s->request.method == "HEAD";
    InvokeHandler(*this, static_cast<uint64_t>(id), std::move(s->request));
  }

  // Stops the upload of a rejected stream whose client sent more than a
  // lingering HTTP/1 connection would read, once its answer is out.
  void H2ResetIfLingeredEnough(int32_t id, H2Stream* s) {
    if (!s->early_answer_sent || s->reset || s->discarded <= kLingerMaxBytes) {
      return;
    }
    s->reset = true;
    nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
  }

  // Answers a stream before its request is complete (413, 431, 400).
  void H2Reject(int32_t id, H2Stream* s, int status, std::string_view text) {
    if (s->rejected || s->dispatched) return;
    s->rejected = true;
    s->request.body.clear();
    if (status == 413 && server_->options.body_too_large) {
      return H2Submit(id, s, *server_->options.body_too_large);
    }
    H2Submit(id, s, PlainResponse(status, text));
  }

  void H2Respond(int32_t id, Response response) {
    --h2_pending_;
    H2Stream* s = GetStream(id);
    if (!s) return;  // the client reset the stream meanwhile
    H2Submit(id, s, std::move(response));
    H2Flush();
  }

  void H2Submit(int32_t id, H2Stream* s, Response response) {
    s->response = std::move(response);
    s->sent = 0;
    std::string status = std::to_string(s->response.status);
    const bool no_body = HasNoBody(s->response.status);
    std::string length = std::to_string(s->response.body.size());
    std::vector<nghttp2_nv> nva;
    nva.reserve(s->response.headers.size() + 2);
    auto add = [&nva](std::string_view n, std::string_view v) {
      nva.push_back(
          nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())),
                     n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    };
    add(":status", status);
    for (Header& h : s->response.headers) {
      if (IsConnectionSpecific(h.name) || h.name.empty() || h.name[0] == ':') {
        continue;
      }
      // HTTP/2 requires lower-case field names.
      for (char& c : h.name) c = ToLower(c);
      add(h.name, h.value);
    }
    if (!no_body) add("content-length", length);
    nghttp2_data_provider provider;
    provider.source.ptr = s;
    provider.read_callback = &ReadBody;
    const bool has_body = !no_body && !s->head && !s->response.body.empty();
    // nghttp2 copies the name/value pairs during the call.
    int rv = nghttp2_submit_response(h2_, id, nva.data(), nva.size(),
                                     has_body ? &provider : nullptr);
    if (rv != 0) {
      RLOG_DEBUG("http {}: submit_response: {}", server_->options.name,
                 nghttp2_strerror(rv));
    }
  }

  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf,
                          size_t length, uint32_t* data_flags,
                          nghttp2_data_source* source, void*) {
    auto* s = static_cast<H2Stream*>(source->ptr);
    const std::string& body = s->response.body;
    size_t n = std::min(length, body.size() - s->sent);
    std::memcpy(buf, body.data() + s->sent, n);
    s->sent += n;
    if (s->sent == body.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  static int OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* f,
                            void* user) {
    if (f->hd.type != NGHTTP2_HEADERS ||
        f->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;
    }
    auto* self = static_cast<Connection*>(user);
    auto stream = std::make_unique<H2Stream>();
    stream->request.http_major = 2;
    stream->started = Clock::now();
    nghttp2_session_set_stream_user_data(session, f->hd.stream_id,
                                         stream.get());
    self->streams_[f->hd.stream_id] = std::move(stream);
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* f,
                      const uint8_t* name, size_t namelen, const uint8_t* value,
                      size_t valuelen, uint8_t, void* user) {
    auto* self = static_cast<Connection*>(user);
    H2Stream* s = self->GetStream(f->hd.stream_id);
    if (!s || s->headers_done || s->headers_too_large) return 0;  // trailers
    // RFC 9113 6.5.2's accounting: name + value + 32 per field.
    s->header_bytes += namelen + valuelen + 32;
    if (s->header_bytes > self->server_->options.max_header_bytes) {
      s->headers_too_large = true;
      return 0;
    }
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    Request& r = s->request;
    if (!n.empty() && n[0] == ':') {
      if (n == ":method") {
        r.method.assign(v);
      } else if (n == ":path") {
        r.target.assign(v);
      } else if (n == ":authority") {
        r.headers.push_back(Header{"host", std::string(v)});
      }
      return 0;
    }
    r.headers.push_back(Header{std::string(n), std::string(v)});
    return 0;
  }

  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* f, void* user) {
    auto* self = static_cast<Connection*>(user);
    const int32_t id = f->hd.stream_id;
    H2Stream* s = id ? self->GetStream(id) : nullptr;
    if (!s) return 0;
    const bool end_stream = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (f->hd.type == NGHTTP2_HEADERS && !s->headers_done) {
      s->headers_done = true;
      if (s->headers_too_large) {
        self->H2Reject(id, s, 431, "request header fields too large");
        return 0;
      }
      if (!SplitTarget(&s->request)) {
        self->H2Reject(id, s, 400, "bad request target");
        return 0;
      }
      if (const std::string* cl = s->request.FindHeader("content-length")) {
        // nghttp2 has checked that it is a number.
        uint64_t length = std::strtoull(cl->c_str(), nullptr, 10);
        if (length > self->server_->options.max_body_bytes) {
          self->H2Reject(id, s, 413, "request body too large");
          return 0;
        }
        s->request.body.reserve(static_cast<size_t>(length));
      }
    }
    if (end_stream &&
        (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA)) {
      self->H2Dispatch(id, s);
    }
    return 0;
  }

  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t id,
                         const uint8_t* data, size_t len, void* user) {
    auto* self = static_cast<Connection*>(user);
    H2Stream* s = self->GetStream(id);
    if (s && s->rejected) {
      s->discarded += len;
      self->H2ResetIfLingeredEnough(id, s);
      return 0;
    }
    if (!s || s->dispatched) return 0;
    if (s->request.body.size() + len > self->server_->options.max_body_bytes) {
      self->H2Reject(id, s, 413, "request body too large");
      return 0;
    }
    s->request.body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  static int OnFrameSend(nghttp2_session* session, const nghttp2_frame* f,
                         void* user) {
    auto* self = static_cast<Connection*>(user);
    if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    H2Stream* s = self->GetStream(f->hd.stream_id);
    // An early answer is complete. RFC 9113 8.1 lets the server reset the
    // stream now (NO_ERROR) to stop the upload, but curl 7.88 and Node 20
    // then drop the answer they hold (curl reports no status at all): the
    // rest is read and discarded instead, as HTTP/1 lingers, up to
    // kLingerMaxBytes.
    if (s && s->rejected &&
        nghttp2_session_get_stream_remote_close(session, f->hd.stream_id) ==
            0) {
      s->early_answer_sent = true;
      self->H2ResetIfLingeredEnough(f->hd.stream_id, s);
    }
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t id, uint32_t, void* user) {
    auto* self = static_cast<Connection*>(user);
    self->streams_.erase(id);
    return 0;
  }

  Stream stream_;
  asio::steady_timer timer_;
  Clock::time_point deadline_ = Clock::time_point::max();
  Clock::time_point timer_expiry_;
  bool timer_armed_ = false;
  bool closed_ = false;
  bool draining_ = false;
  Mode mode_ = Mode::kUnknown;
  State state_ = State::kSniff;
  beast::flat_buffer buf_;

  // HTTP/1
  Request request_;
  std::optional<RequestParser> parser_;
  uint64_t sequence_ = 0;
  bool keep_alive_ = true;
  bool head_ = false;
  bool continue_sent_ = false;
  Response out_;
  std::string head_buf_;
  size_t lingered_ = 0;

  // HTTP/2
  nghttp2_session* h2_ = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<H2Stream>> streams_;
  std::string write_buf_;
  size_t h2_pending_ = 0;
  bool in_recv_ = false;
  bool writing_ = false;
  bool reading_ = false;
  bool goaway_sent_ = false;
};

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen,
               const unsigned char* in, unsigned int inlen, void*) {
  // Our preference order: h2, then http/1.1.
  static const unsigned char kProtos[] = "\x02h2\x08http/1.1";
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kProtos, sizeof(kProtos) - 1, in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

// ------------------------------------------------------------------ Server

struct Server::Impl : ServerState {
  using ServerState::ServerState;

  void Accept(const std::shared_ptr<Impl>& self) {
    size_t i = next_context.fetch_add(1, std::memory_order_relaxed);
    auto* ctx = static_cast<PoolContext*>(pool.native_context(i));
    acceptor->async_accept(
        *ctx, [self, ctx](const ErrorCode& ec, tcp::socket socket) {
          self->OnAccept(self, ctx, ec, std::move(socket));
        });
  }

  void OnAccept(const std::shared_ptr<Impl>& self, PoolContext* ctx,
                const ErrorCode& ec, tcp::socket socket) {
    if (!acceptor->is_open() || draining.load()) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // Out of descriptors or similar: back off instead of spinning.
      RLOG_WARN("http {}: accept failed: {}", options.name, ec.message());
      accept_retry->expires_after(std::chrono::milliseconds(100));
      accept_retry->async_wait([self](const ErrorCode& e) {
        if (!e) self->Accept(self);
      });
      return;
    }
    ErrorCode ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::string remote;
    if (auto peer = socket.remote_endpoint(ignored); !ignored) {
      remote = peer.address().to_string();
    }
    std::shared_ptr<ConnectionBase> conn;
    if (tls) {
      conn = std::make_shared<Connection<ssl::stream<tcp::socket>>>(
          self, ctx->get_executor(),
          ssl::stream<tcp::socket>(std::move(socket), *tls));
    } else {
      conn = std::make_shared<Connection<tcp::socket>>(
          self, ctx->get_executor(), std::move(socket));
    }
    conn->set_remote_address(std::move(remote));
    conn->set_registry_id(Register(conn));
    asio::post(conn->executor(), [conn] { conn->Start(); });
    Accept(self);
  }
};

Server::Server(IoPool& pool, ServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(pool, std::move(options),
                                   std::move(handler))) {}

Server::~Server() {
  impl_->handler_disabled.store(true);
  CloseAll();
}

Status Server::Listen() {
  Impl& s = *impl_;
  auto* ctx0 = static_cast<PoolContext*>(s.pool.native_context(0));
  try {
    if (s.options.tls) {
      auto tls = std::make_unique<ssl::context>(ssl::context::tls_server);
      tls->set_options(ssl::context::default_workarounds |
                       ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      tls->use_certificate_chain_file(s.options.tls->cert_file);
      tls->use_private_key_file(s.options.tls->key_file, ssl::context::pem);
      SSL_CTX_set_alpn_select_cb(tls->native_handle(), &SelectAlpn, nullptr);
      s.tls = std::move(tls);
    }
    ErrorCode ec;
    auto address = asio::ip::make_address(s.options.host, ec);
    tcp::endpoint endpoint;
    if (ec) {
      tcp::resolver resolver(*ctx0);
      auto results =
          resolver.resolve(s.options.host, std::to_string(s.options.port), ec);
      if (ec || results.empty()) {
        return InvalidArgument("cannot resolve host '" + s.options.host +
                               "': " + ec.message());
      }
      endpoint = results.begin()->endpoint();
    } else {
      endpoint = tcp::endpoint(address, s.options.port);
    }
    auto acceptor = std::make_unique<tcp::acceptor>(*ctx0);
    acceptor->open(endpoint.protocol());
    acceptor->set_option(tcp::acceptor::reuse_address(true));
    acceptor->bind(endpoint, ec);
    if (ec) {
      return Unavailable("cannot listen on " + s.options.host + ":" +
                         std::to_string(s.options.port) + ": " + ec.message());
    }
    acceptor->listen(asio::socket_base::max_listen_connections);
    s.port.store(acceptor->local_endpoint().port());
    s.acceptor = std::move(acceptor);
    s.accept_retry = std::make_unique<asio::steady_timer>(*ctx0);
  } catch (const std::exception& e) {
    return InvalidArgument("http " + s.options.name + ": " + e.what());
  }
  // The first accept is started on the acceptor's own thread, like every
  // later one.
  asio::post(*ctx0, [self = impl_] { self->Accept(self); });
  return Status::Ok();
}

uint16_t Server::port() const { return impl_->port.load(); }

std::string Server::url() const {
  const std::string& host = impl_->options.host;
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(impl_->options.tls ? "https://" : "http://") + h + ":" +
         std::to_string(port());
}

void Server::StopAccepting() {
  if (impl_->draining.exchange(true)) return;
  if (impl_->acceptor) {
    auto* ctx0 = static_cast<PoolContext*>(impl_->pool.native_context(0));
    asio::post(*ctx0, [self = impl_] {
      ErrorCode ignored;
      self->acceptor->close(ignored);
      if (self->accept_retry) self->accept_retry->cancel();
    });
  }
  for (auto& conn : impl_->Snapshot()) {
    asio::post(conn->executor(), [conn] { conn->Drain(); });
  }
}

void Server::CloseAll() {
  // From here on no handler runs: the services behind them are about to be
  // torn down, and a request that finishes parsing before its connection's
  // posted Close() must not reach them.
  impl_->handler_disabled.store(true);
  StopAccepting();
  for (auto& conn : impl_->Snapshot()) {
    asio::post(conn->executor(), [conn] { conn->Close(); });
  }
}

size_t Server::in_flight() const { return impl_->in_flight->load(); }

}  // namespace riffle::http
