// The worker loop's policy, in one place for the worker pool (threads) and
// the simulator (events): what a worker does after a store call fails (one
// pure decision, taken after every failed step and every failed open), how
// long it backs off, the cadences derived from the lease (heartbeat, sweep,
// poll), and the liveness bound they imply.
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
#include "queue/retry_policy.h"
#include "queue/worker.h"

namespace lab {

// In order of severity (the control plane acts on the worst of a tick).
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

// How often a worker loop does each thing, all derived from the lease.
struct Cadence {
  DurationMs lease_ms = 0;
  // A held lease is extended every third of it: two beats can be lost
  // before it ends.
  DurationMs heartbeat_ms = 0;
  // The reaper and the reconciler: a third of a lease (at least 100 ms), so
  // an expired lease is taken over within 4/3 of a lease.
  DurationMs sweep_ms = 0;
  // An idle worker claims again after a tenth of a lease, within [50, 500] ms.
  DurationMs poll_ms = 0;
  // A failed step is retried after a wait that doubles from the least to
  // the most: a quarter of a lease, within [50, 2000] ms.
  DurationMs min_backoff_ms = 0;
  DurationMs max_backoff_ms = 0;
};

Cadence CadenceFor(DurationMs lease_ms);

// The wait before the next try after a failed step: doubling from the
// cadence's least to its most; Reset after a step succeeds.
class Backoff {
 public:
  explicit Backoff(const Cadence& cadence)
      : min_(cadence.min_backoff_ms), max_(cadence.max_backoff_ms) {}
  DurationMs Next();
  void Reset() { wait_ = 0; }

 private:
  DurationMs min_;
  DurationMs max_;
  DurationMs wait_ = 0;
};

// What bounds how long a run takes once faults stop.
struct LivenessInputs {
  Cadence cadence;
  RetryPolicy retry;
  int jobs = 0;
  int workers = 1;
  int max_attempts = 1;
  TimeMs quiet_from_ms = 0;   // No fault after this.
  DurationMs restart_ms = 0;  // The longest a crashed worker stays down.
  DurationMs step_ms = 0;     // The longest one step (a store call, a handler) takes.
  DurationMs handler_ms = 0;  // The longest a handler computes, beyond its step (a long job).
  // The longest the retry budget holds a retry back: its window (a held
  // retry comes back within it, and each worker admits some in every window).
  DurationMs retry_wait_ms = 0;
};

// When every job must be terminal: after the last fault, every worker is
// back within restart_ms; then each worker's share of jobs takes at most
// max_attempts attempts, each bounded by its steps, its handler's
// computing, a lost lease and the sweep that takes it over, the longest retry delay, the
// longest the retry budget holds a retry back, a poll and a backoff.
TimeMs LivenessBound(const LivenessInputs& in);

}  // namespace lab
