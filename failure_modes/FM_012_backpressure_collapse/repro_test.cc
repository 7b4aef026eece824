// FM_012 repro, what only it shows. Goal: without admission control the
// overload is queued instead of refused: the queue grows without bound,
// after the first seconds every report starts past its deadline, and the
// threads, busy the whole minute, render almost nothing anyone still waits for.
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_012_Repro = testing::BundleTest;

TEST_P(FM_012_Repro, TheQueueTakesEverythingAndServesItTooLate) {
  Snapshot s;
  const RunReport r = Run("FM_012", Mode::kBaseline, &s);
  SCOPED_TRACE(testing::Describe(r));
  ASSERT_EQ(s.jobs.size(), 720u);  // Nothing refused.
  int in_time_after_ten_seconds = 0, late = 0;
  for (const Job& j : s.jobs) {
    ASSERT_EQ(j.state, JobState::kSucceeded) << "job " << j.id;  // Every one run ...
    if (j.finished_at_ms > j.deadline_at_ms) {
      ++late;  // ... most of them for nobody.
    } else if (j.finished_at_ms >= 10'000) {
      ++in_time_after_ten_seconds;
    }
  }
  EXPECT_GE(late, 600);
  EXPECT_LE(in_time_after_ten_seconds, 40);  // Against 400 in those 50 s with the guard.
  EXPECT_TRUE(r.Violated(Invariant::kBoundedLatency));
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_012_Repro);

}  // namespace
}  // namespace lab
