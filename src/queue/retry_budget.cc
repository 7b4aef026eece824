#include "queue/retry_budget.h"

#include <algorithm>
#include <cmath>

#include "core/assert.h"

namespace lab {

RetryBudget::RetryBudget(RetryBudgetOptions options)
    : options_(options), window_(options.window_ms, options.buckets) {
  LAB_ASSERT(options_.ratio >= 0 && options_.floor_per_window >= 0);
}

int64_t RetryBudget::first_attempts(TimeMs now_ms) { return window_.Sum(now_ms, kFirst); }

int64_t RetryBudget::retries(TimeMs now_ms) { return window_.Sum(now_ms, kRetries); }

int64_t RetryBudget::allowance(TimeMs now_ms) {
  const double deposits = options_.ratio * static_cast<double>(first_attempts(now_ms));
  return options_.floor_per_window + static_cast<int64_t>(std::floor(deposits));
}

void RetryBudget::RecordFirstAttempt(TimeMs now_ms) { window_.Add(now_ms, kFirst); }

RetryDecision RetryBudget::Decide(TimeMs now_ms) {
  if (retries(now_ms) < allowance(now_ms)) {
    window_.Add(now_ms, kRetries);
    return {.allowed = true, .ask_again_at_ms = now_ms};
  }
  // Refused: ask again when the oldest retry leaves the window (a deposit
  // may come sooner; asking again then is cheap). With no retry in the
  // window the allowance is zero: a whole window on.
  const auto leaves = window_.OldestLeavesAt(now_ms, kRetries);
  return {.allowed = false, .ask_again_at_ms = leaves.value_or(now_ms + options_.window_ms)};
}

RetryGate::RetryGate(RetryBudgetOptions options)
    : budget_(options), window_ms_(options.window_ms) {}

std::optional<TimeMs> RetryGate::Admit(bool retry, TimeMs now_ms) {
  std::lock_guard lock(mu_);
  if (!retry) {
    budget_.RecordFirstAttempt(now_ms);
    return std::nullopt;
  }
  const RetryDecision d = budget_.Decide(now_ms);
  if (d.allowed) return std::nullopt;
  ++held_;
  // A place in line: the budget lets about `allowance` retries through a
  // window, so held ones come back that far apart, from the first moment
  // one may pass, instead of all at that moment (to be held again).
  const int64_t per_window = std::max<int64_t>(1, budget_.allowance(now_ms));
  next_slot_ms_ = std::max(next_slot_ms_, d.ask_again_at_ms);
  const TimeMs at = next_slot_ms_;
  next_slot_ms_ += std::max<DurationMs>(1, window_ms_ / per_window);
  return at;
}

int64_t RetryGate::held() const {
  std::lock_guard lock(mu_);
  return held_;
}

}  // namespace lab
