// FM_004 prevent, what only it shows. Goal: it is the reaper that frees
// the job (one expired lease reaped, the dead worker's execution ABORTED
// with its reason), and worker-B then runs it.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_004_Prevent = testing::BundleTest;

TEST_P(FM_004_Prevent, TheReaperFreesTheDeadWorkersJob) {
  MarkCheck reaped(Mark::kLeaseReaped);
  Snapshot s;
  const RunReport r = Run("FM_004", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_EQ(reaped.hits(), 1u);
  ASSERT_EQ(s.executions.size(), 2u);
  EXPECT_EQ(s.executions[0].state, ExecState::kAborted);
  EXPECT_NE(s.executions[0].reason.find("lease expired"), std::string::npos);
  EXPECT_EQ(s.executions[1].worker, "worker-B");
  EXPECT_EQ(s.jobs[0].state, JobState::kSucceeded);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_004_Prevent);

}  // namespace
}  // namespace lab
