// Goal: after a failed store call a worker retries within its lease, gives a
// job up only when the lease cannot be kept, reopens after an unknown
// outcome, and stops on what waiting cannot heal. Method: the decision as a
// pure function, over a table of (code, phase, time left, wait).
#include "queue/step_policy.h"

#include <gtest/gtest.h>

#include <vector>

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

// The cadences follow the lease, each within its bounds.
TEST(StepPolicyTest, CadencesFollowTheLease) {
  struct Case {
    DurationMs lease, heartbeat, sweep, poll, max_backoff;
  };
  const Case cases[] = {
      {30'000, 10'000, 10'000, 500, 2'000},  // The CLI's default lease.
      {5'000, 1'666, 1'666, 500, 1'250},
      {1'000, 333, 333, 100, 250},
      {200, 66, 100, 50, 50},
      {1, 1, 100, 50, 50},
  };
  for (const Case& c : cases) {
    const Cadence got = CadenceFor(c.lease);
    EXPECT_EQ(got.heartbeat_ms, c.heartbeat) << c.lease;
    EXPECT_EQ(got.sweep_ms, c.sweep) << c.lease;
    EXPECT_EQ(got.poll_ms, c.poll) << c.lease;
    EXPECT_EQ(got.min_backoff_ms, 50) << c.lease;
    EXPECT_EQ(got.max_backoff_ms, c.max_backoff) << c.lease;
    // Two heartbeats can be lost before the lease ends (a lease of a few
    // milliseconds cannot be split that finely).
    EXPECT_TRUE(c.lease < 3 || 2 * got.heartbeat_ms < c.lease) << c.lease;
  }
}

TEST(StepPolicyTest, BackoffDoublesToItsCeilingAndResets) {
  Backoff b(CadenceFor(5'000));
  std::vector<DurationMs> waits;
  for (int i = 0; i < 7; ++i) waits.push_back(b.Next());
  EXPECT_EQ(waits, (std::vector<DurationMs>{50, 100, 200, 400, 800, 1'250, 1'250}));
  b.Reset();
  EXPECT_EQ(b.Next(), 50);
}

TEST(StepPolicyTest, TheLivenessBoundAddsUpEveryWaitOfEveryAttempt) {
  const LivenessInputs in{.cadence = CadenceFor(5'000),
                          .retry = {.base_delay_ms = 200, .max_delay_ms = 5'000},
                          .jobs = 10,
                          .workers = 4,
                          .max_attempts = 3,
                          .quiet_from_ms = 60'000,
                          .restart_ms = 15'000,
                          .step_ms = 20};
  // Per attempt: 5 steps (100) + lease (5000) + sweep (1666) + retry delay
  // (5000) + poll (500) + backoff (1250) = 13516; (10 / 4 + 1) jobs a worker.
  EXPECT_EQ(LivenessBound(in), 60'000 + 15'000 + 3 * 3 * 13'516);
  LivenessInputs more = in;
  more.max_attempts = 4;
  EXPECT_GT(LivenessBound(more), LivenessBound(in));
  more = in;
  more.cadence.sweep_ms *= 2;
  EXPECT_GT(LivenessBound(more), LivenessBound(in));
}

}  // namespace
}  // namespace lab
