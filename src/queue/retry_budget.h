// RetryBudget: retries allowed as a fraction of first attempts over a
// sliding window, so a failing downstream system sees at most
// (1 + ratio) times the load it would see without retries, plus a small
// floor, however many jobs fail and however often (the retry storm of
// FM_005; Finagle's and gRPC's retry budgets work this way).
//
// Each first attempt deposits `ratio` of a retry; each retry withdraws
// one; `floor_per_window` retries are allowed in any window whatever the
// deposits, so a quiet queue can still retry. A retry the budget refuses
// is delayed, never burned: Decide says when to ask again (when the oldest
// retry leaves the window). The window is `buckets` slices of time, so the
// state is small and the decision a pure function of (state, now).
// Thread-safety: plain value; one per queue, owned by one caller.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

#include "core/clock.h"
#include "queue/sliding_window.h"

namespace lab {

struct RetryBudgetOptions {
  double ratio = 0.2;         // Retries per first attempt, over the window.
  int floor_per_window = 10;  // Retries always allowed in a window.
  DurationMs window_ms = 10'000;
  int buckets = 10;  // The window's slices: its resolution.
};

struct RetryDecision {
  bool allowed = false;
  TimeMs ask_again_at_ms = 0;  // When refused: the earliest time it may pass.
};

class RetryBudget {
 public:
  explicit RetryBudget(RetryBudgetOptions options = {});

  void RecordFirstAttempt(TimeMs now_ms);
  // Whether one retry may go now; an allowed one is counted as made.
  RetryDecision Decide(TimeMs now_ms);

  // Over the window ending now.
  int64_t first_attempts(TimeMs now_ms);
  int64_t retries(TimeMs now_ms);
  // Retries the window allows in all: floor + ratio * first attempts.
  int64_t allowance(TimeMs now_ms);

 private:
  static constexpr int kFirst = 0, kRetries = 1;  // SlidingCounts counters.

  RetryBudgetOptions options_;
  SlidingCounts window_;
};

// RetryGate: the retry budget as the job threads of one worker process
// share it for their queue (the retry_budget guard), asked just before a
// handler would call the downstream system: a job's first attempt
// deposits, a later one is a retry and goes only within the budget. A
// retry held back is put back unrun (Store::Defer gives its attempt back)
// until the budget has room: delayed, never burned. A new process starts
// with an empty window, as a restarted one does. Thread-safety: thread-safe.
class RetryGate {
 public:
  explicit RetryGate(RetryBudgetOptions options = {});

  // nullopt: the handler may run now. Otherwise when to ask again: each
  // held retry its own place in line, spaced as the budget lets retries
  // through (a window over its allowance), so held retries come back about
  // as fast as they can pass rather than together, to be held again.
  std::optional<TimeMs> Admit(bool retry, TimeMs now_ms);
  int64_t held() const;  // Retries held back so far.

 private:
  mutable std::mutex mu_;
  RetryBudget budget_;
  DurationMs window_ms_;
  TimeMs next_slot_ms_ = 0;  // The next held retry's place in line.
  int64_t held_ = 0;
};

}  // namespace lab
