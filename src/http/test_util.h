// Test-only clients for http_test: a blocking raw-socket HTTP/1 client, an
// nghttp2-based HTTP/2 client, optional TLS (OpenSSL) under both, and a
// server fixture. Not thread-safe; one client per thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "http/server.h"

namespace riffle::http::test {

// A server on a 2-thread pool, on 127.0.0.1 and a free port.
class TestServer {
 public:
  explicit TestServer(Handler handler, ServerOptions options = {}) : pool_(2) {
    pool_.Start();
    server_ =
        std::make_unique<Server>(pool_, std::move(options), std::move(handler));
    Status st = server_->Listen();
    if (!st.ok()) abort();
  }
  ~TestServer() {
    server_.reset();
    pool_.Stop();
  }
  Server& server() { return *server_; }
  uint16_t port() const { return server_->port(); }

 private:
  IoPool pool_;
  std::unique_ptr<Server> server_;
};

inline int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// A byte pipe over a socket, optionally TLS. Blocking, with a read timeout.
class Transport {
 public:
  // alpn: "" for no TLS, else the protocol list to offer ("h2",
  // "http/1.1").
  Transport(uint16_t port, std::string alpn = "") {
    fd_ = Connect(port);
    if (fd_ < 0 || alpn.empty()) return;
    ctx_ = SSL_CTX_new(TLS_client_method());
    std::string wire;
    wire.push_back(static_cast<char>(alpn.size()));
    wire += alpn;
    SSL_CTX_set_alpn_protos(ctx_,
                            reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned>(wire.size()));
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) {
      ERR_print_errors_fp(stderr);
      SSL_free(ssl_);
      ssl_ = nullptr;
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Transport() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  std::string alpn() const {
    if (!ssl_) return "";
    const unsigned char* p = nullptr;
    unsigned n = 0;
    SSL_get0_alpn_selected(ssl_, &p, &n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n =
          ssl_ ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
               : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Bytes read (0 on EOF, -1 on error or timeout).
  ssize_t Recv(char* buf, size_t n, int timeout_ms = 5000) {
    if (!ssl_ || SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return -1;
    }
    if (ssl_) {
      int r = SSL_read(ssl_, buf, static_cast<int>(n));
      if (r > 0) return r;
      return SSL_get_error(ssl_, r) == SSL_ERROR_ZERO_RETURN
                 ? 0
                 : (r == 0 ? 0 : -1);
    }
    return ::recv(fd_, buf, n, 0);
  }
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  uint32_t reset_code = 0;  // HTTP/2: RST_STREAM error code, if any
  bool closed = false;      // HTTP/2: stream closed
};

// HTTP/1.1 over a Transport.
class H1Client {
 public:
  explicit H1Client(uint16_t port, std::string alpn = "")
      : t_(port, std::move(alpn)) {}
  Transport& transport() { return t_; }
  bool Send(std::string_view raw) { return t_.Send(raw); }

  // Reads one response; status 0 when the connection ended first.
  ClientResponse Read(int timeout_ms = 5000) {
    ClientResponse r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(timeout_ms)) return r;
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    r.status = std::atoi(head.substr(9, 3).c_str());
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos) {
      size_t next = head.find("\r\n", pos + 2);
      std::string line =
          head.substr(pos + 2, next == std::string::npos ? std::string::npos
                                                         : next - pos - 2);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(c));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value[0] == ' ') value.erase(0, 1);
        r.headers[name] = value;
      }
      pos = next;
    }
    if (r.status == 100) return r;
    size_t length = r.headers.count("content-length")
                        ? std::stoul(r.headers["content-length"])
                        : 0;
    if (skip_body_) length = 0;
    while (buf_.size() < length) {
      if (!Fill(timeout_ms)) return ClientResponse{};
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }
  ClientResponse Request(std::string_view raw) {
    Send(raw);
    return Read();
  }
  void set_skip_body(bool v) { skip_body_ = v; }
  // True when the server closed the connection (EOF or reset).
  bool PeerClosed(int timeout_ms = 5000) {
    char c[4096];
    for (;;) {
      ssize_t n = t_.Recv(c, sizeof(c), timeout_ms);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

 private:
  bool Fill(int timeout_ms) {
    char tmp[16384];
    ssize_t n = t_.Recv(tmp, sizeof(tmp), timeout_ms);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  Transport t_;
  std::string buf_;
  bool skip_body_ = false;
};

// HTTP/2 over a Transport with an nghttp2 client session: submit requests,
// then Run() until they all end.
class H2Client {
 public:
  explicit H2Client(uint16_t port, std::string alpn = "",
                    uint32_t window = 65535)
      : t_(port, std::move(alpn)) {
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(
        cbs,
        [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n,
           size_t nl, const uint8_t* v, size_t vl, uint8_t, void* u) -> int {
          auto* self = static_cast<H2Client*>(u);
          std::string name(reinterpret_cast<const char*>(n), nl);
          std::string value(reinterpret_cast<const char*>(v), vl);
          auto& r = self->responses[f->hd.stream_id];
          if (name == ":status") {
            r.status = std::atoi(value.c_str());
          } else {
            r.headers[name] = value;
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cbs,
        [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n,
           void* u) -> int {
          static_cast<H2Client*>(u)->responses[id].body.append(
              reinterpret_cast<const char*>(d), n);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cbs, [](nghttp2_session*, int32_t id, uint32_t code, void* u) -> int {
          auto* self = static_cast<H2Client*>(u);
          self->responses[id].closed = true;
          self->responses[id].reset_code = code;
          --self->open_;
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame* f, void* u) -> int {
          auto* self = static_cast<H2Client*>(u);
          if (f->hd.type == NGHTTP2_GOAWAY) {
            self->goaway_last_stream = f->goaway.last_stream_id;
          }
          return 0;
        });
    nghttp2_session_client_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry s[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, s, 1);
  }
  ~H2Client() { nghttp2_session_del(session_); }
  static constexpr std::string_view kPrefaceForTests =
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  Transport& transport() { return t_; }

  int32_t Submit(std::string method, std::string path, std::string body = "",
                 std::vector<std::pair<std::string, std::string>> extra = {},
                 bool send_length = true) {
    auto req = std::make_unique<Pending>();
    req->body = std::move(body);
    std::vector<std::pair<std::string, std::string>> hs = {
        {":method", method},
        {":path", path},
        {":scheme", "http"},
        {":authority", "localhost"}};
    if (send_length && !req->body.empty()) {
      hs.push_back({"content-length", std::to_string(req->body.size())});
    }
    for (auto& e : extra) hs.push_back(e);
    req->headers = std::move(hs);
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : req->headers) {
      nva.push_back({reinterpret_cast<uint8_t*>(n.data()),
                     reinterpret_cast<uint8_t*>(v.data()), n.size(), v.size(),
                     NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider;
    provider.source.ptr = req.get();
    provider.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf,
                                size_t len, uint32_t* flags,
                                nghttp2_data_source* src, void*) -> ssize_t {
      auto* p = static_cast<Pending*>(src->ptr);
      size_t n = std::min(len, p->body.size() - p->sent);
      std::memcpy(buf, p->body.data() + p->sent, n);
      p->sent += n;
      if (p->sent == p->body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    };
    int32_t id = nghttp2_submit_request(
        session_, nullptr, nva.data(), nva.size(),
        req->body.empty() ? nullptr : &provider, nullptr);
    pending_.push_back(std::move(req));
    ++open_;
    responses[id];
    return id;
  }

  // Exchanges frames until every submitted stream has closed (true), the
  // connection ends or the timeout passes (false).
  bool Run(int timeout_ms = 10000) {
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(timeout_ms);
    for (;;) {
      for (;;) {
        const uint8_t* data;
        ssize_t n = nghttp2_session_mem_send(session_, &data);
        if (n <= 0) break;
        if (!t_.Send({reinterpret_cast<const char*>(data),
                      static_cast<size_t>(n)})) {
          return open_ == 0;
        }
      }
      if (open_ == 0) return true;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return false;
      char buf[16384];
      ssize_t n = t_.Recv(buf, sizeof(buf), static_cast<int>(left));
      if (n <= 0) {
        connection_ended = true;
        return open_ == 0;
      }
      if (nghttp2_session_mem_recv(session_,
                                   reinterpret_cast<const uint8_t*>(buf),
                                   static_cast<size_t>(n)) < 0) {
        return false;
      }
    }
  }
  // Reads until the server closes the connection.
  bool WaitClosed(int timeout_ms = 5000) {
    char buf[16384];
    for (;;) {
      ssize_t n = t_.Recv(buf, sizeof(buf), timeout_ms);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
      nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(buf),
                               static_cast<size_t>(n));
    }
  }

  std::map<int32_t, ClientResponse> responses;
  int32_t goaway_last_stream = -1;
  bool connection_ended = false;

 private:
  struct Pending {
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    size_t sent = 0;
  };
  Transport t_;
  nghttp2_session* session_ = nullptr;
  std::vector<std::unique_ptr<Pending>> pending_;
  int open_ = 0;
};

}  // namespace riffle::http::test
