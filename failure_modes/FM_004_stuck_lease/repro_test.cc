// FM_004 repro, what only it shows. Goal: without the reaper the first
// execution is still IN_PROGRESS on a lease that expired minutes earlier,
// and nothing else ever claimed the job.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_004_Repro = testing::BundleTest;

TEST_P(FM_004_Repro, WithoutTheReaperTheLeaseIsHeldForever) {
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

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_004_Repro);

}  // namespace
}  // namespace lab
