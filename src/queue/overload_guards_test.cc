// Goal: the overload guards' decisions, as pure functions of (state, time,
// outcome), step by step against tables written by hand. RetryBudget: a
// floor of retries, plus a share of first attempts over a sliding window; a
// refused retry is told when to ask again. CircuitBreaker: closed until
// enough calls fail, open for a while (calls wait), half-open probes that
// close it or open it again. A storm of failing jobs retried at once gets
// no more retries than the budget's bound.
#include <gtest/gtest.h>

#include <span>

#include "queue/circuit_breaker.h"
#include "queue/retry_budget.h"

namespace lab {
namespace {

enum class Op { kFirst, kRetry, kAdmit, kOk, kFail };

struct Step {
  TimeMs t;
  Op op;
  bool allowed = true;         // kRetry, kAdmit: the decision.
  TimeMs ask_again_at_ms = 0;  // When refused.
};

TEST(RetryBudgetTest, TheFloorThenAShareOfFirstAttemptsOverTheWindow) {
  RetryBudget budget({.ratio = 0.5, .floor_per_window = 2, .window_ms = 10'000, .buckets = 10});
  const Step steps[] = {
      {0, Op::kRetry, true},           // The floor: 2 retries with no first attempt.
      {0, Op::kRetry, true},           //
      {0, Op::kRetry, false, 10'000},  // Spent: ask again when slice 0 leaves the window.
      {100, Op::kFirst},               // Four first attempts deposit two retries.
      {100, Op::kFirst},
      {100, Op::kFirst},
      {100, Op::kFirst},
      {200, Op::kRetry, true},
      {1'500, Op::kRetry, true},
      {1'500, Op::kRetry, false, 10'000},
      {9'999, Op::kRetry, false, 10'000},
      {10'000, Op::kRetry, true},           // Slice 0 (every first attempt) left: the floor again,
      {10'000, Op::kRetry, false, 11'000},  // with one retry of slice 1 still in it.
      {11'000, Op::kRetry, true},
  };
  for (const Step& s : steps) {
    SCOPED_TRACE(::testing::Message() << "at " << s.t);
    if (s.op == Op::kFirst) {
      budget.RecordFirstAttempt(s.t);
      continue;
    }
    const RetryDecision d = budget.Decide(s.t);
    EXPECT_EQ(d.allowed, s.allowed);
    if (!s.allowed) {
      EXPECT_EQ(d.ask_again_at_ms, s.ask_again_at_ms);
    }
  }
}

TEST(RetryBudgetTest, AStormOfFailingJobsGetsNoMoreRetriesThanTheBound) {
  RetryBudget budget({.ratio = 0.1, .floor_per_window = 5, .window_ms = 10'000, .buckets = 10});
  int allowed = 0, refused = 0;
  for (int job = 0; job < 200; ++job) budget.RecordFirstAttempt(job);
  // Every job fails and asks to retry at once, ten times, within a second.
  for (int round = 0; round < 10; ++round) {
    for (int job = 0; job < 200; ++job) {
      const RetryDecision d = budget.Decide(500 + round);
      (d.allowed ? allowed : refused) += 1;
      if (!d.allowed) {  // Delayed, not burned.
        EXPECT_EQ(d.ask_again_at_ms, 10'000);
      }
    }
  }
  EXPECT_EQ(allowed, 5 + 20);  // The floor plus 10% of 200 first attempts.
  EXPECT_EQ(refused, 2'000 - 25);
  EXPECT_EQ(budget.retries(600), 25);
  EXPECT_EQ(budget.allowance(600), 25);
}

TEST(RetryBudgetTest, NoFloorAndNoFirstAttemptsMeansNoRetries) {
  RetryBudget budget({.ratio = 0.5, .floor_per_window = 0, .window_ms = 1'000, .buckets = 4});
  const RetryDecision d = budget.Decide(300);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.ask_again_at_ms, 1'300);
}

struct BreakerStep {
  TimeMs t;
  Op op;
  BreakerState after;
  bool allowed = true;         // kAdmit: the decision.
  TimeMs ask_again_at_ms = 0;  // When refused.
  TimeMs heard_at_ms = 0;      // kOk, kFail: when the caller hears it (0: at t).
};

// Both breaker tables: opens at half of at least 4 outcomes, for 5 s, then
// 2 probes.
constexpr BreakerOptions kBreaker = {.failure_ratio = 0.5,
                                     .min_calls = 4,
                                     .window_ms = 10'000,
                                     .buckets = 10,
                                     .open_ms = 5'000,
                                     .probes = 2};

void RunBreaker(CircuitBreaker& breaker, std::span<const BreakerStep> steps) {
  for (const BreakerStep& s : steps) {
    SCOPED_TRACE(::testing::Message() << "at " << s.t << " step " << (&s - steps.data()));
    if (s.op == Op::kAdmit) {
      const BreakerDecision d = breaker.Admit(s.t);
      EXPECT_EQ(d.allowed, s.allowed);
      if (!s.allowed) {
        EXPECT_EQ(d.ask_again_at_ms, s.ask_again_at_ms);
      }
    } else {
      breaker.Record(s.t, s.op == Op::kOk, s.heard_at_ms);
    }
    EXPECT_EQ(breaker.state(s.t), s.after) << ToString(breaker.state(s.t));
  }
}

// The gate a process's threads share: first attempts pass and deposit; a
// retry past the budget is held, and each held one gets its own place in
// line, spaced a window over the allowance from the first moment one may
// pass, so they do not all come back at once to be held again.
TEST(RetryGateTest, FirstAttemptsPassAndHeldRetriesGetTheirOwnPlaceInLine) {
  RetryGate gate({.ratio = 0, .floor_per_window = 2, .window_ms = 1'000, .buckets = 4});
  EXPECT_EQ(gate.Admit(/*retry=*/false, 100), std::nullopt);
  EXPECT_EQ(gate.Admit(true, 100), std::nullopt);
  EXPECT_EQ(gate.Admit(true, 100), std::nullopt);
  // The oldest retry leaves the window at 1000; then one every 500 ms.
  EXPECT_EQ(gate.Admit(true, 100), 1'000);
  EXPECT_EQ(gate.Admit(true, 200), 1'500);
  EXPECT_EQ(gate.Admit(true, 300), 2'000);
  EXPECT_EQ(gate.held(), 3);
  EXPECT_EQ(gate.Admit(false, 300), std::nullopt);   // Never a first attempt.
  EXPECT_EQ(gate.Admit(true, 1'000), std::nullopt);  // Its place came: it passes.
}

TEST(CircuitBreakerTest, OpensOnFailuresWaitsThenProbesAndCloses) {
  CircuitBreaker breaker(kBreaker);
  using enum BreakerState;
  const BreakerStep steps[] = {
      {0, Op::kAdmit, kClosed, true},
      {0, Op::kFail, kClosed},  // 1 of 1 failed, but fewer than min_calls.
      {10, Op::kFail, kClosed},
      {20, Op::kFail, kClosed},
      {30, Op::kOk, kOpen},  // 3 of 4 failed: open until 5,030.
      {100, Op::kAdmit, kOpen, false, 5'030},
      {40, Op::kOk, kOpen},  // A late outcome changes nothing.
      {5'029, Op::kAdmit, kOpen, false, 5'030},
      {5'030, Op::kAdmit, kHalfOpen, true},  // Probe 1.
      {5'031, Op::kAdmit, kHalfOpen, true},  // Probe 2.
      {5'032, Op::kAdmit, kHalfOpen, false, 6'032},
      {5'100, Op::kOk, kHalfOpen},
      {5'200, Op::kOk, kClosed},  // Both probes succeeded.
      {5'300, Op::kAdmit, kClosed, true},
      {5'300, Op::kFail, kClosed},  // A fresh window: 1 of 1, fewer than min_calls.
  };
  RunBreaker(breaker, steps);
  EXPECT_EQ(breaker.opened(), 1);
}

TEST(CircuitBreakerTest, AFailedProbeOpensItAgainAndOldFailuresLeaveTheWindow) {
  CircuitBreaker breaker(kBreaker);
  using enum BreakerState;
  const BreakerStep steps[] = {
      {0, Op::kFail, kClosed},
      {0, Op::kFail, kClosed},
      {0, Op::kFail, kClosed},
      {10'000, Op::kOk, kClosed},  // The three failures left the window: 0 of 1.
      {10'001, Op::kFail, kClosed},
      {10'002, Op::kOk, kClosed},
      {10'003, Op::kFail, kOpen},  // 2 of 4 failed: the ratio is reached.
      {15'003, Op::kAdmit, kHalfOpen, true},
      {15'004, Op::kFail, kOpen},  // The probe failed: open until 20,004.
      {15'005, Op::kAdmit, kOpen, false, 20'004},
      {20'004, Op::kAdmit, kHalfOpen, true},
  };
  RunBreaker(breaker, steps);
  EXPECT_EQ(breaker.opened(), 2);
}

// An answer that comes later than the call (a simulated handler returns at
// once, its answer due later) counts from when it is heard: until then the
// breaker does not know, and a probe out is still out.
TEST(CircuitBreakerTest, AnOutcomeHeardLaterCountsFromThenAndItsProbeStaysOut) {
  CircuitBreaker breaker(kBreaker);
  using enum BreakerState;
  const BreakerStep steps[] = {
      {0, Op::kFail, kClosed, true, 0, 100},  // Four calls at 0, each timing out at 100.
      {0, Op::kFail, kClosed, true, 0, 100},
      {0, Op::kFail, kClosed, true, 0, 100},
      {0, Op::kFail, kClosed, true, 0, 100},
      {99, Op::kAdmit, kClosed, true},  // Nothing heard yet.
      {99, Op::kOk, kClosed},
      {100, Op::kAdmit, kOpen, false, 5'100},  // Heard: 4 of 5 failed, open from 100.
      {5'100, Op::kAdmit, kHalfOpen, true},    // Probe 1, answered at 5,500.
      {5'100, Op::kOk, kHalfOpen, true, 0, 5'500},
      {5'101, Op::kAdmit, kHalfOpen, true},  // Probe 2, answered at 5,600.
      {5'101, Op::kOk, kHalfOpen, true, 0, 5'600},
      {5'200, Op::kAdmit, kHalfOpen, false, 6'200},  // Both out: wait for them.
      {5'599, Op::kAdmit, kHalfOpen, false, 6'599},  // One heard.
      {5'600, Op::kAdmit, kClosed, true},            // Both: closed.
  };
  RunBreaker(breaker, steps);
  EXPECT_EQ(breaker.opened(), 1);
}

// The gate a process's threads share: while open it holds calls back and
// says until when; a call admitted as a probe and then not made (another
// guard held it) gives its place back, so the breaker cannot stay half-open
// waiting for a probe that never went.
TEST(BreakerGateTest, HoldsCallsWhileOpenAndACancelledProbeGivesItsPlaceBack) {
  BreakerGate gate(kBreaker);
  for (TimeMs t = 0; t < 4; ++t) {
    EXPECT_EQ(gate.Admit(t), std::nullopt);
    gate.Record(t, /*success=*/false);
  }
  EXPECT_EQ(gate.opened(), 1);
  EXPECT_EQ(gate.Admit(100), 5'003);  // Open for 5 s from the fourth failure.
  EXPECT_EQ(gate.held(), 1);
  EXPECT_EQ(gate.Admit(5'003), std::nullopt);  // Probe 1 ...
  gate.Cancel(5'003);                          // ... not made after all.
  EXPECT_EQ(gate.Admit(5'004), std::nullopt);  // Its place, again.
  EXPECT_EQ(gate.Admit(5'005), std::nullopt);  // Probe 2.
  EXPECT_NE(gate.Admit(5'006), std::nullopt);  // Both out: wait for them.
  gate.Record(5'010, true);
  gate.Record(5'011, true);
  EXPECT_EQ(gate.Admit(5'012), std::nullopt);  // Closed.
  gate.Cancel(5'012);                          // Closed: a cancel changes nothing.
  EXPECT_EQ(gate.held(), 2);
}

}  // namespace
}  // namespace lab
