#include "http_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

namespace riffle::bench {
namespace {

constexpr size_t kMinReadSpace = 64 * 1024;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (EqualsIgnoreCase(haystack.substr(i, needle.size()), needle)) {
      return true;
    }
  }
  return false;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

HttpConnection::HttpConnection(std::string host, int port)
    : host_(std::move(host)), port_(port) {}

HttpConnection::~HttpConnection() { Close(); }

void HttpConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  request_ = {};
  sent_ = 0;
  ResetResponse();
}

bool HttpConnection::Connect(std::string* error) {
  Close();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  if (::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    *error = "not an IPv4 address: " + host_;
    return false;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    *error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return false;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  fd_ = fd;
  return true;
}

void HttpConnection::ResetResponse() {
  in_len_ = 0;
  header_len_ = 0;
  status_ = 0;
  chunked_ = false;
  server_closes_ = false;
  content_length_ = 0;
  chunk_pos_ = 0;
  chunked_body_.clear();
  body_view_ = {};
}

bool HttpConnection::StartRequest(std::string_view request) {
  ResetResponse();
  request_ = request;
  sent_ = 0;
  return OnWritable();
}

bool HttpConnection::OnWritable() {
  while (sent_ < request_.size()) {
    ssize_t n = ::send(fd_, request_.data() + sent_, request_.size() - sent_,
                       MSG_NOSIGNAL);
    if (n > 0) {
      sent_ += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

HttpConnection::ReadResult HttpConnection::OnReadable() {
  for (;;) {
    if (in_.size() - in_len_ < kMinReadSpace) {
      in_.resize(std::max(in_.size() * 2, in_len_ + kMinReadSpace));
    }
    ssize_t n = ::recv(fd_, in_.data() + in_len_, in_.size() - in_len_, 0);
    if (n > 0) {
      in_len_ += static_cast<size_t>(n);
      ReadResult r = Parse();
      if (r != ReadResult::kNeedMore) return r;
      // A short read means the socket is drained for now.
      if (in_len_ < in_.size()) return ReadResult::kNeedMore;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return ReadResult::kNeedMore;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return ReadResult::kError;  // EOF before a whole response, or error.
    }
  }
}

HttpConnection::ReadResult HttpConnection::Parse() {
  std::string_view data(in_.data(), in_len_);
  if (header_len_ == 0) {
    size_t end = data.find("\r\n\r\n");
    if (end == std::string_view::npos) return ReadResult::kNeedMore;
    header_len_ = end + 4;
    std::string_view head = data.substr(0, end);
    // Status line: HTTP/1.1 200 OK
    if (head.size() < 12 || head.substr(0, 5) != "HTTP/") {
      return ReadResult::kError;
    }
    size_t sp = head.find(' ');
    if (sp == std::string_view::npos || sp + 4 > head.size()) {
      return ReadResult::kError;
    }
    status_ = (head[sp + 1] - '0') * 100 + (head[sp + 2] - '0') * 10 +
              (head[sp + 3] - '0');
    bool has_length = false;
    size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos) {
      size_t next = head.find("\r\n", pos + 2);
      std::string_view line = head.substr(
          pos + 2, next == std::string_view::npos ? std::string_view::npos
                                                  : next - pos - 2);
      size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string_view name = line.substr(0, colon);
        std::string_view value = Trim(line.substr(colon + 1));
        if (EqualsIgnoreCase(name, "content-length")) {
          content_length_ = std::stoull(std::string(value));
          has_length = true;
        } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
          chunked_ = ContainsIgnoreCase(value, "chunked");
        } else if (EqualsIgnoreCase(name, "connection")) {
          server_closes_ = ContainsIgnoreCase(value, "close");
        }
      }
      pos = next;
    }
    if (!has_length && !chunked_) {
      // A body delimited by EOF: not something a keep-alive benchmark
      // accepts.
      if (status_ == 204 || status_ == 304) {
        content_length_ = 0;
      } else {
        return ReadResult::kError;
      }
    }
    chunk_pos_ = header_len_;
    if (!chunked_ && in_.size() < header_len_ + content_length_) {
      in_.resize(header_len_ + content_length_ + kMinReadSpace);
    }
  }
  if (chunked_) return ParseChunked();
  if (in_len_ < header_len_ + content_length_) return ReadResult::kNeedMore;
  body_view_ = std::string_view(in_.data() + header_len_, content_length_);
  return ReadResult::kComplete;
}

HttpConnection::ReadResult HttpConnection::ParseChunked() {
  std::string_view data(in_.data(), in_len_);
  for (;;) {
    size_t eol = data.find("\r\n", chunk_pos_);
    if (eol == std::string_view::npos) return ReadResult::kNeedMore;
    std::string_view size_text = data.substr(chunk_pos_, eol - chunk_pos_);
    size_t size = 0;
    for (char c : size_text) {
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        break;  // Chunk extensions start with ';'.
      }
      size = size * 16 + static_cast<size_t>(digit);
    }
    if (size == 0) {
      // Last chunk; no trailers expected, just the final CRLF.
      if (data.size() < eol + 4) return ReadResult::kNeedMore;
      body_view_ = chunked_body_;
      return ReadResult::kComplete;
    }
    if (data.size() < eol + 2 + size + 2) return ReadResult::kNeedMore;
    chunked_body_.append(data.substr(eol + 2, size));
    chunk_pos_ = eol + 2 + size + 2;
  }
}

bool HttpConnection::RoundTrip(std::string_view request, int timeout_ms,
                               std::string* error) {
  if ((fd_ < 0 || server_closes_) && !Connect(error)) return false;
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  if (!StartRequest(request)) {
    *error = std::string("send: ") + std::strerror(errno);
    return false;
  }
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      *error = "timeout";
      return false;
    }
    pollfd p{fd_, static_cast<short>(POLLIN | (wants_write() ? POLLOUT : 0)),
             0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno != EINTR) {
      *error = std::string("poll: ") + std::strerror(errno);
      return false;
    }
    if (n <= 0) continue;
    if ((p.revents & POLLOUT) && !OnWritable()) {
      *error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ReadResult r = OnReadable();
      if (r == ReadResult::kError) {
        *error = "connection closed or bad HTTP response";
        return false;
      }
      if (r == ReadResult::kComplete) return true;
    }
  }
}

}  // namespace riffle::bench
