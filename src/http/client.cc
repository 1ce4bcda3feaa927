#include "http/client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

namespace riffle::http {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Connects `fd` within `timeout`: a blocking connect() to an address that
// drops packets would otherwise wait for minutes.
bool ConnectWithin(int fd, const sockaddr* addr, socklen_t len,
                   std::chrono::milliseconds timeout, std::string* error) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, addr, len);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (rc == 0) {
      *error = "connect timed out";
      return false;
    }
    int so_error = 0;
    socklen_t n = sizeof so_error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &n);
    if (rc < 0 || so_error != 0) {
      *error = std::strerror(rc < 0 ? errno : so_error);
      return false;
    }
  } else if (rc != 0) {
    *error = std::strerror(errno);
    return false;
  }
  ::fcntl(fd, F_SETFL, flags);
  return true;
}

}  // namespace

Result<Url> ParseUrl(std::string_view url) {
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
  Url out;
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

std::string UriEncode(std::string_view s) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
  return out;
}

const std::string* ClientResponse::FindHeader(
    std::string_view lower_name) const {
  for (const Header& h : headers) {
    if (h.name == lower_name) return &h.value;
  }
  return nullptr;
}

Client::Client(Url url, ClientOptions options)
    : url_(std::move(url)), options_(options) {}

Client::~Client() { Close(); }

void Client::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

Status Client::Connect() {
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
    if (ConnectWithin(fd, a->ai_addr, a->ai_addrlen, options_.io_timeout,
                      &error)) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      timeval tv{};
      tv.tv_sec = options_.io_timeout.count() / 1000;
      tv.tv_usec = (options_.io_timeout.count() % 1000) * 1000;
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      fd_ = fd;
      break;
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (fd_ < 0) {
    return Unavailable("cannot connect to " + url_.host_header + ": " + error);
  }
  return Status::Ok();
}

Result<ClientResponse> Client::Send(std::string_view method,
                                    std::string_view target,
                                    const std::vector<Header>& headers,
                                    std::string_view body) {
  std::string request;
  request.reserve(256 + body.size());
  request.append(method).append(" ").append(url_.base_path).append(target);
  if (url_.base_path.empty() && target.empty()) request.append("/");
  request.append(" HTTP/1.1\r\nHost: ").append(url_.host_header);
  request.append("\r\nContent-Length: ").append(std::to_string(body.size()));
  request.append("\r\n");
  for (const Header& h : headers) {
    if (h.name == "host") continue;
    request.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  request.append("\r\n").append(body);
  const bool reused = fd_ >= 0;
  auto r = SendOnce(request);
  // A kept-alive connection may have been closed by the server (idle
  // timeout) since the last request; that is not the server being down.
  if (!r.ok() && reused) r = SendOnce(request);
  return r;
}

Result<ClientResponse> Client::SendOnce(std::string_view request) {
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
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return Unavailable("no response within the timeout");
      }
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
  ClientResponse response;
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
      response.headers.push_back({std::move(name), std::string(value)});
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

}  // namespace riffle::http
