#include "queue/retry_policy.h"

#include <algorithm>

#include "core/assert.h"

namespace lab {

DurationMs RetryPolicy::Backoff(int attempts_used) const {
  LAB_ASSERT(attempts_used >= 1);
  DurationMs delay = base_delay_ms;
  for (int i = 1; i < attempts_used && delay < max_delay_ms; ++i) delay *= 2;
  return std::min(delay, max_delay_ms);
}

std::optional<TimeMs> RetryPolicy::Decide(int attempts_used, int max_attempts, bool permanent,
                                          TimeMs now_ms, Rng& rng) const {
  LAB_ASSERT(max_attempts >= 1);
  if (permanent || attempts_used >= max_attempts) return std::nullopt;
  const DurationMs d = Backoff(attempts_used);
  const DurationMs half = d / 2;
  return now_ms + half + rng.Range(0, d - half);
}

}  // namespace lab
