// FM_003 repro, what only it shows. Goal: without the reconciler the job
// is left RUNNING with its execution COMMITTED, and the reconciler's
// branch is never taken.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_003_Repro = testing::BundleTest;

TEST_P(FM_003_Repro, WithoutTheReconcilerTheJobStaysRunning) {
  MarkCheck reconciled(Mark::kReconciled);
  Snapshot s;
  Run("FM_003", Mode::kBaseline, &s);
  EXPECT_FALSE(reconciled.hit());
  ASSERT_EQ(s.executions.size(), 1u);
  EXPECT_EQ(s.executions[0].state, ExecState::kCommitted);
  EXPECT_EQ(s.jobs[0].state, JobState::kRunning);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_003_Repro);

}  // namespace
}  // namespace lab
