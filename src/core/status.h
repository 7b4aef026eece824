// Error values and Result<T> for every fallible call at a layer boundary.
//
// An ErrorCode is chosen by what the caller should do next (after Abseil's
// status codes): retry the call (kUnavailable), restart the larger step
// (kAborted: e.g. a fenced worker drops its job and claims again), fix state
// before retrying (kFailedPrecondition), or treat the outcome as unknown
// (kUnknownOutcome: a commit may or may not have happened; reconcile, never
// guess). Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace lab {

enum class ErrorCode {
  kInvalidArgument,     // The caller's input is malformed; do not retry.
  kNotFound,            // The named thing does not exist.
  kFailedPrecondition,  // State forbids this now; fix state before retrying.
  kAborted,             // Lost a race (e.g. fenced); restart the larger step.
  kUnavailable,         // Transient; the same call may be retried.
  kUnknownOutcome,      // May or may not have taken effect; reconcile.
  kResourceExhausted,   // Out of space, quota or budget.
  kOverloaded,          // Refused by admission control (a queue at its depth limit); try later.
  kPermissionDenied,    // Not allowed (a read-only file, no privilege); waiting will not help.
  kFailStopped,         // This handle stopped after an indeterminate commit; reopen it.
  kDataLoss,            // Stored data is corrupt or unreadable.
  kInternal,            // A bug or a library failure we cannot classify.
};

std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;

  std::string ToString() const;
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

// kInvalidArgument "WHAT is V; it must be between LO and HI" unless
// lo <= value <= hi: the one range check for store calls and schedule files.
Result<void> CheckInRange(std::string_view what, int64_t value, int64_t lo, int64_t hi);

}  // namespace lab

// Early return for Result-returning code, in the style of Abseil's macros.
// LAB_RETURN_IF_ERROR(expr): expr is a Result<void> (or any Result whose
// value is unused). LAB_ASSIGN_OR_RETURN(lhs, expr): binds the value.
#define LAB_CONCAT_INNER_(a, b) a##b
#define LAB_CONCAT_(a, b) LAB_CONCAT_INNER_(a, b)

#define LAB_RETURN_IF_ERROR(expr)                                             \
  do {                                                                        \
    auto lab_status_ = (expr);                                                \
    if (!lab_status_) return std::unexpected(std::move(lab_status_.error())); \
  } while (0)

#define LAB_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)          \
  auto tmp = (expr);                                        \
  if (!tmp) return std::unexpected(std::move(tmp.error())); \
  lhs = std::move(*tmp)

#define LAB_ASSIGN_OR_RETURN(lhs, expr) \
  LAB_ASSIGN_OR_RETURN_IMPL_(LAB_CONCAT_(lab_result_, __LINE__), lhs, expr)
