// AWS error replies as Status: one table from the error's `__type` (or
// Lambda's x-amzn-errortype header) to the code that says what the caller
// should do. The type itself stays readable: every such Status message
// starts with "<Type>: ", and AwsErrorType() returns it.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace riffle::client {

// The Status for an AWS error reply of HTTP status `http_status` whose type
// is `type` (bare, "ns#Type" or "Type:uri" are accepted) and message
// `message`. The table (aws_error.cc) maps:
//   ResourceNotFoundException                     -> NotFound
//   ProvisionedThroughputExceeded, Throttling, LimitExceeded,
//   RequestLimitExceeded, TooManyRequests, KMSThrottling
//                                                 -> ResourceExhausted
//                                                    (back off, retry)
//   ConditionalCheckFailed, TransactionCanceled, TransactionConflict
//                                                 -> Aborted (a condition the
//                                                    caller set did not hold:
//                                                    re-read, retry the
//                                                    whole transaction)
//   ResourceInUseException                        -> FailedPrecondition (the
//                                                    resource exists or is
//                                                    changing state)
//   ResourceConflictException (Lambda)            -> AlreadyExists
//   ExpiredIterator, ExpiredNextToken             -> DeadlineExceeded
//   Validation, Serialization, InvalidArgument,
//   InvalidParameterValue, InvalidRequestContent  -> InvalidArgument
//   AccessDenied, UnrecognizedClient, signature   -> FailedPrecondition (fix
//                                                    the credentials)
//   InternalFailure, ServiceUnavailable, ...      -> Unavailable
// and unknown types by HTTP status: 429 ResourceExhausted, 404 NotFound,
// 5xx Unavailable, other 4xx InvalidArgument.
Status StatusFromAwsError(int http_status, std::string_view type,
                          std::string_view message);

// The bare type ("ResourceNotFoundException") of a Status made by
// StatusFromAwsError; "" for any other status.
std::string AwsErrorType(const Status& status);

// "ns#Type" -> "Type", "Type:http://..." -> "Type".
std::string_view BareAwsErrorType(std::string_view type);

}  // namespace riffle::client
