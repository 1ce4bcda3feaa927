// The AWS JSON caller of the command-line tools (`riffle produce`, `riffle
// tail`), over the blocking http::Client (http/client.h). Requests carry a
// SigV4 Authorization header.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "http/client.h"
#include "http/sigv4.h"

namespace riffle::app {

// Calls one operation of an AWS JSON API (Kinesis: awsJson1.1, target
// prefix "Kinesis_20131202"), signed with SigV4 using the AWS_* environment
// (http::AwsCredentials::FromEnvironment). Owns its connection; not
// thread-safe.
class AwsJsonClient {
 public:
  AwsJsonClient(http::Url url, std::string service, std::string target_prefix,
                std::string json_version);

  // POSTs `body` as operation `op`. Returns the response whatever its
  // status; the caller reads `__type` from error bodies.
  Result<http::ClientResponse> Call(std::string_view op, std::string_view body);

 private:
  http::Client http_;
  std::string service_;
  std::string target_prefix_;
  std::string content_type_;
  http::AwsCredentials credentials_;
};

}  // namespace riffle::app
