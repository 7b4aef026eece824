// What a worker does after a store call fails: one pure decision, taken by
// the worker pool after every failed step and every failed open.
//
// A worker that holds a valid lease retries the failed step (begin, commit,
// finish, fail) with backoff for as long as the lease can be kept, and gives
// the job up only when it cannot: a transient error (a busy SQLite file, a
// dropped PostgreSQL connection) must not turn into a second execution of a
// job whose lease was still good. Errors that waiting cannot heal (no
// permission, corrupt data) stop the worker; an unknown outcome or a
// fail-stopped handle reopens it. Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "core/clock.h"
#include "core/status.h"
#include "queue/worker.h"

namespace lab {

enum class AfterError {
  kRetry,      // Wait `wait_ms`, then take the same step again (or claim again when idle).
  kGiveUpJob,  // Give the job up (release it), then carry on.
  kReopen,     // Drop the store handle (and any job) and open a new one.
  kStop,       // Stop the worker: waiting will not heal this.
};

std::string_view ToString(AfterError action);

struct StepError {
  ErrorCode code = ErrorCode::kUnavailable;
  WorkerPhase phase = WorkerPhase::kIdle;  // The worker's phase after the failed step.
  TimeMs now_ms = 0;
  TimeMs lease_expires_at_ms = 0;  // Meaningful when phase is not idle.
  DurationMs wait_ms = 0;          // The backoff before the next try.
};

// True for errors that may heal by waiting: the same call can be retried.
bool IsTransient(ErrorCode code);
// True for errors that no amount of waiting or reopening heals.
bool IsFatal(ErrorCode code);

AfterError DecideAfterStepError(const StepError& error);
// Opening a store handle failed: kRetry (after the backoff) or kStop.
AfterError DecideAfterOpenError(ErrorCode code);

}  // namespace lab
