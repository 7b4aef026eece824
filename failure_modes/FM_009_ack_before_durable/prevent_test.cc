// FM_009 prevent, what only it shows. Goal: with sync_before_ack on, every
// commit was synced before its call returned, so after the power loss the
// finished job is SUCCEEDED with its one effect and the queued one is
// PENDING, in a file that passes its integrity check.
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_009_Prevent = testing::BundleTest;

TEST_P(FM_009_Prevent, EveryAcknowledgedCallSurvivesThePowerLoss) {
  DiskStats disk;
  Snapshot s;
  const RunReport r = Run("FM_009", Mode::kGuarded, &s, &disk);
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_EQ(disk.crashes, 1);
  ASSERT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.jobs[0].state, JobState::kSucceeded);
  EXPECT_EQ(s.jobs[1].state, JobState::kPending);
  EXPECT_EQ(s.effects.size(), 1u);
}

LAB_INSTANTIATE_ON_THE_SIMULATED_DISK(FM_009_Prevent);

}  // namespace
}  // namespace lab
