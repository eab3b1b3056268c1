// Errors as values. Every fallible function returns Result<T> (or Status = Result<void>).
// An Error carries a classified code that callers act on, a human message that never holds
// secret bytes, and the native code (HTTP status, CURLcode, SQLite code, uv errno).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace esd {

enum class ErrorCode {
  kNotFound,       // the remote object does not exist (ESO's NoSecretErr); drives deletionPolicy
  kAuth,           // credentials missing, invalid or expired
  kPermission,     // authenticated but not allowed
  kRateLimited,    // throttled; Error::retry_after_ms may say when to retry
  kTransient,      // network, timeouts, 5xx: retry with backoff
  kInvalidRef,     // the reference (key, property, version) cannot be resolved as written
  kInvalidConfig,  // malformed manifest, store spec, kubeconfig, flag
  kConflict,       // Kubernetes 409 (stale resourceVersion, AlreadyExists)
  kGone,           // Kubernetes 410 (Expired/Gone): relist
  kTooLarge,       // a response or value over its size cap
  kCancelled,      // the operation was cancelled (shutdown)
  kInternal,       // a bug or an unexpected local failure
};

std::string_view to_string(ErrorCode code) noexcept;

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  int native = 0;               // HTTP status, CURLcode, SQLite extended code, uv errno
  int64_t retry_after_ms = -1;  // for kRateLimited: server's hint, -1 when none

  Error() = default;
  Error(ErrorCode c, std::string msg, int nat = 0) : code(c), message(std::move(msg)), native(nat) {}
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), failed_(true) {}  // NOLINT

  bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const& { return err_; }
  Error&& error() && { return std::move(err_); }

 private:
  Error err_;
  bool failed_ = false;
};

using Status = Result<void>;

inline Status ok_status() { return Status(); }

// Early return on failure: `ESD_TRY(s, do_thing());` declares `s` and returns its error.
#define ESD_RETURN_IF_ERROR(expr)             \
  do {                                        \
    auto esd_status_ = (expr);                \
    if (!esd_status_) return esd_status_.error(); \
  } while (0)

}  // namespace esd
