// FM_006 recover, what only it shows. Goal: the dead-lettered job,
// redriven once its bug is fixed, succeeds on its fourth attempt.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_006_Recover = testing::BundleTest;

TEST_P(FM_006_Recover, ARedrivenJobRunsOnceItsBugIsFixed) {
  Snapshot s;
  const RunReport r = Run("FM_006", Mode::kRecover, &s);
  SCOPED_TRACE(testing::Describe(r));
  ASSERT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.jobs[0].state, JobState::kSucceeded);
  EXPECT_EQ(s.jobs[0].attempts, 4);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_006_Recover);

}  // namespace
}  // namespace lab
