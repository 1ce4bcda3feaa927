// A minimal HTTP/1.1 keep-alive client connection for the load generator.
//
// It exists so that the benchmark client costs as little CPU as possible: the
// caller hands it request bytes built once up front, and it parses only what a
// benchmark needs from the reply (status, Content-Length or chunked body,
// Connection: close). It is not a general HTTP client: no redirects, no
// pipelining, no TLS, one exchange in flight at a time.
//
// One HttpConnection is owned and used by a single thread; it is not
// thread-safe. It can be driven by an event loop (fd(), StartRequest(),
// OnWritable(), OnReadable()) or synchronously (RoundTrip()).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace riffle::bench {

class HttpConnection {
 public:
  HttpConnection(std::string host, int port);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Opens the TCP connection (blocking), then makes the socket non-blocking
  // with TCP_NODELAY. Closes any previous socket first. On failure returns
  // false and sets *error.
  bool Connect(std::string* error);
  void Close();
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Begins sending `request`, which must stay alive until the response has
  // arrived. Sends as much as the socket takes now; wants_write() tells
  // whether the rest waits for writability. Returns false on a socket error.
  bool StartRequest(std::string_view request);
  bool wants_write() const { return sent_ < request_.size(); }
  // Continues sending. Returns false on a socket error.
  bool OnWritable();

  enum class ReadResult { kError, kNeedMore, kComplete };
  // Reads what the socket has. kComplete means status() and body() hold the
  // whole response; kError means the socket failed, closed early or sent
  // something that is not HTTP (the connection must be reopened).
  ReadResult OnReadable();

  int status() const { return status_; }
  // Valid until the next StartRequest() or Close().
  std::string_view body() const { return body_view_; }
  // True when the server asked to close the connection after this response.
  bool server_closes() const { return server_closes_; }

  // Sends `request` and waits for the whole response (poll() based), at most
  // timeout_ms. On failure returns false and sets *error.
  bool RoundTrip(std::string_view request, int timeout_ms, std::string* error);

 private:
  void ResetResponse();
  // Parses the buffered bytes; returns kComplete once the response is whole.
  ReadResult Parse();
  ReadResult ParseChunked();

  std::string host_;
  int port_;
  int fd_ = -1;

  std::string_view request_;
  size_t sent_ = 0;

  // Received bytes [0, in_len_) of in_.
  std::vector<char> in_;
  size_t in_len_ = 0;
  size_t header_len_ = 0;  // 0 until the header block has been parsed.
  int status_ = 0;
  bool chunked_ = false;
  bool server_closes_ = false;
  size_t content_length_ = 0;
  // Chunked decoding state: position of the next chunk header in in_, and
  // the decoded body so far.
  size_t chunk_pos_ = 0;
  std::string chunked_body_;
  std::string_view body_view_;
};

}  // namespace riffle::bench
