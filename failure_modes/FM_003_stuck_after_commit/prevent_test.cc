// FM_003 prevent, what only it shows. Goal: it is the reconciler that
// finishes the job (its branch is taken), with one DONE execution and one
// effect.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_003_Prevent = testing::BundleTest;

TEST_P(FM_003_Prevent, TheReconcilerFinishesTheJobWithOneEffect) {
  MarkCheck reconciled(Mark::kReconciled);
  Snapshot s;
  size_t effects = 0;
  const RunReport r = Run("FM_003", Mode::kGuarded, [&](ScenarioEnv& env) {
    s = *env.queue().store().ReadSnapshot();
    effects = testing::EffectsFor(env, 1);
  });
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_EQ(reconciled.hits(), 1u);
  EXPECT_EQ(effects, 1u);
  ASSERT_EQ(s.executions.size(), 1u);
  EXPECT_EQ(s.executions[0].state, ExecState::kDone);
  EXPECT_EQ(s.jobs[0].state, JobState::kSucceeded);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_003_Prevent);

}  // namespace
}  // namespace lab
