// FM_001 prevent. Goal: with every guard on, the same lease timeout ends
// with exactly one effect, recorded in the ledger with COMMITTED; the stalled
// worker's late commit is fenced; every invariant holds. Method: the
// deterministic FM_001 scenario, on each store.
#include <gtest/gtest.h>

#include "failure_modes/FM_001_duplicate_retry/scenario.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_001_Prevent = testing::ScenarioTest;

TEST_P(FM_001_Prevent, CommitBoundaryKeepsOneEffectAndEveryInvariantHolds) {
  const auto run = Run(Fm001Scenario, Guards::All());
  SCOPED_TRACE(run.Report());

  EXPECT_TRUE(run.violations.empty());
  EXPECT_EQ(run.EffectsFor(1), 1u);
  ASSERT_EQ(run.snapshot.effects.size(), 1u);
  EXPECT_EQ(run.snapshot.effects[0].key, "default/order-42");
  EXPECT_TRUE(run.env->effects().applied().empty());
  // The effect belongs to worker-B's execution (token 2).
  const auto& execs = run.snapshot.executions;
  ASSERT_EQ(execs.size(), 2u);
  EXPECT_EQ(run.snapshot.effects[0].execution_id, execs[1].id);
  EXPECT_EQ(execs[0].state, ExecState::kAborted);
  EXPECT_EQ(execs[1].state, ExecState::kDone);
  EXPECT_TRUE(run.TraceHas("worker-A", "fenced"));
  EXPECT_EQ(run.snapshot.jobs[0].state, JobState::kSucceeded);
}

TEST_P(FM_001_Prevent, RunnerReportsTheGuardedRunAsHeld) {
  ExpectRunnerVerdict("fm_001", Mode::kGuarded, "held");
}

INSTANTIATE_TEST_SUITE_P(Stores, FM_001_Prevent, ::testing::ValuesIn(testing::AllStores()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace lab
