#pragma once
/// Errors as values: every fallible call at a module boundary returns Status or Result<T>.
/// A Status is one pointer wide and free to copy when OK; an error carries a code and a
/// message that says what was wrong, where, and what would be accepted.

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace fraudops {

/// The codes are semantic; the CLI maps them to exit codes in one place (cli/exit_codes.h).
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  ///< usage or configuration error
  kDataError,        ///< the input data is missing, unreadable or malformed
  kNotFound,         ///< a named thing (file, model, key) does not exist
  kUnimplemented,    ///< a valid request for something not available (yet)
  kIoError,          ///< the workspace or an output could not be written
  kInternal,         ///< a bug or a library failure
  kConflict,  ///< the request conflicts with the current state (exists already, changed meanwhile)
  kUnauthenticated,   ///< no valid credentials (who is asking is not known)
  kPermissionDenied,  ///< the caller is known but may not do this
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);
  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string message) {
    return {StatusCode::kInvalidArgument, std::move(message)};
  }
  static Status DataError(std::string message) {
    return {StatusCode::kDataError, std::move(message)};
  }
  static Status NotFound(std::string message) {
    return {StatusCode::kNotFound, std::move(message)};
  }
  static Status Unimplemented(std::string message) {
    return {StatusCode::kUnimplemented, std::move(message)};
  }
  static Status Conflict(std::string message) {
    return {StatusCode::kConflict, std::move(message)};
  }
  static Status Unauthenticated(std::string message) {
    return {StatusCode::kUnauthenticated, std::move(message)};
  }
  static Status PermissionDenied(std::string message) {
    return {StatusCode::kPermissionDenied, std::move(message)};
  }
  static Status IoError(std::string message) { return {StatusCode::kIoError, std::move(message)}; }
  static Status Internal(std::string message) {
    return {StatusCode::kInternal, std::move(message)};
  }

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  /// The message alone; empty when OK.
  const std::string& message() const;
  /// "<CodeName>: <message>", or "OK".
  std::string ToString() const;

  /// Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

 private:
  struct State {
    StatusCode code;
    std::string message;
  };
  std::unique_ptr<State> state_;
};

/// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "a Result built from a Status must hold an error");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  /// The value, or `fallback` when there is none.
  T value_or(T fallback) const& { return ok() ? *value_ : std::move(fallback); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace fraudops

#define FOPS_CONCAT_INNER(a, b) a##b
#define FOPS_CONCAT(a, b) FOPS_CONCAT_INNER(a, b)

/// Returns the Status of `expr` from the enclosing function when it is an error.
/// (A unique name per use: the expression may hold a lambda that uses the macro too.)
#define FOPS_RETURN_IF_ERROR(expr) \
  FOPS_RETURN_IF_ERROR_IMPL(FOPS_CONCAT(fops_status_, __COUNTER__), expr)
#define FOPS_RETURN_IF_ERROR_IMPL(name, expr) \
  do {                                        \
    ::fraudops::Status name = (expr);         \
    if (!name.ok()) return name;              \
  } while (false)

/// `FOPS_ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a Result or returns its error.
#define FOPS_ASSIGN_OR_RETURN(lhs, expr) \
  FOPS_ASSIGN_OR_RETURN_IMPL(FOPS_CONCAT(fops_result_, __LINE__), lhs, expr)
#define FOPS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
