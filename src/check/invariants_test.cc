// Goal: every checker is seen to hold on a clean run and seen to fire on a
// run with one injected defect, naming the right invariant and job. Method:
// produce a real snapshot with a MemoryStore and a worker, then either break
// the engine (guards off, a crash) or corrupt a copy of the snapshot: a
// checker is trusted once it has been seen to fail (docs/invariants.md).
#include "check/invariants.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "queue/worker.h"

namespace lab {
namespace {

class InvariantsTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(Guards::All()); }
  void Open(Guards guards) {
    queue_ = std::move(*Queue::Open("memory:", clock_, {.guards = guards}));
    worker_ = std::make_unique<Worker>(
        *queue_, [](const JobContext& c) { return HandlerResult::Ok("effect " + c.key); },
        WorkerOptions{.name = "w", .lease_ms = 1'000}, &external_);
  }
  // Runs `n` jobs to completion and returns the snapshot.
  Snapshot CleanRun(int n) {
    for (int i = 0; i < n; ++i) acked_.push_back(queue_->Enqueue({})->job_id);
    while (*worker_->ProcessOne()) {
    }
    return *queue_->store().ReadSnapshot();
  }
  std::vector<Violation> Check(const Snapshot& s, std::optional<TimeMs> recovered = std::nullopt) {
    return CheckAll({s, external_.applied(), acked_, recovered});
  }
  static bool Has(const std::vector<Violation>& vs, Invariant inv, JobId job) {
    return std::any_of(vs.begin(), vs.end(),
                       [&](const Violation& v) { return v.invariant == inv && v.job_id == job; });
  }

  ManualClock clock_{0};
  EffectLog external_;
  std::unique_ptr<Queue> queue_;
  std::unique_ptr<Worker> worker_;
  std::vector<JobId> acked_;
};

TEST_F(InvariantsTest, CleanRunHoldsEveryInvariant) {
  const Snapshot s = CleanRun(3);
  const auto vs = Check(s, clock_.NowMs());
  for (const auto& v : vs) ADD_FAILURE() << v.ToString();
  EXPECT_EQ(s.effects.size(), 3u);
}

TEST_F(InvariantsTest, Inv001FiresOnASecondEffectAndNamesBoth) {
  const Snapshot s = CleanRun(2);
  external_.Apply({.job_id = 2, .key = "job:2", .execution_id = 2, .token = 1, .payload = "again"});
  const auto vs = CheckInv001({s, external_.applied(), acked_, {}});
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_EQ(vs[0].invariant, Invariant::kOneEffect);
  EXPECT_EQ(vs[0].job_id, 2);
  EXPECT_EQ(vs[0].evidence.size(), 2u);
  EXPECT_NE(vs[0].evidence[0].find("ledger"), std::string::npos);
  EXPECT_NE(vs[0].evidence[1].find("external"), std::string::npos);
}

TEST_F(InvariantsTest, Inv002FiresOnAnEffectWhoseExecutionNeverCommitted) {
  Guards g;
  g.commit_boundary = false;
  Open(g);
  acked_.push_back(queue_->Enqueue({})->job_id);
  ASSERT_TRUE(worker_->Step().has_value());  // claim
  ASSERT_TRUE(worker_->Step().has_value());  // begin
  ASSERT_TRUE(worker_->Step().has_value());  // handler: effect applied outside any commit
  worker_->Crash();
  const Snapshot s = *queue_->store().ReadSnapshot();
  const auto vs = CheckInv002({s, external_.applied(), acked_, {}});
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_NE(vs[0].message.find("never committed (it is IN_PROGRESS)"), std::string::npos);
}

TEST_F(InvariantsTest, Inv003FiresOnAnIllegalTransition) {
  Snapshot s = CleanRun(1);
  // Rewrite "begin LEASED -> IN_PROGRESS" as a jump straight to COMMITTED.
  for (auto& a : s.audit) {
    if (a.event == AuditEvent::kBegin) a.to = "COMMITTED";
  }
  const auto vs = CheckInv003({s, external_.applied(), acked_, {}});
  ASSERT_FALSE(vs.empty());
  EXPECT_TRUE(Has(vs, Invariant::kAuditedTransitions, 1));
  EXPECT_NE(vs[0].message.find("LEASED -> COMMITTED"), std::string::npos) << vs[0].ToString();
}

TEST_F(InvariantsTest, Inv003FiresOnALegalMoveRecordedByTheWrongEvent) {
  Snapshot s = CleanRun(1);
  // The job's SUCCEEDED recorded as a redrive: the move is legal, its event is not.
  for (auto& a : s.audit) {
    if (a.event == AuditEvent::kFinish && a.execution_id == 0) a.event = AuditEvent::kRedrive;
  }
  const auto vs = CheckInv003({s, external_.applied(), acked_, {}});
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_NE(vs[0].message.find("RUNNING -> SUCCEEDED by redrive"), std::string::npos)
      << vs[0].ToString();
}

TEST_F(InvariantsTest, Inv003FiresOnAMissingAuditEntry) {
  Snapshot s = CleanRun(1);
  s.audit.erase(std::remove_if(s.audit.begin(), s.audit.end(),
                               [](const AuditEntry& a) { return a.event == AuditEvent::kFinish; }),
                s.audit.end());
  const auto vs = CheckInv003({s, external_.applied(), acked_, {}});
  ASSERT_FALSE(vs.empty());
  EXPECT_NE(vs[0].message.find("audit trail ends at"), std::string::npos) << vs[0].ToString();
}

TEST_F(InvariantsTest, Inv003FiresWhenJobStateDisagreesWithExecutions) {
  Snapshot s = CleanRun(1);
  s.executions[0].state = ExecState::kAborted;  // SUCCEEDED job, no DONE execution.
  const auto vs = CheckInv003({s, external_.applied(), acked_, {}});
  EXPECT_TRUE(std::any_of(vs.begin(), vs.end(), [](const Violation& v) {
    return v.message.find("SUCCEEDED with no DONE execution") != std::string::npos;
  }));
}

TEST_F(InvariantsTest, Inv004FiresOnALostAcknowledgedJob) {
  Snapshot s = CleanRun(2);
  s.jobs.pop_back();
  const auto vs = CheckInv004({s, external_.applied(), acked_, {}});
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_EQ(vs[0].job_id, 2);
  EXPECT_NE(vs[0].message.find("missing"), std::string::npos);
}

TEST_F(InvariantsTest, Inv004FiresOnSuccessWithoutItsEffect) {
  Snapshot s = CleanRun(1);
  s.effects.clear();
  const auto vs = CheckInv004({s, external_.applied(), acked_, {}});
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_NE(vs[0].message.find("without its effect"), std::string::npos);
}

TEST_F(InvariantsTest, Inv004FiresWhenRecoveryLeftACommittedExecution) {
  acked_.push_back(queue_->Enqueue({})->job_id);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(worker_->Step().has_value());  // Up to COMMITTED.
  worker_->Crash();
  clock_.AdvanceMs(5'000);
  const Snapshot stuck = *queue_->store().ReadSnapshot();
  auto vs = CheckInv004({stuck, external_.applied(), acked_, clock_.NowMs()});
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_NE(vs[0].message.find("still COMMITTED"), std::string::npos);
  // And holds once the reconciler has run.
  ASSERT_EQ(*queue_->Reconcile(), 1);
  const Snapshot fixed = *queue_->store().ReadSnapshot();
  EXPECT_TRUE(CheckAll({fixed, external_.applied(), acked_, clock_.NowMs()}).empty());
}

TEST_F(InvariantsTest, Inv001FiresOnOneProducerRequestBecomingTwoJobs) {
  const Snapshot s = CleanRun(2);
  auto vs = CheckInv001({.snapshot = s,
                         .external = external_.applied(),
                         .acknowledged = acked_,
                         .recovered_at_ms = {},
                         .requests = {{"order-7", 1}, {"order-7", 2}}});
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_NE(vs[0].message.find("producer request 'order-7' became 2 jobs (1, 2)"),
            std::string::npos)
      << vs[0].ToString();
  // The same request answered twice with one job is what a key is for.
  vs = CheckInv001({.snapshot = s,
                    .external = external_.applied(),
                    .acknowledged = acked_,
                    .recovered_at_ms = {},
                    .requests = {{"order-7", 1}, {"order-7", 1}}});
  EXPECT_TRUE(vs.empty());
}

TEST_F(InvariantsTest, Inv001FiresOnOneEffectKeyAppliedByTwoJobs) {
  const Snapshot s = CleanRun(2);
  EffectLog downstream;
  downstream.Apply(
      {.job_id = 1, .key = "default/order-9", .execution_id = 1, .from_handler = true});
  downstream.Apply(
      {.job_id = 2, .key = "default/order-9", .execution_id = 2, .from_handler = true});
  Snapshot no_ledger = s;
  no_ledger.effects.clear();
  const auto vs = CheckInv001({no_ledger, downstream.applied(), acked_, {}});
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_NE(vs[0].message.find("'default/order-9' applied by 2 different jobs"), std::string::npos);
}

// INV_005, each clause on a defect planted in a clean run's records.
TEST_F(InvariantsTest, Inv005HoldsOnAFailedAndAFencedRunThatLeftTheirSignals) {
  acked_.push_back(queue_->Enqueue({.max_attempts = 1})->job_id);
  ASSERT_TRUE(worker_->Step().has_value());  // claim
  clock_.AdvanceMs(2'000);
  ASSERT_EQ(*queue_->Reap(), 1);  // DEAD: its one attempt was lost.
  ASSERT_EQ(worker_->Step()->kind, StepKind::kFenced);
  const Snapshot s = *queue_->store().ReadSnapshot();
  ASSERT_EQ(s.jobs[0].state, JobState::kDead);
  const auto vs = CheckInv005({.snapshot = s,
                               .external = external_.applied(),
                               .acknowledged = acked_,
                               .recovered_at_ms = {},
                               .fenced = worker_->fenced_executions()});
  for (const auto& v : vs) ADD_FAILURE() << v.ToString();

  Snapshot silent = s;
  silent.executions[0].reason.clear();
  silent.jobs[0].last_error.clear();
  std::erase_if(silent.audit, [](const AuditEntry& a) { return a.event == AuditEvent::kFenced; });
  const auto found = CheckInv005({.snapshot = silent,
                                  .external = external_.applied(),
                                  .acknowledged = acked_,
                                  .recovered_at_ms = {},
                                  .fenced = worker_->fenced_executions()});
  ASSERT_EQ(found.size(), 3u);
  EXPECT_NE(found[0].message.find("ended ABORTED without a recorded reason"), std::string::npos);
  EXPECT_NE(found[1].message.find("DEAD without a dead-letter record"), std::string::npos);
  EXPECT_NE(found[2].message.find("refused as fenced, with no fenced or capped record"),
            std::string::npos);
}

// FM_015's divergence: a dead letter whose handler's call the downstream
// system applied. INV_004 names it while the job is DEAD; INV_005 until a
// drill's finding records it; a SUCCEEDED job with the same call is fine.
TEST_F(InvariantsTest, Inv004AndInv005FireOnADeadLetterWhoseCallTheSystemApplied) {
  Snapshot s = CleanRun(1);
  s.effects.clear();
  EffectLog downstream;
  downstream.Apply(
      {.job_id = 1, .key = "default/invoice-7", .execution_id = 1, .from_handler = true});
  EXPECT_TRUE(CheckInv004({s, downstream.applied(), acked_, {}}).empty());
  EXPECT_TRUE(CheckInv005({s, downstream.applied(), acked_, {}}).empty());
  s.jobs[0].state = JobState::kDead;
  s.jobs[0].last_error = "connection reset";
  s.audit.push_back({.seq = 1'000,
                     .job_id = 1,
                     .event = AuditEvent::kDead,
                     .from = "RUNNING",
                     .to = "DEAD",
                     .detail = "connection reset"});
  auto inv4 = CheckInv004({s, downstream.applied(), acked_, {}});
  ASSERT_EQ(inv4.size(), 1u);
  EXPECT_NE(inv4[0].message.find("is DEAD (connection reset), but the downstream system holds"),
            std::string::npos)
      << inv4[0].message;
  auto inv5 = CheckInv005({s, downstream.applied(), acked_, {}});
  ASSERT_EQ(inv5.size(), 1u);
  EXPECT_NE(inv5[0].message.find("no drill recorded the divergence"), std::string::npos);
  s.audit.push_back({.seq = 1'001,
                     .job_id = 1,
                     .event = AuditEvent::kDrill,
                     .from = "DEAD",
                     .to = "DEAD",
                     .detail = "drill: extra"});
  EXPECT_TRUE(CheckInv005({s, downstream.applied(), acked_, {}}).empty());
  EXPECT_EQ(CheckInv004({s, downstream.applied(), acked_, {}}).size(), 1u);  // Still DEAD.
}

TEST_F(InvariantsTest, Inv005FiresOnAnExhaustedBudgetThatWasNotDeadLettered) {
  Snapshot s = CleanRun(1);
  s.jobs[0].state = JobState::kPending;
  s.jobs[0].max_attempts = 1;
  const auto vs = CheckInv005({s, external_.applied(), acked_, {}});
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_NE(vs[0].message.find("used 1 of its 1 attempts and is PENDING"), std::string::npos)
      << vs[0].ToString();
}

TEST(InvariantCatalogTest, EveryInvariantHasANameAndAStatementThatParseBack) {
  EXPECT_EQ(std::size(kAllInvariants), 8u);
  for (Invariant inv : kAllInvariants) {
    EXPECT_FALSE(InvariantStatement(inv).empty()) << inv;
    EXPECT_EQ(ParseInvariant(ToString(inv)), inv);
  }
  EXPECT_EQ(ToString(Invariant::kLiveness), "INV_006");
  EXPECT_EQ(ParseInvariant("inv_004"), Invariant::kRecovery);
  EXPECT_EQ(ParseInvariant("INV_999").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(JoinInvariants({Invariant::kRecovery, Invariant::kOneEffect, Invariant::kRecovery}),
            "INV_001,INV_004");
}

}  // namespace
}  // namespace lab
