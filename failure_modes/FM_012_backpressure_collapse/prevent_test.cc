// FM_012 prevent, what only it shows. Goal: with admission control the
// queue holds only what the threads can serve in time; the excess is
// refused at the door (the producer told at once, nothing written), and
// every report the queue accepted is rendered before its deadline, at the
// threads' full rate for the whole minute.
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_012_Prevent = testing::BundleTest;

TEST_P(FM_012_Prevent, ExcessIsRefusedAndEveryAcceptedReportIsInTime) {
  Snapshot s;
  const RunReport r = Run("FM_012", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  // About eight a second accepted for a minute, plus what fits in the queue.
  EXPECT_GE(s.jobs.size(), 480u);
  EXPECT_LE(s.jobs.size(), 540u);
  int in_time_after_ten_seconds = 0;
  for (const Job& j : s.jobs) {
    EXPECT_NE(j.state, JobState::kPending) << "job " << j.id;
    EXPECT_NE(j.state, JobState::kRunning) << "job " << j.id;
    if (j.state != JobState::kSucceeded) continue;
    EXPECT_LE(j.finished_at_ms, j.deadline_at_ms) << "job " << j.id;
    if (j.finished_at_ms >= 10'000 && j.finished_at_ms < 60'000) ++in_time_after_ten_seconds;
  }
  EXPECT_GE(in_time_after_ten_seconds, 390);  // The threads' 8 a second, from 0:10 to 1:00.
  // The refusals are the producers' to see; the record has only what was accepted.
  EXPECT_TRUE(std::none_of(s.audit.begin(), s.audit.end(),
                           [](const AuditEntry& a) { return a.event == AuditEvent::kFail; }));
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_012_Prevent);

}  // namespace
}  // namespace lab
