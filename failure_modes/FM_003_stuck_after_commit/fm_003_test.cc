// FM_003, what only it shows. Goal: guarded, it is the reconciler that
// finishes the job (its branch is taken), with one DONE execution and one
// effect, and the fresh worker finds nothing to run; baseline, the job is
// left RUNNING with its execution COMMITTED.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_003 = testing::BundleTest;

TEST_P(FM_003, TheReconcilerFinishesTheJobWithOneEffect) {
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

TEST_P(FM_003, WithoutTheReconcilerTheJobStaysRunning) {
  MarkCheck reconciled(Mark::kReconciled);
  Snapshot s;
  Run("FM_003", Mode::kBaseline, &s);
  EXPECT_FALSE(reconciled.hit());
  ASSERT_EQ(s.executions.size(), 1u);
  EXPECT_EQ(s.executions[0].state, ExecState::kCommitted);
  EXPECT_EQ(s.jobs[0].state, JobState::kRunning);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_003);

}  // namespace
}  // namespace lab
