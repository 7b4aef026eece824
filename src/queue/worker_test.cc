// Goal: the worker's explicit steps follow claim -> begin -> handler ->
// commit -> finish, failures go to the retry policy, a fenced worker drops
// its job, and the commit_boundary guard decides where the effect lands.
// Method: MemoryStore on a manual clock; steps driven one by one.
#include "queue/worker.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "core/marks.h"

namespace lab {
namespace {

class WorkerTest : public ::testing::Test {
 protected:
  void Open(Guards guards = {}) {
    auto q = Queue::Open("memory:", clock_, {.guards = guards});
    ASSERT_TRUE(q.has_value());
    queue_ = std::move(*q);
  }
  Worker Make(Handler handler, std::string name = "w1", bool fused = false) {
    return Worker(*queue_, std::move(handler),
                  {.name = std::move(name),
                   .lease_ms = 1'000,
                   .retry = {.base_delay_ms = 100, .max_delay_ms = 1'000},
                   .fused = fused},
                  &sink_);
  }
  // A worker whose handler calls a payment API that is down while `down`
  // is set; `calls` counts the calls.
  Worker PaymentWorker(const bool& down, int& calls, WorkerOptions options) {
    options.name = "w1";
    options.lease_ms = 1'000;
    options.retry = {.base_delay_ms = 100, .max_delay_ms = 1'000};
    return Worker(
        *queue_,
        [&down, &calls](const JobContext& ctx) {
          ++calls;
          return down ? HandlerResult::Transient("503 from the payment API")
                      : HandlerResult::Ok("charge " + ctx.key);
        },
        std::move(options), &sink_);
  }
  // Runs every job the worker finds ready now.
  void RunReady(Worker& w) {
    for (;;) {
      auto ran = w.ProcessOne();
      ASSERT_TRUE(ran.has_value()) << ran.error().ToString();
      if (!*ran) return;
    }
  }
  // Jobs that ended SUCCEEDED and DEAD.
  std::pair<int, int> Ends() {
    auto snap = queue_->store().ReadSnapshot();
    EXPECT_TRUE(snap.has_value());
    int succeeded = 0, dead = 0;
    for (const Job& j : snap->jobs) {
      succeeded += j.state == JobState::kSucceeded ? 1 : 0;
      dead += j.state == JobState::kDead ? 1 : 0;
    }
    return {succeeded, dead};
  }
  StepKind StepKind_(Worker& w) {
    auto r = w.Step();
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r ? r->kind : StepKind::kNoJob;
  }

  ManualClock clock_{0};
  EffectLog sink_;
  std::unique_ptr<Queue> queue_;
};

HandlerResult Charge(const JobContext& ctx) { return HandlerResult::Ok("charge " + ctx.key); }

TEST_F(WorkerTest, StepsWalkTheHappyPath) {
  Open();
  queue_->Enqueue({.key = "order-7"});
  Worker w = Make(Charge);
  EXPECT_EQ(StepKind_(w), StepKind::kClaimed);
  EXPECT_EQ(w.phase(), WorkerPhase::kLeased);
  EXPECT_EQ(StepKind_(w), StepKind::kBegan);
  EXPECT_EQ(StepKind_(w), StepKind::kRan);
  EXPECT_EQ(StepKind_(w), StepKind::kCommitted);
  EXPECT_EQ(StepKind_(w), StepKind::kFinished);
  EXPECT_EQ(w.phase(), WorkerPhase::kIdle);
  EXPECT_EQ(StepKind_(w), StepKind::kNoJob);
  auto snap = queue_->store().ReadSnapshot();
  ASSERT_EQ(snap->effects.size(), 1u);
  EXPECT_EQ(snap->effects[0].payload, "charge default/order-7");
  EXPECT_TRUE(sink_.applied().empty());  // Guarded: the ledger holds the effect.
}

TEST_F(WorkerTest, FusedStepsClaimIntoInProgressAndCommitIntoDone) {
  Open();
  queue_->Enqueue({.key = "order-7"});
  Worker w = Make(Charge, "w1", /*fused=*/true);
  EXPECT_EQ(StepKind_(w), StepKind::kClaimed);
  EXPECT_EQ(w.phase(), WorkerPhase::kInProgress);
  EXPECT_EQ(StepKind_(w), StepKind::kRan);
  EXPECT_EQ(StepKind_(w), StepKind::kFinished);
  EXPECT_EQ(w.phase(), WorkerPhase::kIdle);
  auto snap = queue_->store().ReadSnapshot();
  ASSERT_EQ(snap->effects.size(), 1u);
  EXPECT_EQ(snap->jobs[0].state, JobState::kSucceeded);
  EXPECT_EQ(snap->audit.size(), 7u);  // Every transition audited, as on the split path.
}

TEST_F(WorkerTest, WithoutCommitBoundaryTheHandlerAppliesTheEffectItself) {
  Guards g;
  g.commit_boundary = false;
  Open(g);
  queue_->Enqueue({.key = "order-8"});
  Worker w = Make(Charge);
  EXPECT_EQ(StepKind_(w), StepKind::kClaimed);
  EXPECT_EQ(StepKind_(w), StepKind::kBegan);
  EXPECT_EQ(StepKind_(w), StepKind::kRan);
  ASSERT_EQ(sink_.applied().size(), 1u);  // Before any commit.
  EXPECT_EQ(sink_.applied()[0].key, "default/order-8");
  EXPECT_EQ(StepKind_(w), StepKind::kCommitted);
  EXPECT_TRUE(queue_->store().ReadSnapshot()->effects.empty());
}

TEST_F(WorkerTest, TransientFailureIsRetriedThenDeadLettered) {
  Open();
  JobId id = queue_->Enqueue({.max_attempts = 2})->job_id;
  Worker w = Make([](const JobContext&) { return HandlerResult::Transient("timeout"); });
  EXPECT_TRUE(*w.ProcessOne());
  EXPECT_EQ(queue_->store().GetJob(id)->state, JobState::kPending);
  EXPECT_FALSE(*w.ProcessOne());  // Backing off: not ready yet.
  clock_.AdvanceMs(1'000);
  EXPECT_TRUE(*w.ProcessOne());
  EXPECT_EQ(queue_->store().GetJob(id)->state, JobState::kDead);
}

TEST_F(WorkerTest, PermanentFailureDeadLettersAtOnce) {
  Open();
  JobId id = queue_->Enqueue({.max_attempts = 5})->job_id;
  Worker w = Make([](const JobContext&) { return HandlerResult::Permanent("bad payload"); });
  EXPECT_TRUE(*w.ProcessOne());
  auto job = queue_->store().GetJob(id);
  EXPECT_EQ(job->state, JobState::kDead);
  EXPECT_EQ(job->last_error, "bad payload");
}

TEST_F(WorkerTest, FencedWorkerDropsItsJob) {
  Open();
  queue_->Enqueue({});
  Worker slow = Make(Charge, "slow");
  Worker fast = Make(Charge, "fast");
  EXPECT_EQ(StepKind_(slow), StepKind::kClaimed);
  EXPECT_EQ(StepKind_(slow), StepKind::kBegan);
  EXPECT_EQ(StepKind_(slow), StepKind::kRan);
  clock_.AdvanceMs(1'000);
  EXPECT_EQ(*queue_->Reap(), 1);
  EXPECT_TRUE(*fast.ProcessOne());
  EXPECT_EQ(StepKind_(slow), StepKind::kFenced);
  EXPECT_EQ(slow.phase(), WorkerPhase::kIdle);
  EXPECT_EQ(queue_->store().ReadSnapshot()->effects.size(), 1u);
}

TEST_F(WorkerTest, HeartbeatKeepsASlowJobsLease) {
  Open();
  queue_->Enqueue({});
  Worker w = Make(Charge);
  EXPECT_EQ(StepKind_(w), StepKind::kClaimed);
  for (int i = 0; i < 5; ++i) {
    clock_.AdvanceMs(800);
    ASSERT_TRUE(w.Heartbeat().has_value());
    EXPECT_EQ(*queue_->Reap(), 0);
  }
  EXPECT_EQ(StepKind_(w), StepKind::kBegan);
}

TEST_F(WorkerTest, CrashForgetsTheLeaseAndTheReaperRecoversTheJob) {
  Open();
  JobId id = queue_->Enqueue({})->job_id;
  Worker w = Make(Charge);
  EXPECT_EQ(StepKind_(w), StepKind::kClaimed);
  w.Crash();
  EXPECT_EQ(w.phase(), WorkerPhase::kIdle);
  EXPECT_FALSE(w.lease().has_value());
  clock_.AdvanceMs(1'000);
  EXPECT_EQ(*queue_->Reap(), 1);
  EXPECT_TRUE(*w.ProcessOne());
  EXPECT_EQ(queue_->store().GetJob(id)->state, JobState::kSucceeded);
}

TEST_F(WorkerTest, KeepAliveFromInsideTheHandlerHoldsTheLease) {
  Open();
  JobId id = queue_->Enqueue({})->job_id;
  int reaped = -1;
  Worker w = Make([&](const JobContext& ctx) {
    for (int i = 0; i < 5; ++i) {  // Runs for 4 s on a 1 s lease.
      clock_.AdvanceMs(800);
      EXPECT_TRUE(ctx.keep_alive().has_value());
      reaped = *queue_->Reap();
      if (reaped != 0) break;
    }
    return Charge(ctx);
  });
  EXPECT_TRUE(*w.ProcessOne());
  EXPECT_EQ(reaped, 0);
  EXPECT_EQ(queue_->store().GetJob(id)->state, JobState::kSucceeded);
}

TEST_F(WorkerTest, KeepAliveReportsALostLeaseAndTheWorkerEndsFenced) {
  Open();
  queue_->Enqueue({});
  Worker w = Make([&](const JobContext& ctx) {
    clock_.AdvanceMs(1'000);  // A stall longer than the lease.
    EXPECT_EQ(*queue_->Reap(), 1);
    auto beat = ctx.keep_alive();
    EXPECT_TRUE(!beat && beat.error().code == ErrorCode::kAborted);
    return HandlerResult::Transient("lease lost");
  });
  EXPECT_EQ(StepKind_(w), StepKind::kClaimed);
  EXPECT_EQ(StepKind_(w), StepKind::kBegan);
  EXPECT_EQ(StepKind_(w), StepKind::kFenced);  // Its Fail() is refused: fenced.
  EXPECT_EQ(w.phase(), WorkerPhase::kIdle);
  EXPECT_TRUE(queue_->store().ReadSnapshot()->effects.empty());
}

TEST_F(WorkerTest, AbandonLetsTheLeaseExpireAndTheJobRunsAgain) {
  Open();
  JobId id = queue_->Enqueue({})->job_id;
  Worker w = Make(Charge);
  EXPECT_EQ(StepKind_(w), StepKind::kClaimed);
  EXPECT_EQ(StepKind_(w), StepKind::kBegan);
  w.Abandon("store unavailable");
  EXPECT_EQ(w.phase(), WorkerPhase::kIdle);
  EXPECT_FALSE(*w.ProcessOne());  // Still leased to the abandoned execution.
  clock_.AdvanceMs(1'000);
  EXPECT_EQ(*queue_->Reap(), 1);
  EXPECT_TRUE(*w.ProcessOne());
  EXPECT_EQ(queue_->store().GetJob(id)->state, JobState::kSucceeded);
}

// A downstream outage of ten seconds under 20 jobs of five attempts each.
// With the retry budget (a floor of 2 and 10% of first attempts per 10 s),
// the outage sees the 20 first calls and at most 4 retries; the held
// retries are put back unrun, their attempts given back, and once the
// system is back every job finishes. Without it, every job spends its five
// attempts inside the outage and is dead-lettered: 100 calls to a system
// that was down.
TEST_F(WorkerTest, TheRetryBudgetHoldsAStormOfRetriesBackAndBurnsNoAttempt) {
  for (bool budget : {true, false}) {
    SCOPED_TRACE(budget ? "retry budget on" : "retry budget off");
    Guards guards;
    guards.retry_budget = budget;
    Open(guards);
    int calls = 0;
    bool down = true;
    Worker w = PaymentWorker(
        down, calls,
        {.retry_budget = {
             .ratio = 0.1, .floor_per_window = 2, .window_ms = 10'000, .buckets = 10}});
    for (int i = 0; i < 20; ++i) queue_->Enqueue({.key = fmt::format("order-{}", i)});
    const auto run_until = [&](TimeMs end) {
      for (; clock_.NowMs() < end; clock_.AdvanceMs(50)) RunReady(w);
    };
    const MarkCheck held(Mark::kRetryHeld);
    run_until(clock_.NowMs() + 10'000);
    const int in_outage = calls;
    down = false;
    run_until(clock_.NowMs() + 150'000);
    const auto [succeeded, dead] = Ends();
    auto snap = queue_->store().ReadSnapshot();
    ASSERT_TRUE(snap.has_value());
    if (budget) {
      EXPECT_LE(in_outage, 20 + 2 + 2);
      EXPECT_TRUE(held.hit());
      EXPECT_EQ(succeeded, 20);  // Delayed, never burned.
      EXPECT_TRUE(std::any_of(snap->audit.begin(), snap->audit.end(),
                              [](const AuditEntry& a) { return a.event == AuditEvent::kDefer; }));
    } else {
      EXPECT_EQ(in_outage, 100);
      EXPECT_FALSE(held.hit());
      EXPECT_EQ(dead, 20);
    }
  }
}

// The circuit breaker on the real engine, alone (the retry budget off):
// jobs arriving during a 20 s outage. With the breaker, four failed calls
// open it and the jobs wait unrun (their attempts given back); a probe a
// second finds the system still down (a probe is a real call: it spends
// its job's attempt, so a few probing jobs end dead), and once it is back
// the waiting jobs succeed. Without it, every job calls the failing system
// and burns its three attempts to a dead letter.
TEST_F(WorkerTest, TheCircuitBreakerMakesJobsWaitOutAnOutageInsteadOfFailing) {
  for (bool breaker : {true, false}) {
    SCOPED_TRACE(breaker ? "circuit breaker on" : "circuit breaker off");
    Guards guards;
    guards.circuit_breaker = breaker;
    guards.retry_budget = false;
    Open(guards);
    int calls = 0;
    bool down = true;
    Worker w = PaymentWorker(down, calls,
                             {.breaker_options = BreakerOptions{.failure_ratio = 0.5,
                                                                .min_calls = 4,
                                                                .window_ms = 10'000,
                                                                .buckets = 10,
                                                                .open_ms = 1'000,
                                                                .probes = 1}});
    const MarkCheck held(Mark::kBreakerHeld);
    const TimeMs start = clock_.NowMs();
    int enqueued = 0;
    // An order every half second for 30 s; the API is down for the first 20.
    for (; clock_.NowMs() < start + 30'000; clock_.AdvanceMs(50)) {
      if ((clock_.NowMs() - start) % 500 == 0) {
        ASSERT_TRUE(queue_->Enqueue({.key = fmt::format("order-{}", enqueued++), .max_attempts = 3})
                        .has_value());
      }
      down = clock_.NowMs() < start + 20'000;
      RunReady(w);
    }
    for (int i = 0; i < 2'000; ++i, clock_.AdvanceMs(50)) RunReady(w);
    const auto [succeeded, dead] = Ends();
    if (breaker) {
      EXPECT_TRUE(held.hit());
      EXPECT_LE(dead, 10);                  // The probing jobs, about one in three probes.
      EXPECT_LE(calls, enqueued + 4 + 25);  // Four to open it, about a probe a second.
    } else {
      EXPECT_FALSE(held.hit());
      EXPECT_GE(dead, 38);  // Every order of the outage.
      EXPECT_GE(calls, 3 * 38);
    }
    EXPECT_EQ(succeeded + dead, enqueued);
  }
}

}  // namespace
}  // namespace lab
