// The Kinesis Data Streams wire adapter (awsJson1.1, X-Amz-Target
// Kinesis_20131202.<Operation>): validates requests as AWS does, calls
// streams::Service, and maps its Status codes to Kinesis errors through one
// table (KinesisError).
#pragma once

#include "core/status.h"
#include "core/thread_pool.h"
#include "http/aws_json.h"
#include "streams/service.h"

namespace riffle::streams {

// The AwsJsonService for Kinesis. Operations that block on disk (control
// operations, GetRecords) run on `blocking`; the rest on the calling
// network thread. `service` and `blocking` must outlive the returned value.
http::AwsJsonService MakeKinesisApi(Service& service, ThreadPool& blocking);

// The one table from Status to the Kinesis error shape.
http::AwsError KinesisError(const Status& status);

}  // namespace riffle::streams
