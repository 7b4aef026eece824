// FM_001 repro. Goal: with the commit boundary off (every other guard on),
// a lease timeout makes two workers apply the same job's effect, and the
// checkers detect it: INV_001 (two effects), INV_002 (an effect from an
// execution that never committed), INV_004 (a job done with its effect
// duplicated). Method: the deterministic FM_001 scenario, on each store.
#include <gtest/gtest.h>

#include "failure_modes/FM_001_duplicate_retry/scenario.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_001_Repro = testing::ScenarioTest;

TEST_P(FM_001_Repro, LeaseTimeoutWithoutCommitBoundaryAppliesTheEffectTwice) {
  const FailureMode fm = Fm001DuplicateRetry();
  ASSERT_FALSE(fm.baseline_guards.commit_boundary);
  const auto run = Run(Fm001Scenario, fm.baseline_guards);
  SCOPED_TRACE(run.Report());

  EXPECT_EQ(run.EffectsFor(1), 2u);
  EXPECT_TRUE(run.Violated("INV_001"));
  EXPECT_TRUE(run.Violated("INV_002"));
  EXPECT_TRUE(run.Violated("INV_004"));
  // Fencing is still on, so every recorded transition stays legal: the
  // damage is exactly the one the commit boundary exists to prevent.
  EXPECT_FALSE(run.Violated("INV_003"));
  EXPECT_TRUE(run.TraceHas("worker-A", "applied outside the commit"));
  EXPECT_TRUE(run.TraceHas("worker-B", "applied outside the commit"));
}

TEST_P(FM_001_Repro, RunnerReportsTheBaselineAsReproduced) {
  ExpectRunnerVerdict("FM_001", Mode::kBaseline, "reproduced");
}

INSTANTIATE_TEST_SUITE_P(Stores, FM_001_Repro, ::testing::ValuesIn(testing::AllStores()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace lab
