// FM_006 repro, what only it shows. Goal: with lost attempts uncounted,
// every one of the twelve rounds goes to the poison job and the routine
// job is never claimed.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_006_Repro = testing::BundleTest;

TEST_P(FM_006_Repro, UncountedCrashesLoopTheSameJobAndStarveTheOther) {
  MarkCheck uncounted(Mark::kLostAttemptNotCounted);
  Snapshot s;
  Run("FM_006", Mode::kBaseline, &s);
  EXPECT_EQ(uncounted.hits(), 12u);
  ASSERT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.jobs[0].attempts, 12);
  EXPECT_EQ(s.jobs[0].state, JobState::kPending);
  EXPECT_EQ(s.jobs[1].attempts, 0);  // Never claimed.
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_006_Repro);

}  // namespace
}  // namespace lab
