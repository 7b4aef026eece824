// INV_007 bounded amplification: whatever fails, a downstream system gets
// at most a bounded multiple of its load from the queue's retries.
//
// Judged from the downstream system's own log of calls, each with its
// caller (one worker process: the holder of one retry budget), its time and
// the execution that made it, and from the store's record of executions: a
// call made by a job's first execution (executions put back unrun aside:
// audited "defer") is a first call; a call by any later execution is a
// retry, whoever makes it. (A late call by a first execution whose lease
// was taken over is a first call still: one effect, not amplification, is
// what INV_001 judges of it. A redriven job's executions are all retries
// here: a run with redrives is judged more strictly than the budget is.)
// For each caller, at each retry, the
// caller's retries over the `buckets` slices of time ending with that
// retry's slice must not exceed floor + ratio x its first calls in those
// slices: the bound the retry budget promises (queue/retry_budget.h),
// reckoned here from the calls alone. Thread-safety: pure function.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "check/invariants.h"
#include "queue/circuit_breaker.h"
#include "queue/retry_budget.h"

namespace lab {

// One call a downstream system received.
struct DownstreamCall {
  TimeMs at_ms = 0;
  JobId job_id = 0;
  ExecutionId execution_id = 0;
  std::string caller;   // The worker process that made it, e.g. "w2#1" (incarnation 1).
  bool failed = false;  // The system failed it (down, timed out): a transient failure.
  // When its caller heard the outcome (the answer, or its own timeout);
  // 0: at once.
  TimeMs answered_at_ms = 0;
  // The network lost the request: the caller made the call (its budget and
  // its breaker count it, failed), the system never saw it.
  bool lost = false;
  // A copy of the call before it that the network delivered again: the
  // system served it, its caller never made it (not in the caller's
  // budget or breaker).
  bool duplicate = false;
};

// For each call, in order: whether it is a retry (made by an execution
// other than its job's first, or than its first since a redrive, deferrals
// aside), as the checker counts.
std::vector<bool> RetryCalls(const Snapshot& snapshot, std::span<const DownstreamCall> calls);

// One violation per caller that went over the bound (its first window over).
std::vector<Violation> CheckBoundedAmplification(const Snapshot& snapshot,
                                                 std::span<const DownstreamCall> calls,
                                                 const RetryBudgetOptions& budget);

// And while the system fails, its callers keep off it: each caller's calls,
// in order, replayed through a circuit breaker with `breaker`'s options
// (queue/circuit_breaker.h: each call admitted, then its outcome recorded),
// never include one the breaker would have refused: once enough of its
// calls failed, a caller waits, then sends only probes, until they succeed.
// The rule is the breaker's own (its decisions have table tests of their
// own); what this checks is that every call went through it. Each call's
// outcome counts from when its caller heard it. One violation per caller:
// its first call while open.
std::vector<Violation> CheckBreakerKept(std::span<const DownstreamCall> calls,
                                        const BreakerOptions& breaker);

// INV_007 whole, as the simulator and the scenarios judge it: the calls
// against the retry budget's bound and, when the callers carried a
// breaker of `breaker`'s rule, against that rule.
std::vector<Violation> CheckAmplification(const Snapshot& snapshot,
                                          std::span<const DownstreamCall> calls,
                                          const RetryBudgetOptions& budget,
                                          const std::optional<BreakerOptions>& breaker);

}  // namespace lab
