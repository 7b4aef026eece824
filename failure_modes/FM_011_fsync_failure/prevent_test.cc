// FM_011 prevent, what only it shows. Goal: with log_recovery on, the
// reopen after the failed sync folded the log into the database (the
// guard's branch), so the power loss took back nothing acknowledged: both
// jobs are SUCCEEDED with one payment each, and the one enqueue whose
// commit failed is there whole or not at all.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_011_Prevent = testing::BundleTest;

TEST_P(FM_011_Prevent, TheReopenFoldsTheLogAndNothingAcknowledgedIsLost) {
  MarkCheck recovered(Mark::kLogRecovered);
  DiskStats disk;
  Snapshot s;
  const RunReport r = Run("FM_011", Mode::kGuarded, &s, &disk);
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_GE(recovered.hits(), 1u);
  EXPECT_EQ(disk.failed_syncs, 1);
  EXPECT_EQ(disk.crashes, 1);
  int succeeded = 0;
  for (const Job& j : s.jobs) {
    if (j.key == std::optional<std::string>("order-111")) {
      EXPECT_EQ(j.state, JobState::kPending) << "the unknown enqueue, if kept, is whole";
    } else {
      EXPECT_EQ(j.state, JobState::kSucceeded) << *j.key;
      ++succeeded;
    }
  }
  EXPECT_EQ(succeeded, 2);
}

LAB_INSTANTIATE_ON_THE_SIMULATED_DISK(FM_011_Prevent);

}  // namespace
}  // namespace lab
