#include "app/cli_http_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>

namespace riffle::app {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return Hex(digest, len);
}

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest,
       &len);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace

Result<CliUrl> ParseCliUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument("URL " + std::string(url) +
                           ": only http:// URLs are supported");
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path =
      slash == std::string_view::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  CliUrl out;
  out.base_path = std::string(path);
  out.host_header = std::string(authority);
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument("URL " + std::string(url) + ": bad IPv6 host");
    }
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      port = authority.substr(close + 2);
    }
  } else if (const size_t colon = authority.rfind(':');
             colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    return InvalidArgument("URL " + std::string(url) + ": no host");
  }
  out.host = std::string(host);
  if (!port.empty()) {
    auto [p, ec] =
        std::from_chars(port.data(), port.data() + port.size(), out.port);
    if (ec != std::errc() || p != port.data() + port.size() || out.port <= 0 ||
        out.port > 65535) {
      return InvalidArgument("URL " + std::string(url) + ": bad port");
    }
  }
  return out;
}

CliHttpClient::CliHttpClient(CliUrl url) : url_(std::move(url)) {}

CliHttpClient::~CliHttpClient() { Close(); }

void CliHttpClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

Status CliHttpClient::Connect() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(url_.port);
  if (int rc = ::getaddrinfo(url_.host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return Unavailable("cannot resolve " + url_.host + ": " +
                       ::gai_strerror(rc));
  }
  std::string error = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      fd_ = fd;
      break;
    }
    error = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (fd_ < 0) {
    return Unavailable("cannot connect to " + url_.host_header + ": " + error);
  }
  return Status::Ok();
}

Result<CliResponse> CliHttpClient::Send(
    std::string_view method, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::string_view body) {
  std::string request;
  request.reserve(256 + body.size());
  request.append(method).append(" ").append(url_.base_path).append(target);
  request.append(" HTTP/1.1\r\nHost: ").append(url_.host_header);
  request.append("\r\nContent-Length: ").append(std::to_string(body.size()));
  request.append("\r\n");
  for (const auto& [name, value] : headers) {
    if (name == "host") continue;
    request.append(name).append(": ").append(value).append("\r\n");
  }
  request.append("\r\n").append(body);
  const bool reused = fd_ >= 0;
  auto r = SendOnce(request);
  // A kept-alive connection may have been closed by the server (idle
  // timeout) since the last request; that is not the server being down.
  if (!r.ok() && reused) r = SendOnce(request);
  return r;
}

Result<CliResponse> CliHttpClient::SendOnce(std::string_view request) {
  if (fd_ < 0) RETURN_IF_ERROR(Connect());
  auto fail = [&](const std::string& what) -> Status {
    Close();
    return Unavailable(what + " (" + url_.host_header + ")");
  };
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n =
        ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(std::string("send: ") + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
  // Reads until `buffer_` holds at least `want` bytes.
  auto fill = [&](size_t want) -> Status {
    char chunk[16384];
    while (buffer_.size() < want) {
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) return Unavailable("interrupted");
      if (n <= 0) return Unavailable("connection closed by the server");
      buffer_.append(chunk, static_cast<size_t>(n));
    }
    return Status::Ok();
  };
  size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (buffer_.size() > (1 << 20)) return fail("response headers too large");
    Status s = fill(buffer_.size() + 1);
    if (!s.ok()) return fail(s.message());
  }
  CliResponse response;
  std::string_view head(buffer_.data(), header_end);
  const size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") {
    return fail("malformed status line");
  }
  std::from_chars(status_line.data() + 9, status_line.data() + 12,
                  response.status);
  bool chunked = false;
  bool close_after = false;
  std::optional<size_t> length;
  if (line_end != std::string_view::npos) {
    std::string_view rest = head.substr(line_end + 2);
    while (!rest.empty()) {
      const size_t e = rest.find("\r\n");
      std::string_view line = rest.substr(0, e);
      rest.remove_prefix(e == std::string_view::npos ? rest.size() : e + 2);
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string name = Lower(line.substr(0, colon));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (name == "content-length") {
        size_t n = 0;
        std::from_chars(value.data(), value.data() + value.size(), n);
        length = n;
      } else if (name == "transfer-encoding") {
        chunked = Lower(value).find("chunked") != std::string::npos;
      } else if (name == "connection") {
        close_after = Lower(value) == "close";
      }
      response.headers.emplace_back(std::move(name), std::string(value));
    }
  }
  buffer_.erase(0, header_end + 4);
  if (chunked) {
    for (;;) {
      size_t eol;
      while ((eol = buffer_.find("\r\n")) == std::string::npos) {
        Status s = fill(buffer_.size() + 1);
        if (!s.ok()) return fail(s.message());
      }
      size_t size = 0;
      std::from_chars(buffer_.data(), buffer_.data() + eol, size, 16);
      Status s = fill(eol + 2 + size + 2);
      if (!s.ok()) return fail(s.message());
      response.body.append(buffer_, eol + 2, size);
      buffer_.erase(0, eol + 2 + size + 2);
      if (size == 0) break;  // (trailers are not used by riffle)
    }
  } else if (length) {
    Status s = fill(*length);
    if (!s.ok()) return fail(s.message());
    response.body = buffer_.substr(0, *length);
    buffer_.erase(0, *length);
  } else if (response.status != 204 && response.status != 304) {
    // No length: the body runs to the end of the connection.
    char chunk[16384];
    ssize_t n;
    while ((n = ::recv(fd_, chunk, sizeof chunk, 0)) > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
    }
    response.body = std::move(buffer_);
    close_after = true;
  }
  if (close_after) Close();
  return response;
}

