#include "client/aws_error.h"

#include <cctype>

namespace riffle::client {
namespace {

struct Mapping {
  std::string_view type;
  StatusCode code;
};

// One table, checked in order; a type matches an entry it contains, so
// "ProvisionedThroughputExceededException" and DynamoDB's
// "ThrottlingException" both find their row.
constexpr Mapping kTable[] = {
    {"ResourceNotFound", StatusCode::kNotFound},
    {"ProvisionedThroughputExceeded", StatusCode::kResourceExhausted},
    {"Throttling", StatusCode::kResourceExhausted},
    {"RequestLimitExceeded", StatusCode::kResourceExhausted},
    {"LimitExceeded", StatusCode::kResourceExhausted},
    {"TooManyRequests", StatusCode::kResourceExhausted},
    {"KMSThrottling", StatusCode::kResourceExhausted},
    {"ConditionalCheckFailed", StatusCode::kAborted},
    {"TransactionCanceled", StatusCode::kAborted},
    {"TransactionConflict", StatusCode::kAborted},
    {"TransactionInProgress", StatusCode::kAborted},
    {"ResourceInUse", StatusCode::kFailedPrecondition},
    {"ResourceConflict", StatusCode::kAlreadyExists},
    {"ExpiredIterator", StatusCode::kDeadlineExceeded},
    {"ExpiredNextToken", StatusCode::kDeadlineExceeded},
    {"Validation", StatusCode::kInvalidArgument},
    {"Serialization", StatusCode::kInvalidArgument},
    {"InvalidArgument", StatusCode::kInvalidArgument},
    {"InvalidParameter", StatusCode::kInvalidArgument},
    {"InvalidRequestContent", StatusCode::kInvalidArgument},
    {"MissingParameter", StatusCode::kInvalidArgument},
    {"UnknownOperation", StatusCode::kInvalidArgument},
    {"AccessDenied", StatusCode::kFailedPrecondition},
    {"UnrecognizedClient", StatusCode::kFailedPrecondition},
    {"InvalidSignature", StatusCode::kFailedPrecondition},
    {"IncompleteSignature", StatusCode::kFailedPrecondition},
    {"MissingAuthenticationToken", StatusCode::kFailedPrecondition},
    {"ExpiredToken", StatusCode::kFailedPrecondition},
    {"InternalFailure", StatusCode::kUnavailable},
    {"InternalServerError", StatusCode::kUnavailable},
    {"ServiceUnavailable", StatusCode::kUnavailable},
    {"ServiceException", StatusCode::kUnavailable},
};

bool IsTypeChar(char c) { return std::isalnum(static_cast<unsigned char>(c)); }

}  // namespace

std::string_view BareAwsErrorType(std::string_view type) {
  if (size_t hash = type.rfind('#'); hash != std::string_view::npos) {
    type.remove_prefix(hash + 1);
  }
  if (size_t colon = type.find(':'); colon != std::string_view::npos) {
    type = type.substr(0, colon);
  }
  return type;
}

Status StatusFromAwsError(int http_status, std::string_view type,
                          std::string_view message) {
  const std::string_view bare = BareAwsErrorType(type);
  StatusCode code;
  if (http_status == 429) {
    code = StatusCode::kResourceExhausted;
  } else if (http_status >= 500) {
    code = StatusCode::kUnavailable;
  } else if (http_status == 404) {
    code = StatusCode::kNotFound;
  } else {
    code = StatusCode::kInvalidArgument;
  }
  if (!bare.empty()) {
    for (const Mapping& m : kTable) {
      if (bare.find(m.type) != std::string_view::npos) {
        code = m.code;
        break;
      }
    }
  }
  std::string text(bare.empty() ? "HTTP " + std::to_string(http_status)
                                : std::string(bare));
  text.append(": ").append(message.empty() ? "(no message)" : message);
  if (!bare.empty())
    text.append(" (HTTP ").append(std::to_string(http_status)).append(")");
  return Status(code, std::move(text));
}

std::string AwsErrorType(const Status& status) {
  const std::string& m = status.message();
  const size_t colon = m.find(": ");
  // AWS error types are CamelCase words; "registry: ..." is not one.
  if (status.ok() || colon == std::string::npos || colon == 0 ||
      !std::isupper(static_cast<unsigned char>(m[0]))) {
    return "";
  }
  for (size_t i = 0; i < colon; ++i) {
    if (!IsTypeChar(m[i])) return "";
  }
  return m.substr(0, colon);
}

}  // namespace riffle::client
