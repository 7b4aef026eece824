// FM_006, what only it shows. Goal: guarded, the poison job is
// dead-lettered after exactly its three attempts, each lost with its
// worker, with the reason in last_error, and the routine job then runs;
// baseline, every one of the twelve rounds goes to the poison job (its
// lost attempts not counted) and the routine job is never claimed.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_006 = testing::BundleTest;

TEST_P(FM_006, ThePoisonJobIsDeadLetteredAfterItsAttempts) {
  MarkCheck dead(Mark::kDeadLettered);
  Snapshot s;
  const RunReport r = Run("FM_006", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_EQ(dead.hits(), 1u);
  ASSERT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.jobs[0].state, JobState::kDead);
  EXPECT_EQ(s.jobs[0].attempts, 3);
  EXPECT_NE(s.jobs[0].last_error.find("lease expired"), std::string::npos);
  EXPECT_EQ(s.jobs[1].state, JobState::kSucceeded);
}

TEST_P(FM_006, UncountedCrashesLoopTheSameJobAndStarveTheOther) {
  MarkCheck uncounted(Mark::kLostAttemptNotCounted);
  Snapshot s;
  Run("FM_006", Mode::kBaseline, &s);
  EXPECT_EQ(uncounted.hits(), 12u);
  ASSERT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.jobs[0].attempts, 12);
  EXPECT_EQ(s.jobs[0].state, JobState::kPending);
  EXPECT_EQ(s.jobs[1].attempts, 0);  // Never claimed.
}

TEST_P(FM_006, ARedrivenJobRunsOnceItsBugIsFixed) {
  Snapshot s;
  const RunReport r = Run("FM_006", Mode::kRecover, &s);
  SCOPED_TRACE(testing::Describe(r));
  ASSERT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.jobs[0].state, JobState::kSucceeded);
  EXPECT_EQ(s.jobs[0].attempts, 4);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_006);

}  // namespace
}  // namespace lab
