// FM_008, what only it shows. Goal: baseline, the lease was timed by the
// worker's clock (the engine's branch is taken) and expires two hours and
// thirty seconds after the claim; guarded, thirty seconds after it by the
// store's clock, and worker-B runs the job.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_008 = testing::BundleTest;

TEST_P(FM_008, TheWorkersClockSetsTheLeaseWithoutTheGuard) {
  MarkCheck client(Mark::kLeaseFromClientClock);
  Snapshot s;
  Run("FM_008", Mode::kBaseline, &s);
  EXPECT_EQ(client.hits(), 1u);
  ASSERT_EQ(s.executions.size(), 1u);
  EXPECT_EQ(s.executions[0].lease_expires_at_ms - s.executions[0].leased_at_ms,
            2 * 3'600'000 + 30'000);
}

TEST_P(FM_008, TheStoresClockSetsTheLeaseWithTheGuard) {
  MarkCheck client(Mark::kLeaseFromClientClock);
  Snapshot s;
  const RunReport r = Run("FM_008", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_FALSE(client.hit());
  ASSERT_EQ(s.executions.size(), 2u);
  EXPECT_EQ(s.executions[0].lease_expires_at_ms - s.executions[0].leased_at_ms, 30'000);
  EXPECT_EQ(s.jobs[0].state, JobState::kSucceeded);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_008);

}  // namespace
}  // namespace lab
