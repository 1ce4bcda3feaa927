#include "registry/errors.h"

#include <fmt/format.h>

#include <charconv>

namespace riffle::registry {
namespace {

StatusCode GenericCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kSubjectNotFound:
    case ErrorCode::kVersionNotFound:
    case ErrorCode::kSchemaNotFound:
    case ErrorCode::kSubjectSoftDeleted:
    case ErrorCode::kVersionSoftDeleted:
    case ErrorCode::kSubjectCompatibilityNotConfigured:
    case ErrorCode::kSubjectModeNotConfigured:
      return StatusCode::kNotFound;
    case ErrorCode::kSubjectNotSoftDeleted:
    case ErrorCode::kVersionNotSoftDeleted:
    case ErrorCode::kOperationNotPermitted:
    case ErrorCode::kReferenceExists:
      return StatusCode::kFailedPrecondition;
    case ErrorCode::kIncompatibleSchema:
      return StatusCode::kAborted;
    case ErrorCode::kInvalidSchema:
    case ErrorCode::kInvalidVersion:
    case ErrorCode::kInvalidCompatibilityLevel:
    case ErrorCode::kInvalidMode:
    case ErrorCode::kIdDoesNotMatch:
    case ErrorCode::kInvalidSubject:
      return StatusCode::kInvalidArgument;
    case ErrorCode::kStoreError:
      return StatusCode::kInternal;
    case ErrorCode::kOperationTimeout:
    case ErrorCode::kRequestForwardingFailed:
      return StatusCode::kUnavailable;
  }
  return StatusCode::kInternal;
}

}  // namespace

Status Error(ErrorCode code, std::string_view message) {
  return Status(GenericCode(code),
                fmt::format("{} {}", static_cast<int>(code), message));
}

std::optional<ErrorCode> ErrorCodeOf(const Status& status) {
  const std::string& m = status.message();
  int value = 0;
  auto [end, ec] = std::from_chars(m.data(), m.data() + m.size(), value);
  if (ec != std::errc() || end == m.data() + m.size() || *end != ' ') {
    return std::nullopt;
  }
  // Only numbers Error() can produce.
  if (value == 409 || (value >= 40401 && value <= 40409) ||
      (value >= 42201 && value <= 42208) || (value >= 50001 && value <= 50003))
    return static_cast<ErrorCode>(value);
  return std::nullopt;
}

std::string_view ErrorMessageOf(const Status& status) {
  std::string_view m = status.message();
  if (!ErrorCodeOf(status)) return m;
  return m.substr(m.find(' ') + 1);
}

Status SubjectNotFound(std::string_view subject) {
  return Error(ErrorCode::kSubjectNotFound,
               fmt::format("Subject '{}' not found.", subject));
}
Status VersionNotFound(int64_t version) {
  return Error(ErrorCode::kVersionNotFound,
               fmt::format("Version {} not found.", version));
}
Status SchemaNotFound() {
  return Error(ErrorCode::kSchemaNotFound, "Schema not found");
}
Status SchemaIdNotFound(int64_t id) {
  return Error(ErrorCode::kSchemaNotFound,
               fmt::format("Schema {} not found", id));
}
Status InvalidVersion(std::string_view version) {
  return Error(ErrorCode::kInvalidVersion,
               fmt::format("The specified version '{}' is not a valid version "
                           "id. Allowed values are between [1, 2^31-1] and "
                           "the string \"latest\"",
                           version));
}
Status InvalidCompatibilityLevel() {
  return Error(ErrorCode::kInvalidCompatibilityLevel,
               "Invalid compatibility level. Valid values are none, backward, "
               "forward, full, backward_transitive, forward_transitive, and "
               "full_transitive");
}
Status InvalidMode() {
  return Error(ErrorCode::kInvalidMode,
               "Invalid mode. Valid values are READWRITE, READONLY, IMPORT");
}

}  // namespace riffle::registry
