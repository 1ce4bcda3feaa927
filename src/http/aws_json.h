// The AWS JSON protocols (awsJson1.0 and awsJson1.1): dispatch by
// X-Amz-Target to a service's operations, request checks common to every
// service, and the error reply shape. One place builds AWS JSON replies.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "http/message.h"
#include "json/json.h"

namespace riffle::http {

// An error as AWS JSON services send it: `{"__type": type, "message": ...}`
// with `status`. `type` is the bare name ("ValidationException"); services
// that qualify it (DynamoDB's "com.amazonaws.dynamodb.v20120810#...") set
// the prefix on their AwsJsonService.
struct AwsError {
  std::string type;
  std::string message;
  int status = 400;
};

// What an operation handler gets: the parsed body and the raw request.
struct AwsJsonCall {
  std::string operation;  // "PutRecord"
  json::Value body;       // always an object
  Request request;
};

// Completes an operation: either a JSON body (serialized) or an error.
class AwsJsonReply {
 public:
  AwsJsonReply(Responder respond, std::string content_type,
               std::string error_prefix, std::string operation);
  void Ok(std::string json_body);
  void Error(const AwsError& error);

 private:
  Responder respond_;
  std::string content_type_;
  std::string error_prefix_;
  std::string operation_;
};

using AwsJsonOperation = std::function<void(AwsJsonCall call, AwsJsonReply reply)>;

// One AWS JSON service: a target prefix ("Kinesis_20131202"), its protocol
// version and its operations.
struct AwsJsonService {
  std::string target_prefix;        // "Kinesis_20131202"
  std::string content_type;         // "application/x-amz-json-1.1"
  std::string error_prefix;         // "" or "com.amazonaws.dynamodb.v20120810#"
  std::string metrics_service;      // "kinesis"
  std::map<std::string, AwsJsonOperation, std::less<>> operations;
};

// Routes requests on the AWS port: POST with X-Amz-Target to the matching
// service and operation (unknown → UnknownOperationException; malformed JSON
// or a non-object body → SerializationException; missing or invalid
// Authorization → the AWS error for it), everything else to `fallback`.
// Records requests by operation and status and their latency in metrics.
// Thread-safe once built.
class AwsJsonRouter {
 public:
  void AddService(AwsJsonService service);
  // Requests without X-Amz-Target (REST APIs such as Lambda's) go here.
  void SetFallback(Handler fallback);
  Handler AsHandler();

 private:
  void Dispatch(Request request, Responder respond) const;
  std::map<std::string, AwsJsonService, std::less<>> services_;
  Handler fallback_;
};

// {"__type": ..., "message": ...} as a complete response.
Response MakeAwsJsonError(const AwsError& error, std::string_view content_type,
                          std::string_view error_prefix = "");

}  // namespace riffle::http
