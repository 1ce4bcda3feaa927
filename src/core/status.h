// Status and Result<T>: riffle's error values. No exception crosses a module
// boundary; throwing third-party calls are wrapped at the edge.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace riffle {

// What went wrong, named by what the caller should do about it. Values are
// stable: they may be logged and compared, never renumbered.
enum class StatusCode : int {
  kOk = 0,
  // The request is wrong; sending it again unchanged fails again.
  kInvalidArgument = 1,
  // The named resource does not exist.
  kNotFound = 2,
  // The resource to create already exists.
  kAlreadyExists = 3,
  // The resource is not in a state that allows the call (being created,
  // deleted, closed); retry once its state has changed.
  kFailedPrecondition = 4,
  // A condition the caller set did not hold; re-read and retry the whole
  // transaction if desired.
  kAborted = 5,
  // Throttled: the same call may succeed later; back off and retry.
  kResourceExhausted = 6,
  // A fixed quota (shard count, open operations) is reached; retrying does
  // not help until the quota or the request changes.
  kQuotaExceeded = 7,
  // A time-limited token (an iterator, a lease) has expired; get a new one.
  kDeadlineExceeded = 8,
  // A position is outside what exists (past the end, before the start).
  kOutOfRange = 9,
  // Transient: retry now.
  kUnavailable = 10,
  // Stored data is unreadable; do not retry.
  kDataLoss = 11,
  // Not implemented by riffle.
  kUnimplemented = 12,
  // A bug in riffle.
  kInternal = 13,
};

std::string_view StatusCodeName(StatusCode code);

// A success, or an error code with a human-readable message. Cheap to move;
// copying copies the message. Not thread-safe to mutate, as any value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "InvalidArgument: message", for logs.
  std::string ToString() const;

  // Marks a status as deliberately ignored.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m));
}
inline Status NotFound(std::string m) {
  return Status(StatusCode::kNotFound, std::move(m));
}
inline Status AlreadyExists(std::string m) {
  return Status(StatusCode::kAlreadyExists, std::move(m));
}
inline Status FailedPrecondition(std::string m) {
  return Status(StatusCode::kFailedPrecondition, std::move(m));
}
inline Status Aborted(std::string m) {
  return Status(StatusCode::kAborted, std::move(m));
}
inline Status ResourceExhausted(std::string m) {
  return Status(StatusCode::kResourceExhausted, std::move(m));
}
inline Status QuotaExceeded(std::string m) {
  return Status(StatusCode::kQuotaExceeded, std::move(m));
}
inline Status DeadlineExceeded(std::string m) {
  return Status(StatusCode::kDeadlineExceeded, std::move(m));
}
inline Status OutOfRange(std::string m) {
  return Status(StatusCode::kOutOfRange, std::move(m));
}
inline Status Unavailable(std::string m) {
  return Status(StatusCode::kUnavailable, std::move(m));
}
inline Status DataLoss(std::string m) {
  return Status(StatusCode::kDataLoss, std::move(m));
}
inline Status Unimplemented(std::string m) {
  return Status(StatusCode::kUnimplemented, std::move(m));
}
inline Status Internal(std::string m) {
  return Status(StatusCode::kInternal, std::move(m));
}

// A value of T or a non-ok Status. Accessing value() of an error is a
// programming error (asserted).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(data_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  Status status() const {
    return ok() ? Status::Ok() : std::get<Status>(data_);
  }

  T& value() & {
    assert(ok());
    return std::get<T>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(data_));
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> data_;
};

namespace internal {
inline Status ToStatus(Status s) { return s; }
template <typename T>
Status ToStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace internal

}  // namespace riffle

#define RIFFLE_CONCAT_INNER(a, b) a##b
#define RIFFLE_CONCAT(a, b) RIFFLE_CONCAT_INNER(a, b)

// Returns the error of a Status or Result expression from the calling
// function.
#define RETURN_IF_ERROR(expr)                                             \
  do {                                                                    \
    ::riffle::Status riffle_status_ = ::riffle::internal::ToStatus(expr); \
    if (!riffle_status_.ok()) return riffle_status_;                      \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` binds the value or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr)                                          \
  RIFFLE_ASSIGN_OR_RETURN_IMPL(RIFFLE_CONCAT(riffle_result_, __LINE__), lhs, \
                               expr)
#define RIFFLE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
