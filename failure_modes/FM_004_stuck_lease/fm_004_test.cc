// FM_004, what only it shows. Goal: guarded, it is the reaper that frees
// the job (one expired lease reaped, the dead worker's execution ABORTED
// with its reason) and worker-B then runs it; baseline, the first
// execution is still LEASED or IN_PROGRESS on a lease that expired ten
// minutes earlier, and nothing else ever claimed the job.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_004 = testing::BundleTest;

TEST_P(FM_004, TheReaperFreesTheDeadWorkersJob) {
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

TEST_P(FM_004, WithoutTheReaperTheLeaseIsHeldForever) {
  MarkCheck reaped(Mark::kLeaseReaped);
  Snapshot s;
  TimeMs now = 0;
  Run("FM_004", Mode::kBaseline, [&](ScenarioEnv& env) {
    s = *env.queue().store().ReadSnapshot();
    now = env.clock().NowMs();
  });
  EXPECT_FALSE(reaped.hit());
  ASSERT_EQ(s.executions.size(), 1u);
  EXPECT_EQ(s.executions[0].state, ExecState::kInProgress);
  EXPECT_LT(s.executions[0].lease_expires_at_ms + 9 * 60'000, now);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_004);

}  // namespace
}  // namespace lab