std::string SigV4Authorization(
    std::string_view method, std::string_view path,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::string_view body, std::string_view access_key,
    std::string_view secret_key, std::string_view region,
    std::string_view service, std::string_view amz_date) {
  // https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
  auto sorted = headers;
  std::sort(sorted.begin(), sorted.end());
  std::string canonical_headers;
  std::string signed_headers;
  for (const auto& [name, value] : sorted) {
    canonical_headers.append(name).append(":").append(value).append("\n");
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers.append(name);
  }
  std::string canonical;
  canonical.append(method).append("\n");
  canonical.append(path.empty() ? "/" : path).append("\n");
  canonical.append("\n");  // no query string
  canonical.append(canonical_headers).append("\n");
  canonical.append(signed_headers).append("\n");
  canonical.append(Sha256Hex(body));
  const std::string_view date = amz_date.substr(0, 8);
  std::string scope;
  scope.append(date).append("/").append(region).append("/");
  scope.append(service).append("/aws4_request");
  std::string to_sign = "AWS4-HMAC-SHA256\n";
  to_sign.append(amz_date).append("\n").append(scope).append("\n");
  to_sign.append(Sha256Hex(canonical));
  std::string key = Hmac("AWS4" + std::string(secret_key), date);
  key = Hmac(key, region);
  key = Hmac(key, service);
  key = Hmac(key, "aws4_request");
  const std::string signature = Hmac(key, to_sign);
  std::string out = "AWS4-HMAC-SHA256 Credential=";
  out.append(access_key).append("/").append(scope);
  out.append(", SignedHeaders=").append(signed_headers);
  out.append(", Signature=")
      .append(Hex(reinterpret_cast<const unsigned char*>(signature.data()),
                  signature.size()));
  return out;
}

AwsJsonClient::AwsJsonClient(CliUrl url, std::string service,
                             std::string target_prefix,
                             std::string json_version)
    : http_(std::move(url)),
      service_(std::move(service)),
      target_prefix_(std::move(target_prefix)),
      content_type_("application/x-amz-json-" + json_version),
      // riffle accepts any credentials; defaults let the tools work with
      // none configured, as a local development server should.
      access_key_(EnvOr("AWS_ACCESS_KEY_ID", "riffle")),
      secret_key_(EnvOr("AWS_SECRET_ACCESS_KEY", "riffle")),
      region_(EnvOr("AWS_REGION",
                    EnvOr("AWS_DEFAULT_REGION", "us-east-1").c_str())) {}

Result<CliResponse> AwsJsonClient::Call(std::string_view op,
                                        std::string_view body) {
  char amz_date[17];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"content-type", content_type_},
      {"host", http_.url().host_header},
      {"x-amz-date", amz_date},
      {"x-amz-target", target_prefix_ + "." + std::string(op)},
  };
  const std::string path =
      http_.url().base_path.empty() ? std::string("/") : http_.url().base_path;
  headers.emplace_back(
      "authorization",
      SigV4Authorization("POST", path, headers, body, access_key_, secret_key_,
                         region_, service_, amz_date));
  return http_.Send("POST", http_.url().base_path.empty() ? "/" : "", headers,
                    body);
}

}  // namespace riffle::app
