// FM_006 prevent, what only it shows. Goal: the poison job is
// dead-lettered after exactly its three attempts, each lost with its
// worker, with the reason in last_error, and the routine job then runs.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_006_Prevent = testing::BundleTest;

TEST_P(FM_006_Prevent, ThePoisonJobIsDeadLetteredAfterItsAttempts) {
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

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_006_Prevent);

}  // namespace
}  // namespace lab
