// RetryPolicy: when a failed attempt runs again, or that it never does.
//
// Exponential backoff with "equal jitter": the n-th retry waits
// d = min(max_delay, base_delay * 2^(n-1)), then d/2 + uniform(0, d/2), so
// retries of many jobs spread out instead of arriving together. A permanent
// error or an exhausted attempt budget means dead-letter. A pure function of
// (attempt, error kind, rng draw). Thread-safety: plain value.
#pragma once

#include <optional>

#include "core/clock.h"
#include "core/rng.h"

namespace lab {

struct RetryPolicy {
  DurationMs base_delay_ms = 1'000;
  DurationMs max_delay_ms = 60'000;

  // The un-jittered delay before retry number `attempts_used` (>= 1).
  DurationMs Backoff(int attempts_used) const;
  // When to retry, or nullopt to dead-letter.
  std::optional<TimeMs> Decide(int attempts_used, int max_attempts, bool permanent, TimeMs now_ms,
                               Rng& rng) const;
};

}  // namespace lab
