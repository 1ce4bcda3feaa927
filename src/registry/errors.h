// The registry's error vocabulary. Every failure the registry reports is a
// riffle Status whose code says what the caller should do (NotFound,
// InvalidArgument, ...) and whose message starts with the precise registry
// error number, the one Confluent's clients switch on ("40401 Subject 'x'
// not found."). The number is Confluent's own `error_code`
// (https://docs.confluent.io/platform/current/schema-registry/develop/api.html#errors)
// so that logs and the wire agree; the wire adapter's single table
// (confluent_api.cc) turns it into the HTTP status.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace riffle::registry {

// Values are Confluent's error codes: stable, never renumbered.
enum class ErrorCode : int {
  kSubjectNotFound = 40401,
  kVersionNotFound = 40402,
  kSchemaNotFound = 40403,
  kSubjectSoftDeleted = 40404,
  kSubjectNotSoftDeleted = 40405,
  kVersionSoftDeleted = 40406,
  kVersionNotSoftDeleted = 40407,
  kSubjectCompatibilityNotConfigured = 40408,
  kSubjectModeNotConfigured = 40409,
  // Confluent (through 7.x) answers an incompatible schema with the bare
  // HTTP status as its error code.
  kIncompatibleSchema = 409,
  kInvalidSchema = 42201,
  kInvalidVersion = 42202,
  kInvalidCompatibilityLevel = 42203,
  kInvalidMode = 42204,
  kOperationNotPermitted = 42205,
  kReferenceExists = 42206,
  kIdDoesNotMatch = 42207,
  kInvalidSubject = 42208,
  kStoreError = 50001,
  kOperationTimeout = 50002,
  kRequestForwardingFailed = 50003,
};

// A Status for `code` with `message` (the text Confluent would send).
Status Error(ErrorCode code, std::string_view message);

// The registry error number of a Status made by Error(), or nullopt for any
// other Status (a storage failure, a bug).
std::optional<ErrorCode> ErrorCodeOf(const Status& status);
// The message without its number prefix.
std::string_view ErrorMessageOf(const Status& status);

// Confluent's messages, built in one place.
Status SubjectNotFound(std::string_view subject);
Status VersionNotFound(int64_t version);
Status SchemaNotFound();
Status SchemaIdNotFound(int64_t id);
Status InvalidVersion(std::string_view version);
Status InvalidCompatibilityLevel();
Status InvalidMode();

}  // namespace riffle::registry
