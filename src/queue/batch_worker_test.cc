// Goal: a BatchWorker claims, runs and records a batch in three steps and
// two store calls, every job with its own lease: each outcome lands as the
// one-job Worker's would (effects in the ledger, retries and dead letters
// by the retry policy), a job taken over is refused alone, and without the
// commit boundary the effects go out as the handlers return.
// Method: MemoryStore on a manual clock; steps driven one by one.
#include "queue/batch_worker.h"

#include <gtest/gtest.h>

#include <map>

namespace lab {
namespace {

class BatchWorkerTest : public ::testing::Test {
 protected:
  void Open(Guards guards = {}) {
    auto q = Queue::Open("memory:", clock_, {.guards = guards});
    ASSERT_TRUE(q.has_value());
    queue_ = std::move(*q);
  }
  BatchWorker Make(Handler handler, int batch, std::string name = "b1") {
    return BatchWorker(*queue_, std::move(handler),
                       {.name = std::move(name),
                        .lease_ms = 1'000,
                        .retry = {.base_delay_ms = 100, .max_delay_ms = 1'000}},
                       batch, &sink_);
  }
  BatchStep Step(BatchWorker& w) {
    auto r = w.Step();
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r ? *r : BatchStep{};
  }
  std::map<std::string, JobState> States() {
    std::map<std::string, JobState> out;
    auto snap = queue_->store().ReadSnapshot();
    EXPECT_TRUE(snap.has_value());
    for (const Job& j : snap->jobs) out[j.key.value_or("")] = j.state;
    return out;
  }

  ManualClock clock_{0};
  EffectLog sink_;
  std::unique_ptr<Queue> queue_;
};

HandlerResult ByKey(const JobContext& ctx) {
  if (ctx.payload == "transient") return HandlerResult::Transient("busy");
  if (ctx.payload == "permanent") return HandlerResult::Permanent("bad input");
  return HandlerResult::Ok("did " + ctx.key);
}

TEST_F(BatchWorkerTest, ABatchIsClaimedRunAndRecordedInThreeSteps) {
  Open();
  for (const char* k : {"a", "b", "c", "d"}) queue_->Enqueue({.key = k});
  BatchWorker w = Make(ByKey, 3);
  const BatchStep claimed = Step(w);
  EXPECT_EQ(claimed.kind, StepKind::kClaimed);
  EXPECT_EQ(claimed.claimed, 3);
  EXPECT_EQ(w.phase(), WorkerPhase::kInProgress);
  EXPECT_EQ(Step(w).kind, StepKind::kRan);
  const BatchStep done = Step(w);
  EXPECT_EQ(done.kind, StepKind::kFinished);
  EXPECT_EQ(done.finished, 3);
  EXPECT_EQ(w.phase(), WorkerPhase::kIdle);
  auto snap = queue_->store().ReadSnapshot();
  EXPECT_EQ(snap->effects.size(), 3u);
  EXPECT_EQ(snap->audit.size(), 4u + 3u * 6u);  // Four enqueues; six transitions a job run.
  EXPECT_EQ(States()["d"], JobState::kPending);
  EXPECT_TRUE(sink_.applied().empty());  // Guarded: the ledger holds the effects.
}

TEST_F(BatchWorkerTest, FailuresAreRetriedOrDeadLetteredJobByJob) {
  Open();
  queue_->Enqueue({.key = "ok", .payload = "fine"});
  queue_->Enqueue({.key = "retry", .payload = "transient"});
  queue_->Enqueue({.key = "dead", .payload = "permanent"});
  BatchWorker w = Make(ByKey, 10);
  Step(w);
  Step(w);
  const BatchStep done = Step(w);
  EXPECT_EQ(done.finished, 1);
  EXPECT_EQ(done.failed, 2);
  EXPECT_EQ(done.dead_lettered, 1);
  auto states = States();
  EXPECT_EQ(states["ok"], JobState::kSucceeded);
  EXPECT_EQ(states["retry"], JobState::kPending);
  EXPECT_EQ(states["dead"], JobState::kDead);
}

TEST_F(BatchWorkerTest, JobsTakenOverWhileTheBatchRanAreRefusedWithNoEffect) {
  Open();
  queue_->Enqueue({.key = "slow"});
  queue_->Enqueue({.key = "quick"});
  BatchWorker w = Make(
      [&](const JobContext& ctx) {
        if (ctx.key == "default/slow") {
          // Past its lease: the reaper re-queues it and another worker takes it.
          clock_.AdvanceMs(2'000);
          EXPECT_EQ(*queue_->store().ReapExpired(), 2);
          auto other = queue_->store().Claim({.worker = "other", .max_jobs = 1});
          EXPECT_EQ(other->size(), 1u);
        }
        return HandlerResult::Ok("x");
      },
      2);
  Step(w);
  Step(w);
  const BatchStep done = Step(w);
  EXPECT_EQ(done.fenced, 2);  // Both leases were taken from it by the reaper.
  EXPECT_EQ(done.finished, 0);
  EXPECT_TRUE(queue_->store().ReadSnapshot()->effects.empty());
}

TEST_F(BatchWorkerTest, AKeepAliveThatFindsTheLeaseTakenOverDropsOnlyThatJob) {
  Open();
  queue_->Enqueue({.key = "a"});
  queue_->Enqueue({.key = "b"});
  BatchWorker w = Make(
      [&](const JobContext& ctx) {
        if (ctx.key == "default/a") {
          clock_.AdvanceMs(1'500);
          EXPECT_EQ(*queue_->store().ReapExpired(), 2);
          EXPECT_EQ(ctx.keep_alive().error().code, ErrorCode::kAborted);
        }
        return HandlerResult::Ok("x");
      },
      2);
  Step(w);
  const BatchStep ran = Step(w);
  EXPECT_EQ(ran.fenced, 1);  // "a", dropped by its keep_alive; "b" is refused at completion.
  const BatchStep done = Step(w);
  EXPECT_EQ(done.fenced, 1);
  EXPECT_TRUE(queue_->store().ReadSnapshot()->effects.empty());
}

TEST_F(BatchWorkerTest, WithoutTheCommitBoundaryTheEffectsGoOutAsTheHandlersReturn) {
  Guards g;
  g.commit_boundary = false;
  Open(g);
  queue_->Enqueue({.key = "a"});
  queue_->Enqueue({.key = "b"});
  BatchWorker w = Make(ByKey, 2);
  Step(w);
  Step(w);
  EXPECT_EQ(sink_.applied().size(), 2u);  // Before anything is recorded.
  EXPECT_EQ(Step(w).finished, 2);
  EXPECT_TRUE(queue_->store().ReadSnapshot()->effects.empty());
}

TEST_F(BatchWorkerTest, GiveUpReleasesEveryHeldJob) {
  Open();
  queue_->Enqueue({.key = "a"});
  queue_->Enqueue({.key = "b"});
  BatchWorker w = Make(ByKey, 2);
  Step(w);
  ASSERT_TRUE(w.GiveUp("shutting down").has_value());
  EXPECT_EQ(w.phase(), WorkerPhase::kIdle);
  for (const auto& [key, state] : States()) EXPECT_EQ(state, JobState::kPending) << key;
}

}  // namespace
}  // namespace lab
