// A small blocking HTTP/1.1 client for the command-line tools (`riffle
// produce`, `riffle tail`), which talk to a riffle server (or AWS and a
// Confluent registry) only through the public HTTP APIs, like any other
// client would. One keep-alive connection, plain http:// only; requests to
// the AWS JSON APIs carry a SigV4 Authorization header.
//
// Why not Boost.Beast: a CLI sends one request at a time and waits, and
// keeping Beast's headers out of app/ keeps rebuilds on two cores quick.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace riffle::app {

struct CliUrl {
  std::string host;  // without brackets or port
  int port = 80;
  std::string base_path;    // "" or "/prefix" (no trailing slash)
  std::string host_header;  // "host:port" as the Host header wants it
};

// Parses "http://host[:port][/path]". InvalidArgument otherwise (https is
// not supported: riffle listens on loopback in plain text by default).
Result<CliUrl> ParseCliUrl(std::string_view url);

struct CliResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // lowercase names
  std::string body;
};

// One connection to one server. Owns its socket. Not thread-safe: one
// request at a time, from one thread.
class CliHttpClient {
 public:
  explicit CliHttpClient(CliUrl url);
  ~CliHttpClient();
  CliHttpClient(const CliHttpClient&) = delete;
  CliHttpClient& operator=(const CliHttpClient&) = delete;

  const CliUrl& url() const { return url_; }

  // Sends one request and reads the whole response. `target` is the path
  // and query below the URL's base path. Reconnects (once) when a kept-alive
  // connection turns out closed. Unavailable when the server cannot be
  // reached or the connection breaks; a non-2xx status is not an error here.
  Result<CliResponse> Send(
      std::string_view method, std::string_view target,
      const std::vector<std::pair<std::string, std::string>>& headers,
      std::string_view body);

 private:
  Status Connect();
  void Close();
  Result<CliResponse> SendOnce(std::string_view request);

  CliUrl url_;
  int fd_ = -1;
  std::string buffer_;  // bytes read past the previous response
};

// Calls one operation of an AWS JSON API (Kinesis: awsJson1.1, target
// prefix "Kinesis_20131202"), signed with SigV4 using AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION when set (riffle accepts any
// credentials; AWS itself needs real ones). Owns its connection; not
// thread-safe.
class AwsJsonClient {
 public:
  AwsJsonClient(CliUrl url, std::string service, std::string target_prefix,
                std::string json_version);

  // POSTs `body` as operation `op`. Returns the response whatever its
  // status; the caller reads `__type` from error bodies.
  Result<CliResponse> Call(std::string_view op, std::string_view body);

 private:
  CliHttpClient http_;
  std::string service_;
  std::string target_prefix_;
  std::string content_type_;
  std::string access_key_;
  std::string secret_key_;
  std::string region_;
};

// The SigV4 Authorization header value for a request (exposed for tests).
// `headers` must hold every header to sign, names lowercase, including
// host and x-amz-date; `amz_date` is "YYYYMMDDTHHMMSSZ".
std::string SigV4Authorization(
    std::string_view method, std::string_view path,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::string_view body, std::string_view access_key,
    std::string_view secret_key, std::string_view region,
    std::string_view service, std::string_view amz_date);

}  // namespace riffle::app
