// FM_007 repro, what only it shows. Goal: with fencing off the store
// accepts calls on an execution it had ended, and the commit boundary then
// stops the second effect; with the commit boundary off as well, the
// zombie's effect and B's both land (INV_001): the two guards are
// independent layers.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_007_Repro = testing::BundleTest;

TEST_P(FM_007_Repro, WithoutFencingTheStoreTakesTheZombiesCalls) {
  MarkCheck zombie(Mark::kZombieCallAccepted);
  MarkCheck duplicate(Mark::kCommitDuplicate);
  const RunReport r = Run("FM_007", Mode::kBaseline);
  EXPECT_GE(zombie.hits(), 2u);  // Its commit and its finish.
  EXPECT_TRUE(duplicate.hit());  // B's commit, short-circuited by the boundary.
  EXPECT_FALSE(r.Violated(Invariant::kOneEffect));
}

TEST_P(FM_007_Repro, WithTheCommitBoundaryOffTooTheEffectHappensTwice) {
  FailureMode both = *FindFailureMode("FM_007");
  both.baseline_guards.commit_boundary = false;
  auto r = RunFailureMode(both, Mode::kBaseline, testing::RunUrl(GetParam().kind));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->Violated(Invariant::kOneEffect)) << testing::Describe(*r);
  EXPECT_TRUE(r->Violated(Invariant::kAuditedTransitions));
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_007_Repro);

}  // namespace
}  // namespace lab
