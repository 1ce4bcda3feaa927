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

// The AwsJsonService for DynamoDB. Catalogue operations (they fsync or
// count a table) run on `blocking`; item operations run on the calling
// network thread (writes complete asynchronously on the store's writer).
// `service` and `blocking` must outlive the returned value.
http::AwsJsonService MakeDynamoDbApi(Service& service, ThreadPool& blocking);

// The one table from Status to DynamoDB's error shape.
http::AwsError DynamoDbError(const Status& status);

}  // namespace riffle::tables
