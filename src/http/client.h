// A small blocking HTTP/1.1 client: the one way riffle code (the command
// line tools, src/client) talks to a remote riffle, AWS or Confluent
// endpoint. Plain http:// only, one keep-alive connection per Client.
//
// Why blocking and not Boost.Beast: callers send one request at a time and
// wait for it (a producer's batch, a consumer's GetRecords), and keeping
// Beast's headers out of this header keeps rebuilds on two cores quick.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "http/message.h"

namespace riffle::http {

// A parsed "http://host[:port][/base/path]".
struct Url {
  std::string host;  // without brackets or port
  int port = 80;
  std::string base_path;    // "" or "/prefix" (no trailing slash)
  std::string host_header;  // "host:port" as the Host header wants it
};

// Parses "http://host[:port][/path]". InvalidArgument otherwise (https is
// not supported: riffle listens on loopback in plain text by default).
Result<Url> ParseUrl(std::string_view url);

// Percent-encodes `s` for a path segment or a query value: every byte but
// the unreserved ones (A-Z a-z 0-9 - _ . ~), as SigV4 wants it too.
std::string UriEncode(std::string_view s);

struct ClientResponse {
  int status = 0;
  std::vector<Header> headers;  // lower-case names, in arrival order
  std::string body;

  // The first header named `lower_name`, or nullptr.
  const std::string* FindHeader(std::string_view lower_name) const;
};

struct ClientOptions {
  // Bounds each connect, send and receive wait; a server that stays silent
  // longer makes the request fail with Unavailable.
  std::chrono::milliseconds io_timeout{30000};
};

// One connection to one server. Owns its socket (opened lazily, reopened
// after the server closes it). Not thread-safe: one request at a time, from
// one thread; use one Client per thread.
class Client {
 public:
  explicit Client(Url url, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Url& url() const { return url_; }

  // Sends one request and reads the whole response. `target` is the path
  // and query below the URL's base path ("" for the base path itself).
  // Host and Content-Length are added; a "host" entry in `headers` is
  // skipped. Retries once on a fresh connection when a kept-alive one turns
  // out closed. Unavailable when the server cannot be reached, times out or
  // the connection breaks; a non-2xx status is not an error here.
  Result<ClientResponse> Send(std::string_view method, std::string_view target,
                              const std::vector<Header>& headers,
                              std::string_view body);

 private:
  Status Connect();
  void Close();
  Result<ClientResponse> SendOnce(std::string_view request);

  Url url_;
  ClientOptions options_;
  int fd_ = -1;
  std::string buffer_;  // bytes read past the previous response
};

}  // namespace riffle::http
