#include "queue/step_policy.h"

#include "core/assert.h"
#include "core/enum_names.h"

namespace lab {
namespace {

constexpr EnumNames<AfterError, 4> kActions = {{{AfterError::kRetry, "retry"},
                                                {AfterError::kGiveUpJob, "give up the job"},
                                                {AfterError::kReopen, "reopen"},
                                                {AfterError::kStop, "stop"}}};

}  // namespace

std::string_view ToString(AfterError action) { return NameOf(kActions, action); }

bool IsTransient(ErrorCode code) {
  return code == ErrorCode::kUnavailable || code == ErrorCode::kResourceExhausted;
}

bool IsFatal(ErrorCode code) {
  // kInvalidArgument from the store: the worker's own settings are wrong.
  return code == ErrorCode::kPermissionDenied || code == ErrorCode::kDataLoss ||
         code == ErrorCode::kInvalidArgument;
}

AfterError DecideAfterStepError(const StepError& e) {
  LAB_ASSERT(e.wait_ms >= 0);
  // A fenced step never reaches here: the worker drops the job itself.
  LAB_ASSERT(e.code != ErrorCode::kAborted || e.phase == WorkerPhase::kIdle);
  if (IsFatal(e.code)) return AfterError::kStop;
  if (e.code == ErrorCode::kUnknownOutcome || e.code == ErrorCode::kFailStopped) {
    return AfterError::kReopen;
  }
  if (e.phase == WorkerPhase::kIdle) return AfterError::kRetry;
  // Holding a lease: retry only while the lease outlives the wait, so the
  // retried step still runs under it.
  if (IsTransient(e.code) && AddMs(e.now_ms, e.wait_ms) < e.lease_expires_at_ms) {
    return AfterError::kRetry;
  }
  return AfterError::kGiveUpJob;
}

AfterError DecideAfterOpenError(ErrorCode code) {
  return IsTransient(code) || code == ErrorCode::kInternal ? AfterError::kRetry : AfterError::kStop;
}

}  // namespace lab
