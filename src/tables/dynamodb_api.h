// The DynamoDB wire adapter (awsJson1.0, X-Amz-Target
// DynamoDB_20120810.<Operation>): validates requests as AWS does, translates
// DynamoDB JSON (expressions and the legacy parameters) to tables::Service
// calls, computes consumed capacity, and maps Status to DynamoDB's errors
// through one table (DynamoDbError).
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "core/thread_pool.h"
#include "http/aws_json.h"
#include "http/message.h"
#include "tables/service.h"

namespace riffle::tables {

// Extra members of DynamoDB error bodies that AwsError cannot carry
// (ConditionalCheckFailedException's "Item", TransactionCanceledException's
// "CancellationReasons"), keyed by the reply's x-amzn-RequestId until the
// handler returned by WithErrorDetails splices them into the body (and
// recomputes x-amz-crc32). Thread-safe; shared by the API and the wrapper.
class ErrorDetails {
 public:
  // `members` is raw JSON: ",\"Item\":{...}".
  void Put(std::string_view request_id, std::string members);
  // Removes and returns the members for `request_id`, if any.
  std::optional<std::string> Take(std::string_view request_id);

 private:
  std::mutex mu_;
  std::map<std::string, std::string, std::less<>> pending_;
};

// The AwsJsonService for DynamoDB. Catalogue operations (they fsync or
// count a table) run on `blocking`; item operations run on the calling
// network thread (writes complete asynchronously on the store's writer).
// `service`, `blocking` and `details` must outlive the returned value.
http::AwsJsonService MakeDynamoDbApi(Service& service, ThreadPool& blocking,
                                     std::shared_ptr<ErrorDetails> details);

// Wraps the AWS port's handler so that error replies get their details
// (see ErrorDetails). Cheap on success: only 400 replies are looked at.
http::Handler WithErrorDetails(http::Handler inner,
                               std::shared_ptr<ErrorDetails> details);

// The one table from Status to DynamoDB's error shape.
http::AwsError DynamoDbError(const Status& status);

}  // namespace riffle::tables
