// FM_007, what only it shows. Goal: guarded, the zombie's commit is
// refused for its stale token, the refusal is on the audit trail, and the
// effect is worker-B's. Baseline (fencing off), the store accepted calls
// on an execution it had ended, and the commit boundary then stopped the
// second effect. With the commit boundary off as well, the zombie's effect
// and B's both land (INV_001): the two guards are independent layers.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_007 = testing::BundleTest;

TEST_P(FM_007, TheZombiesCommitIsFencedAndAudited) {
  MarkCheck fenced(Mark::kFencedStaleToken);
  Snapshot s;
  const RunReport r = Run("FM_007", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_TRUE(fenced.hit());
  EXPECT_TRUE(std::any_of(s.audit.begin(), s.audit.end(), [](const AuditEntry& a) {
    return a.event == AuditEvent::kFenced && a.execution_id == 1;
  }));
  ASSERT_EQ(s.effects.size(), 1u);
  EXPECT_EQ(s.effects[0].execution_id, 2);
}

TEST_P(FM_007, WithoutFencingTheStoreTakesTheZombiesCalls) {
  MarkCheck zombie(Mark::kZombieCallAccepted);
  MarkCheck duplicate(Mark::kCommitDuplicate);
  const RunReport r = Run("FM_007", Mode::kBaseline);
  EXPECT_GE(zombie.hits(), 2u);  // Its commit and its finish.
  EXPECT_TRUE(duplicate.hit());  // B's commit, short-circuited by the boundary.
  EXPECT_FALSE(r.Violated(Invariant::kOneEffect));
}

TEST_P(FM_007, WithTheCommitBoundaryOffTooTheEffectHappensTwice) {
  FailureMode both = *FindFailureMode("FM_007");
  both.baseline_guards.commit_boundary = false;
  auto r = RunFailureMode(both, Mode::kBaseline, testing::RunUrl(GetParam().kind));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->Violated(Invariant::kOneEffect)) << testing::Describe(*r);
  EXPECT_TRUE(r->Violated(Invariant::kAuditedTransitions));
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_007);

}  // namespace
}  // namespace lab
