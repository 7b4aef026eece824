// Goal: the worker's explicit steps follow claim -> begin -> handler ->
// commit -> finish, failures go to the retry policy, a fenced worker drops
// its job, and the commit_boundary guard decides where the effect lands.
// Method: MemoryStore on a manual clock; steps driven one by one.
#include "queue/worker.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace lab
