// FM_001, what only it shows. Goal: without the commit boundary both
// workers apply the effect themselves (the engine's "outside the commit"
// branch is taken twice, and the job's effect counts two); with it, the one
// effect is the second worker's, in the ledger, and the stalled worker's
// late commit is refused by its stale token. The catalogue suite already
// judges the invariants; this judges the mechanism.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_001 = testing::BundleTest;

TEST_P(FM_001, WithoutTheBoundaryBothWorkersApplyTheEffect) {
  MarkCheck outside(Mark::kEffectOutsideCommit);
  size_t effects = 0;
  const RunReport r = Run("FM_001", Mode::kBaseline,
                          [&](ScenarioEnv& env) { effects = testing::EffectsFor(env, 1); });
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_EQ(effects, 2u);
  EXPECT_EQ(outside.hits(), 2u);
  // Fencing is still on, so every recorded transition stays legal.
  EXPECT_FALSE(r.Violated(Invariant::kAuditedTransitions));
}

TEST_P(FM_001, WithTheBoundaryTheStalledWorkersCommitIsFenced) {
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

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_001);

}  // namespace
}  // namespace lab
