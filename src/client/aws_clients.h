// Callers of AWS's JSON APIs over http::Client, SigV4-signed: Kinesis
// (awsJson1.1), DynamoDB (awsJson1.0) and the Lambda REST API. They work
// against riffle, AWS itself or any compatible endpoint (kinesalite,
// dynalite, ScyllaDB Alternator). Replies that are AWS errors become Status
// by the table in aws_error.h; the error's type stays in the message
// (AwsErrorType()).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "client/connection_pool.h"
#include "core/status.h"
#include "http/client.h"
#include "http/sigv4.h"
#include "json/json.h"

namespace riffle::client {

// Where and as whom to call. Plain data.
struct AwsEndpoint {
  http::Url url;
  // Defaults to the AWS_* environment (see http::AwsCredentials).
  http::AwsCredentials credentials = http::AwsCredentials::FromEnvironment();
  std::chrono::milliseconds timeout{30000};
};

// Parses `url` ("http://host:port"); credentials and region from the
// environment. InvalidArgument for a URL http::ParseUrl rejects.
Result<AwsEndpoint> ParseAwsEndpoint(std::string_view url);

// One AWS JSON protocol: the SigV4 service name, the X-Amz-Target prefix
// and the content type version.
struct AwsJsonProtocol {
  std::string_view service;
  std::string_view target_prefix;
  std::string_view json_version;  // "1.0" or "1.1"
};
inline constexpr AwsJsonProtocol kKinesisProtocol{"kinesis", "Kinesis_20131202",
                                                  "1.1"};
inline constexpr AwsJsonProtocol kDynamoDbProtocol{"dynamodb",
                                                   "DynamoDB_20120810", "1.0"};

// Calls operations of one AWS JSON API at one endpoint. Owns a pool of
// keep-alive connections. Thread-safe: any number of threads may call at
// once (each call takes its own connection). Calls block until the reply.
class AwsJsonClient {
 public:
  AwsJsonClient(AwsEndpoint endpoint, AwsJsonProtocol protocol);

  // POSTs `request` as operation `op` ("PutRecords", "GetItem") and
  // returns the parsed reply. An AWS error reply becomes its Status (see
  // aws_error.h); Unavailable when the endpoint cannot be reached or the
  // reply is not JSON.
  Result<json::Value> Call(std::string_view op, const json::Value& request);
  // The same with the request already serialized, for callers that build
  // large bodies directly (PutRecords); returns the reply's text.
  Result<std::string> CallText(std::string_view op, std::string_view body);

  const AwsEndpoint& endpoint() const { return endpoint_; }

 private:
  const AwsEndpoint endpoint_;
  const std::string service_;
  const std::string target_prefix_;
  const std::string content_type_;
  ConnectionPool pool_;
};

// A Kinesis Data Streams caller: AwsJsonClient with kKinesisProtocol.
inline std::unique_ptr<AwsJsonClient> NewKinesisClient(AwsEndpoint endpoint) {
  return std::make_unique<AwsJsonClient>(std::move(endpoint), kKinesisProtocol);
}
// A DynamoDB caller: AwsJsonClient with kDynamoDbProtocol.
inline std::unique_ptr<AwsJsonClient> NewDynamoDbClient(AwsEndpoint endpoint) {
  return std::make_unique<AwsJsonClient>(std::move(endpoint),
                                         kDynamoDbProtocol);
}

// Calls the Lambda REST API ("/2015-03-31/functions", ...): JSON over
// paths, SigV4 service "lambda". Errors come as the x-amzn-errortype header
// (or a "Type"/"__type" member) with a "message"/"Message" member, mapped by
// the same table. Owns a pool of connections; thread-safe; calls block.
class LambdaClient {
 public:
  explicit LambdaClient(AwsEndpoint endpoint);

  // Sends `method` to `target` (path and query as sent, e.g.
  // "/2015-03-31/functions/" + http::UriEncode(name)) with `body` (JSON, or
  // null for none). Returns the parsed reply; null for an empty one (204).
  Result<json::Value> Call(std::string_view method, std::string_view target,
                           const json::Value& body = json::Value::Null());
  // The raw variant: the body as text, any reply body returned as is (an
  // Invoke's payload need not be JSON). Headers of the reply in `*headers`
  // when not null.
  Result<std::string> CallText(
      std::string_view method, std::string_view target, std::string_view body,
      std::vector<http::Header>* reply_headers = nullptr);

 private:
  const AwsEndpoint endpoint_;
  ConnectionPool pool_;
};

}  // namespace riffle::client
