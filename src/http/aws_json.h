// The AWS JSON protocols (awsJson1.0 and awsJson1.1): dispatch by
// X-Amz-Target to a service's operations, request checks common to every
// service, and the error reply shape. One place builds AWS JSON replies.
//
// The checks and their replies follow what AWS itself answers (as recorded
// by kinesalite and dynalite, which were written against the real
// services), in AWS's order:
//   1. Content-Type not the protocol's (nor application/json):
//      awsJson1.1 (Kinesis): 403 with an XML body, AccessDeniedException
//      "Unable to determine service/operation name to be authorized" when
//      an Authorization header is present, else
//      MissingAuthenticationTokenException "Missing Authentication Token";
//      awsJson1.0 (DynamoDB): 404 "<UnknownOperationException/>".
//   2. X-Amz-Target missing, unknown prefix or operation: 400
//      UnknownOperationException without a message.
//   3. Body not JSON (awsJson1.1: also an empty body): 400
//      SerializationException without a message; a body that is JSON but
//      not an object: SerializationException with Coral's "Message".
//   4. No Authorization header and no presigned query: 400
//      MissingAuthenticationTokenException ("Missing Authentication Token";
//      DynamoDB: "Request is missing Authentication Token"); a malformed
//      header: 400 IncompleteSignatureException naming what is missing.
//   5. awsJson1.0 only: an empty body is a SerializationException here.
// These "framework" errors carry the service's framework_error_prefix
// ("com.amazon.coral.service#" for DynamoDB, none for Kinesis).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "http/message.h"
#include "http/sigv4.h"
#include "json/json.h"

namespace riffle::http {

// An error as AWS JSON services send it: `{"__type": type, "message": ...}`
// with `status`. `type` is the bare name ("ValidationException"); services
// that qualify it (DynamoDB's "com.amazonaws.dynamodb.v20120810#...") set
// the prefix on their AwsJsonService.
struct AwsError {
  std::string type;
  // Left out of the body when empty: AWS sends UnknownOperationException
  // and a plain SerializationException without one.
  std::string message;
  int status = 400;
  // Coral's type-conversion errors (SerializationException) spell the key
  // "Message"; everything else uses "message".
  bool capitalized_message_key = false;
  // Further members of the error body as serialized JSON without the
  // surrounding braces ("\"Item\":{...}"), for errors that carry more than
  // a message: DynamoDB's ConditionalCheckFailedException (Item) and
  // TransactionCanceledException (CancellationReasons).
  std::string extra_members = {};
};

// What an operation handler gets: the parsed body and the raw request.
struct AwsJsonCall {
  std::string operation;  // "PutRecord"
  json::Value body;       // always an object
  // The request as received; its body has been moved into `body`'s parse
  // and is empty.
  Request request;
  // From the Authorization header (signature not verified); empty for
  // presigned (query-string) requests.
  SigV4Credentials credentials;
};

// Completes an operation: either a JSON body (serialized) or an error.
// Copyable (so that it fits in std::function); call Ok or Error once, from
// any thread. Replies carry the protocol's Content-Type and an
// x-amzn-RequestId, and are counted in the metrics of the operation.
class AwsJsonReply {
 public:
  // A reply outside a router (no metrics): for tests and custom dispatch.
  AwsJsonReply(Responder respond, std::string content_type,
               std::string error_prefix, std::string operation);
  void Ok(std::string json_body);
  void Error(const AwsError& error);

  // The x-amzn-RequestId this reply will carry, for logs.
  std::string_view request_id() const { return {request_id_, 36}; }

  // Per-operation constants and metric series; shared, immutable.
  struct Context;

 private:
  friend class AwsJsonRouter;
  AwsJsonReply(Responder respond, std::shared_ptr<const Context> context,
               int64_t start_nanos);
  void Send(Response response);
  void SendError(const AwsError& error, std::string_view prefix);

  Responder respond_;
  std::shared_ptr<const Context> context_;
  int64_t start_nanos_ = 0;
  char request_id_[36];
};

using AwsJsonOperation =
    std::function<void(AwsJsonCall call, AwsJsonReply reply)>;

// One AWS JSON service: a target prefix ("Kinesis_20131202"), its protocol
// version and its operations.
struct AwsJsonService {
  std::string target_prefix;    // "Kinesis_20131202"
  std::string content_type;     // "application/x-amz-json-1.1"
  std::string error_prefix;     // "" or "com.amazonaws.dynamodb.v20120810#"
  std::string metrics_service;  // "kinesis"
  std::map<std::string, AwsJsonOperation, std::less<>> operations;
  // Prefix of the errors the request checks produce (see the top of this
  // file): "" for Kinesis, "com.amazon.coral.service#" for DynamoDB.
  std::string framework_error_prefix;
  // The message of MissingAuthenticationTokenException in JSON.
  std::string missing_token_message = "Missing Authentication Token";
  // The type of the 500 reply for a handler that throws: Kinesis says
  // "InternalFailure", DynamoDB "InternalServerError" (with error_prefix).
  std::string internal_error_type = "InternalFailure";
  // DynamoDB sends x-amz-crc32 (CRC32 of the body); the Go and Java SDKs
  // check it when present and warn when absent.
  bool crc32_header = false;
};

// Routes requests on the AWS port: POST with X-Amz-Target to the matching
// service and operation, with the checks listed at the top of this file;
// everything else to `fallback`. Records riffle_requests_total{service,
// operation,status} and riffle_request_duration_seconds{service,operation}
// in metrics::Global(). A handler that throws gets a 500 reply and an error
// log. Not thread-safe while being built; AsHandler() snapshots the routes,
// and the returned Handler is thread-safe and independent of the router.
class AwsJsonRouter {
 public:
  AwsJsonRouter();
  ~AwsJsonRouter();

  void AddService(AwsJsonService service);
  // Requests without X-Amz-Target (REST APIs such as Lambda's) go here;
  // without a fallback they get 404.
  void SetFallback(Handler fallback);
  Handler AsHandler();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// {"__type": ..., "message": ...} as a complete response, with
// Content-Type, x-amzn-RequestId and (for error_prefix's service) nothing
// else.
Response MakeAwsJsonError(const AwsError& error, std::string_view content_type,
                          std::string_view error_prefix = "");

// IEEE CRC32 (as in zlib), for x-amz-crc32.
uint32_t Crc32Ieee(std::string_view data);

}  // namespace riffle::http
