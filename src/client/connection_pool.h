// Idle http::Client connections to one endpoint, shared by the threads of
// one caller (AwsJsonClient, LambdaClient, RegistryClient), so that those
// callers are thread-safe while http::Client is not. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "http/client.h"

namespace riffle::client {

class ConnectionPool {
 public:
  ConnectionPool(http::Url url, http::ClientOptions options)
      : url_(std::move(url)), options_(options) {}

  const http::Url& url() const { return url_; }

  // Sends one request on an idle connection (or a new one), then returns
  // the connection to the pool. Same contract as http::Client::Send.
  Result<http::ClientResponse> Send(std::string_view method,
                                    std::string_view target,
                                    const std::vector<http::Header>& headers,
                                    std::string_view body) {
    std::unique_ptr<http::Client> c;
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        c = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!c) c = std::make_unique<http::Client>(url_, options_);
    auto r = c->Send(method, target, headers, body);
    // Bounded: a burst of threads leaves at most this many sockets open.
    constexpr size_t kMaxIdle = 16;
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
    return r;
  }

 private:
  const http::Url url_;
  const http::ClientOptions options_;
  std::mutex mu_;
  std::vector<std::unique_ptr<http::Client>> idle_;  // guarded by mu_
};

}  // namespace riffle::client
