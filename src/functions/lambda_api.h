// The Lambda REST API (restJson1,
// https://docs.aws.amazon.com/lambda/latest/api/) over functions::Service, for
// the AWS port: functions, invocation, concurrency and event-source mappings.
//
// Errors come in Lambda's shape, built in one place (LambdaError): HTTP
// status, an `x-amzn-ErrorType` header naming the exception, and a JSON body
// {"Type": "User"|"Service", "message": "..."}. One table maps Status codes
// to exceptions (see lambda_api.cc).
#pragma once

#include <string_view>

#include "core/status.h"
#include "core/thread_pool.h"
#include "functions/service.h"
#include "http/message.h"

namespace riffle::functions {

// True for the paths this API serves (/2015-03-31/functions...,
// /2015-03-31/event-source-mappings..., and the dated concurrency paths),
// so that the AWS port's fallback can route to it.
bool IsLambdaPath(std::string_view path);

// The handler for those paths. Control operations run on `blocking` (they
// write files); Invoke answers from the function's runtime without blocking
// a network thread. `service` and `blocking` must outlive the handler.
// Thread-safe.
http::Handler MakeLambdaApi(Service& service, ThreadPool& blocking);

// The Lambda exception for a Status: type, HTTP status and the complete
// response.
http::Response LambdaError(const Status& status);
http::Response LambdaError(std::string_view type, int http_status,
                           std::string_view message);

}  // namespace riffle::functions
