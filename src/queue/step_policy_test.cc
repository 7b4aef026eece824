// Goal: after a failed store call a worker retries within its lease, gives a
// job up only when the lease cannot be kept, reopens after an unknown
// outcome, and stops on what waiting cannot heal. Method: the decision as a
// pure function, over a table of (code, phase, time left, wait).
#include "queue/step_policy.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

TEST(StepPolicyTest, DecisionTable) {
  constexpr TimeMs kNow = 1'000;
  struct Case {
    ErrorCode code;
    WorkerPhase phase;
    TimeMs expires;
    DurationMs wait;
    AfterError want;
  };
  const Case cases[] = {
      // Idle (a claim failed): wait and claim again, unless it is fatal.
      {ErrorCode::kUnavailable, WorkerPhase::kIdle, 0, 50, AfterError::kRetry},
      {ErrorCode::kInternal, WorkerPhase::kIdle, 0, 50, AfterError::kRetry},
      {ErrorCode::kPermissionDenied, WorkerPhase::kIdle, 0, 50, AfterError::kStop},
      {ErrorCode::kDataLoss, WorkerPhase::kIdle, 0, 50, AfterError::kStop},
      {ErrorCode::kInvalidArgument, WorkerPhase::kIdle, 0, 50, AfterError::kStop},
      // Holding a lease, transient: retry while the lease outlives the wait.
      {ErrorCode::kUnavailable, WorkerPhase::kRan, kNow + 51, 50, AfterError::kRetry},
      {ErrorCode::kUnavailable, WorkerPhase::kRan, kNow + 50, 50, AfterError::kGiveUpJob},
      {ErrorCode::kUnavailable, WorkerPhase::kRan, kNow - 1, 50, AfterError::kGiveUpJob},
      {ErrorCode::kResourceExhausted, WorkerPhase::kLeased, kNow + 10'000, 2'000,
       AfterError::kRetry},
      {ErrorCode::kUnavailable, WorkerPhase::kCommitted, kNow + 10'000, 50, AfterError::kRetry},
      // Holding a lease, not transient: give the job up at once.
      {ErrorCode::kFailedPrecondition, WorkerPhase::kRan, kNow + 10'000, 50,
       AfterError::kGiveUpJob},
      {ErrorCode::kInternal, WorkerPhase::kInProgress, kNow + 10'000, 50, AfterError::kGiveUpJob},
      // Unknown outcome or a fail-stopped handle: reopen, lease or not.
      {ErrorCode::kUnknownOutcome, WorkerPhase::kIdle, 0, 50, AfterError::kReopen},
      {ErrorCode::kFailStopped, WorkerPhase::kRan, kNow + 10'000, 50, AfterError::kReopen},
      // Fatal wins over a good lease.
      {ErrorCode::kPermissionDenied, WorkerPhase::kRan, kNow + 10'000, 50, AfterError::kStop},
  };
  for (const Case& c : cases) {
    const AfterError got = DecideAfterStepError({.code = c.code,
                                                 .phase = c.phase,
                                                 .now_ms = kNow,
                                                 .lease_expires_at_ms = c.expires,
                                                 .wait_ms = c.wait});
    EXPECT_EQ(got, c.want) << ErrorCodeName(c.code) << " in " << ToString(c.phase) << " expiring "
                           << c.expires << " wait " << c.wait << ": got " << ToString(got);
  }
}

TEST(StepPolicyTest, OpenErrorsRetryOnlyWhatCanHeal) {
  EXPECT_EQ(DecideAfterOpenError(ErrorCode::kUnavailable), AfterError::kRetry);
  EXPECT_EQ(DecideAfterOpenError(ErrorCode::kResourceExhausted), AfterError::kRetry);
  for (ErrorCode code :
       {ErrorCode::kPermissionDenied, ErrorCode::kDataLoss, ErrorCode::kFailedPrecondition,
        ErrorCode::kInvalidArgument, ErrorCode::kNotFound}) {
    EXPECT_EQ(DecideAfterOpenError(code), AfterError::kStop) << ErrorCodeName(code);
  }
}

}  // namespace
}  // namespace lab
