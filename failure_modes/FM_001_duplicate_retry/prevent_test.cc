// FM_001 prevent, what only it shows. Goal: with the commit boundary the
// one effect is the second worker's, in the ledger, and the stalled
// worker's late commit is refused by its stale token.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_001_Prevent = testing::BundleTest;

TEST_P(FM_001_Prevent, WithTheBoundaryTheStalledWorkersCommitIsFenced) {
  MarkCheck fenced(Mark::kFencedStaleToken);
  Snapshot s;
  const RunReport r = Run("FM_001", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_TRUE(fenced.hit());
  ASSERT_EQ(s.effects.size(), 1u);
  EXPECT_EQ(s.effects[0].key, "default/order-42");
  ASSERT_EQ(s.executions.size(), 2u);
  EXPECT_EQ(s.effects[0].execution_id, s.executions[1].id);
  EXPECT_EQ(s.executions[0].state, ExecState::kAborted);
  EXPECT_EQ(s.executions[1].state, ExecState::kDone);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_001_Prevent);

}  // namespace
}  // namespace lab
