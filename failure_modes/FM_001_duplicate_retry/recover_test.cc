// FM_001 recover. Goal: a worker that crashes after COMMITTED and before
// DONE loses nothing and duplicates nothing: after a restart (the SQLite
// store reopened from its file) the reconciler finalizes the job, a fresh
// worker finds nothing to redo, and there is still exactly one effect. The
// same run with the reconciler switched off must be caught by INV_004.
#include <gtest/gtest.h>

#include "failure_modes/FM_001_duplicate_retry/scenario.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_001_Recover = testing::ScenarioTest;

TEST_P(FM_001_Recover, ReconcilerFinalizesACommittedJobAfterACrash) {
  const auto run = Run(Fm001RecoverScenario, Guards::All());
  SCOPED_TRACE(run.Report());

  EXPECT_TRUE(run.violations.empty());
  EXPECT_EQ(run.EffectsFor(1), 1u);
  ASSERT_EQ(run.snapshot.executions.size(), 1u);
  EXPECT_EQ(run.snapshot.executions[0].state, ExecState::kDone);
  EXPECT_EQ(run.snapshot.jobs[0].state, JobState::kSucceeded);
  EXPECT_TRUE(run.TraceHas("reconciler", "1 committed execution(s) finalized"));
  EXPECT_TRUE(run.TraceHas("scenario", "worker-B finds nothing to do"));
}

TEST_P(FM_001_Recover, WithoutTheReconcilerTheStuckJobIsDetected) {
  Guards guards = Guards::All();
  guards.reconcile = false;
  const auto run = Run(Fm001RecoverScenario, guards);
  SCOPED_TRACE(run.Report());

  EXPECT_TRUE(run.Violated("INV_004"));
  EXPECT_FALSE(run.Violated("INV_001"));
  EXPECT_EQ(run.snapshot.executions[0].state, ExecState::kCommitted);
  EXPECT_EQ(run.snapshot.jobs[0].state, JobState::kRunning);
}

INSTANTIATE_TEST_SUITE_P(Stores, FM_001_Recover, ::testing::ValuesIn(testing::AllStores()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace lab
