// `riffle server`: wires storage, services and listeners together and runs
// until SIGTERM or SIGINT.
#pragma once

#include <cstdint>
#include <string>

namespace riffle::app {

struct ServerConfig {
  std::string data_dir = "data";
  std::string host = "127.0.0.1";
  int aws_port = 4566;
  int registry_port = 8081;
  int http_port = 8080;
  std::string stack_file;
  std::string durability = "strict";  // or "relaxed"
  int threads = 0;                    // 0: the number of cores
  bool enforce_shard_limits = false;
  int64_t retention_check_ms = 60'000;
  size_t max_body_bytes = 8u << 20;
  std::string tls_cert;
  std::string tls_key;
  bool print_welcome = false;  // `make run` prints endpoints and examples
};

// Runs the server; returns the process exit code.
int RunServer(const ServerConfig& config);

}  // namespace riffle::app
