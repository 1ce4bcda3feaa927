// Reading and validating the members of an AWS JSON request the way AWS's
// front ends do: a member of the wrong JSON type is a SerializationException
// (the first one wins); constraint violations are collected and reported
// together as one ValidationException, worded as AWS words them:
//   "2 validation errors detected: Value null at 'streamName' failed to
//    satisfy constraint: Member must not be null; Value '0' at ..."
// Not thread-safe; one per request.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/aws_json.h"
#include "json/json.h"

namespace riffle::http {

class AwsInput {
 public:
  // `object` must outlive the AwsInput. `path` prefixes member names in
  // messages ("records.1.member").
  explicit AwsInput(const json::Value& object, std::string path = "");

  // Each getter returns the member if it is present and of the right type;
  // nullopt/nullptr when absent, null, or of the wrong type (which records a
  // SerializationException).
  const std::string* String(std::string_view name);
  std::optional<int64_t> Int(std::string_view name);
  std::optional<double> Double(std::string_view name);
  std::optional<bool> Bool(std::string_view name);
  // A base64 blob, decoded; a malformed one is a SerializationException.
  std::optional<std::string> Blob(std::string_view name);
  const json::Value* List(std::string_view name);
  const json::Value* Map(std::string_view name);
  const json::Value* Struct(std::string_view name);

  // Constraint checks: each records a validation error when violated.
  // `present` is whether the value exists; absent values pass every check
  // but Required.
  void Required(std::string_view name, bool present);
  void Length(std::string_view name, const std::string* value, size_t min,
              size_t max);
  void BlobLength(std::string_view name,
                  const std::optional<std::string>& value, size_t min,
                  size_t max);
  void ListLength(std::string_view name, const json::Value* list, size_t min,
                  size_t max);
  void Range(std::string_view name, std::optional<int64_t> value, int64_t min,
             int64_t max);
  // `pattern` is the regular expression as AWS prints it; `matches` decides.
  void Pattern(std::string_view name, const std::string* value,
               std::string_view pattern,
               const std::function<bool(std::string_view)>& matches);
  void Enum(std::string_view name, const std::string* value,
            std::initializer_list<std::string_view> allowed);
  // Adds a custom violation for member `name` with value text `value_text`
  // (already quoted or "null").
  void AddViolation(std::string_view name, std::string_view value_text,
                    std::string_view constraint);

  // Records a SerializationException for a member of the wrong type.
  void SerializationError(std::string message);

  // Child checker for a nested structure; its errors go to this one.
  AwsInput Child(const json::Value& object, std::string_view member_path);
  // Child checker for member `index` (from 1) of the list `list_path`
  // ("records" → "records.3.member.data"). The path is only formatted if
  // a violation needs it: requests carry hundreds of list members.
  // `list_path` must outlive the child (a literal, typically).
  AwsInput ListMember(const json::Value& object, std::string_view list_path,
                      size_t index);

  // The first error to report, if any.
  std::optional<AwsError> Error() const;
  bool ok() const { return !serialization_ && violations_->empty(); }

 private:
  AwsInput(const json::Value& object, std::string path,
           std::shared_ptr<std::optional<std::string>> serialization,
           std::shared_ptr<std::vector<std::string>> violations);
  std::string PathOf(std::string_view name) const;
  const json::Value* Member(std::string_view name) const;

  const json::Value& object_;
  std::string path_;
  // For list members: path_ is empty and these name the list and index.
  std::string_view list_path_;
  size_t list_index_ = 0;
  std::shared_ptr<std::optional<std::string>> serialization_;
  std::shared_ptr<std::vector<std::string>> violations_;
};

// Lower-cases the first letter: AWS names members camelCase in messages.
std::string LowerFirst(std::string_view name);

// Common patterns.
bool MatchesNamePattern(std::string_view s);  // [a-zA-Z0-9_.-]+
bool MatchesDecimalPattern(std::string_view s,
                           size_t max_digits);  // 0|([1-9]\d{0,N-1})

}  // namespace riffle::http
