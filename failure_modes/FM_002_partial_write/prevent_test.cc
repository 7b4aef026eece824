// FM_002 prevent, what only it shows. Goal: with one_transaction on, the
// effect and COMMITTED were one transaction, so the process's death right
// after it leaves a committed execution, which the reconciler finishes:
// SUCCEEDED, one DONE execution, one effect, and the split branch never
// taken.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_002_Prevent = testing::BundleTest;

TEST_P(FM_002_Prevent, TheEffectAndItsCommitAreOneWrite) {
  MarkCheck apart(Mark::kEffectApartFromCommit);
  MarkCheck reconciled(Mark::kReconciled);
  Snapshot s;
  const RunReport r = Run("FM_002", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_FALSE(apart.hit());
  EXPECT_TRUE(reconciled.hit());
  ASSERT_EQ(s.jobs.size(), 1u);
  EXPECT_EQ(s.jobs[0].state, JobState::kSucceeded);
  ASSERT_EQ(s.executions.size(), 1u);
  EXPECT_EQ(s.executions[0].state, ExecState::kDone);
  EXPECT_EQ(s.effects.size(), 1u);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_002_Prevent);

}  // namespace
}  // namespace lab
