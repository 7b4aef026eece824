// FM_008 prevent, what only it shows. Goal: the lease expires thirty
// seconds after the claim by the store's clock, and worker-B runs the job.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_008_Prevent = testing::BundleTest;

TEST_P(FM_008_Prevent, TheStoresClockSetsTheLeaseWithTheGuard) {
  MarkCheck client(Mark::kLeaseFromClientClock);
  Snapshot s;
  const RunReport r = Run("FM_008", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_FALSE(client.hit());
  ASSERT_EQ(s.executions.size(), 2u);
  EXPECT_EQ(s.executions[0].lease_expires_at_ms - s.executions[0].leased_at_ms, 30'000);
  EXPECT_EQ(s.jobs[0].state, JobState::kSucceeded);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_008_Prevent);

}  // namespace
}  // namespace lab
