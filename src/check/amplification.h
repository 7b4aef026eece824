// INV_007 bounded amplification: whatever fails, a downstream system gets
// at most a bounded multiple of its load from the queue's retries.
//
// Judged from the downstream system's own log of calls, each with its
// caller (one worker process: the holder of one retry budget) and time. A
// job's first call is its first attempt; every later call for the same
// job, by any caller, is a retry. For each caller, at each retry, the
// caller's retries over the `buckets` slices of time ending with that
// retry's slice must not exceed floor + ratio x its first calls in those
// slices: the bound the retry budget promises (queue/retry_budget.h),
// reckoned here from the calls alone. Thread-safety: pure function.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "check/invariants.h"
#include "queue/retry_budget.h"

namespace lab {

// One call a downstream system received.
struct DownstreamCall {
  TimeMs at_ms = 0;
  JobId job_id = 0;
  std::string caller;  // The worker process that made it, e.g. "w2#1" (incarnation 1).
};

// One violation per caller that went over the bound (its first window over).
std::vector<Violation> CheckBoundedAmplification(std::span<const DownstreamCall> calls,
                                                 const RetryBudgetOptions& budget);

}  // namespace lab
