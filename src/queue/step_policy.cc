#include "queue/step_policy.h"

#include <algorithm>

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

Cadence CadenceFor(DurationMs lease_ms) {
  LAB_ASSERT(lease_ms > 0);
  Cadence c{.lease_ms = lease_ms,
            .heartbeat_ms = std::max<DurationMs>(1, lease_ms / 3),
            .sweep_ms = std::max<DurationMs>(lease_ms / 3, 100),
            .poll_ms = std::clamp<DurationMs>(lease_ms / 10, 50, 500),
            .min_backoff_ms = 50};
  c.max_backoff_ms = std::clamp<DurationMs>(lease_ms / 4, c.min_backoff_ms, 2'000);
  return c;
}

DurationMs Backoff::Next() {
  wait_ = std::clamp(wait_ * 2, min_, max_);
  return wait_;
}

TimeMs LivenessBound(const LivenessInputs& in) {
  LAB_ASSERT(in.workers >= 1 && in.max_attempts >= 1 && in.jobs >= 0);
  // A claim, a begin, the handler, a commit, a finish: five steps an attempt.
  constexpr int kStepsPerAttempt = 5;
  const Cadence& c = in.cadence;
  const DurationMs per_attempt = kStepsPerAttempt * in.step_ms + in.handler_ms + c.lease_ms +
                                 c.sweep_ms + in.retry.max_delay_ms + in.retry_wait_ms + c.poll_ms +
                                 c.max_backoff_ms;
  const int64_t share = in.jobs / in.workers + 1;
  return in.quiet_from_ms + in.restart_ms + share * in.max_attempts * per_attempt;
}

AfterError DecideAfterOpenError(ErrorCode code) {
  return IsTransient(code) || code == ErrorCode::kInternal ? AfterError::kRetry : AfterError::kStop;
}

}  // namespace lab
