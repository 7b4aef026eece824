// Goal: the whole-state check finds nothing in the records of a clean run
// and names each planted inconsistency: an orphan execution, a second
// ledger effect under the commit boundary, a backwards audit sequence, and
// an illegal transition while fencing is on (but not while it is off,
// when the engine records illegal moves on purpose for INV_003 to find).
// And the one-call audit check finds every change of a job's life audited,
// and names each planted gap.
#include "check/consistency.h"

#include <gtest/gtest.h>

#include "queue/worker.h"

namespace lab {
namespace {

Snapshot CleanRun() {
  ManualClock clock(0);
  auto queue = std::move(*Queue::Open("memory:", clock));
  EffectLog sink;
  Worker w(
      *queue, [](const JobContext&) { return HandlerResult::Ok("e"); },
      WorkerOptions{.lease_ms = 1'000}, &sink);
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(queue->Enqueue({}).has_value());
  while (*w.ProcessOne()) {
  }
  return *queue->store().ReadSnapshot();
}

bool Mentions(const std::vector<std::string>& problems, std::string_view needle) {
  for (const auto& p : problems) {
    if (p.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(ConsistencyTest, ACleanRunIsConsistent) {
  const auto problems = FindInconsistencies(CleanRun(), Guards::All());
  for (const auto& p : problems) ADD_FAILURE() << p;
}

TEST(ConsistencyTest, EachPlantedInconsistencyIsNamed) {
  Snapshot s = CleanRun();
  s.executions[1].job_id = 99;
  EXPECT_TRUE(Mentions(FindInconsistencies(s, Guards::None()), "belongs to no job (99)"));

  s = CleanRun();
  s.effects.push_back(s.effects[0]);
  EXPECT_TRUE(Mentions(FindInconsistencies(s, Guards::All()), "2 ledger effects"));
  EXPECT_FALSE(Mentions(FindInconsistencies(s, *Guards::Parse("-commit_boundary")), "ledger"));

  s = CleanRun();
  s.audit[3].seq = 1;
  EXPECT_TRUE(Mentions(FindInconsistencies(s, Guards::None()), "audit seq 1 after"));

  s = CleanRun();
  for (auto& a : s.audit) {
    if (a.event == AuditEvent::kBegin) a.to = "DONE";
  }
  EXPECT_TRUE(Mentions(FindInconsistencies(s, Guards::All()), "with fencing on"));
  EXPECT_FALSE(Mentions(FindInconsistencies(s, *Guards::Parse("-fencing")), "fencing"));
}

// Audit completeness, one call at a time: a store's own calls leave every
// change audited (the differential test runs this after every call of
// random sequences on every backend); each planted gap is named.
class StepAuditTest : public ::testing::Test {
 protected:
  Snapshot Snap() { return *store_->ReadSnapshot(); }
  // Runs `call` and returns the problems its step shows.
  template <typename F>
  std::vector<std::string> Step(F call, bool refused = false) {
    const Snapshot before = Snap();
    call();
    return FindUnauditedChanges(before, Snap(), clock_.NowMs(), refused);
  }

  ManualClock clock_{1'000};
  std::unique_ptr<Store> store_ = std::move(*OpenStore("memory:", clock_, {}));
};

TEST_F(StepAuditTest, EveryCallOfAJobsLifeIsAuditedCompletely) {
  Lease lease;
  auto clean = [](const std::vector<std::string>& problems) {
    for (const auto& p : problems) ADD_FAILURE() << p;
  };
  clean(Step([&] { ASSERT_TRUE(store_->Enqueue({.max_attempts = 1}).has_value()); }));
  clean(Step([&] { lease = store_->Claim({.worker = "w", .begin = true})->at(0); }));
  clean(Step([&] {
    ASSERT_TRUE(store_->Fail({lease.execution_id, lease.token}, {.error = "x"}));
  }));
  clean(Step([&] { ASSERT_TRUE(store_->Redrive(lease.job.id).has_value()); }));
  clean(Step([&] { lease = store_->Claim({.worker = "w", .begin = true})->at(0); }));
  clean(Step([&] { ASSERT_TRUE(store_->Commit({lease.execution_id, lease.token}, Effect{"e"})); }));
  // A stale call is refused: its only entry is the refusal signal.
  clean(Step([&] { EXPECT_FALSE(store_->Heartbeat({lease.execution_id, 1}, 1'000)); }, true));
  clock_.AdvanceMs(60'000);
  clean(Step([&] { EXPECT_EQ(store_->Reconcile(), 1); }));
  clean(Step([&] { EXPECT_EQ(store_->Prune({.retain = 0})->jobs, 0); }));
}

TEST_F(StepAuditTest, EachPlantedGapIsNamed) {
  ASSERT_TRUE(store_->Enqueue({}).has_value());
  const Snapshot before = Snap();
  ASSERT_TRUE(store_->Claim({.worker = "w", .begin = true}).has_value());
  const Snapshot after = Snap();
  ASSERT_TRUE(FindUnauditedChanges(before, after, clock_.NowMs(), false).empty());

  // The begin's entry lost: the execution's move to IN_PROGRESS is unaudited.
  Snapshot gap = after;
  std::erase_if(gap.audit, [](const AuditEntry& a) { return a.event == AuditEvent::kBegin; });
  const auto missing = FindUnauditedChanges(before, gap, clock_.NowMs(), false);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_NE(missing[0].find("LEASED -> IN_PROGRESS with no audit entry"), std::string::npos)
      << missing[0];
  // The job's claim recorded by the wrong event.
  Snapshot wrong = after;
  for (auto& a : wrong.audit) {
    if (a.event == AuditEvent::kClaim && a.execution_id == 0) a.event = AuditEvent::kRedrive;
  }
  EXPECT_TRUE(Mentions(FindUnauditedChanges(before, wrong, clock_.NowMs(), false),
                       "records redrive PENDING -> RUNNING"));
  // An entry dated otherwise than its call.
  EXPECT_TRUE(Mentions(FindUnauditedChanges(before, after, clock_.NowMs() + 1, false), "dated"));
  // A move recorded that did not happen: the records say the job is still PENDING.
  Snapshot phantom = after;
  phantom.jobs[0].state = JobState::kPending;
  EXPECT_TRUE(Mentions(FindUnauditedChanges(before, phantom, clock_.NowMs(), false),
                       "job 1 moved RUNNING -> PENDING with no audit entry"));
  // The call said refused, yet it changed the records.
  EXPECT_TRUE(Mentions(FindUnauditedChanges(before, after, clock_.NowMs(), true),
                       "a refused call changed"));
}

}  // namespace
}  // namespace lab
