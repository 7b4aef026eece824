#include "core/status.h"

#include <fmt/core.h>

namespace lab {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "InvalidArgument";
    case ErrorCode::kNotFound:
      return "NotFound";
    case ErrorCode::kFailedPrecondition:
      return "FailedPrecondition";
    case ErrorCode::kAborted:
      return "Aborted";
    case ErrorCode::kUnavailable:
      return "Unavailable";
    case ErrorCode::kUnknownOutcome:
      return "UnknownOutcome";
    case ErrorCode::kResourceExhausted:
      return "ResourceExhausted";
    case ErrorCode::kOverloaded:
      return "Overloaded";
    case ErrorCode::kPermissionDenied:
      return "PermissionDenied";
    case ErrorCode::kFailStopped:
      return "FailStopped";
    case ErrorCode::kDataLoss:
      return "DataLoss";
    case ErrorCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

Result<void> CheckInRange(std::string_view what, int64_t value, int64_t lo, int64_t hi) {
  if (value >= lo && value <= hi) return {};
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("{} is {}; it must be between {} and {}", what, value, lo, hi));
}

std::string Error::ToString() const { return fmt::format("{}: {}", ErrorCodeName(code), message); }

}  // namespace lab
