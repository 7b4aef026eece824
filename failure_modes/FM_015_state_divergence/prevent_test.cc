// FM_015 prevent, what only it shows. Goal: the operator's drill at 2:00
// finds the dead letter the API holds a charge for, records the finding in
// the job's audit trail before repairing it, and redrives it; the third
// attempt's call is deduplicated by the API and the job ends SUCCEEDED.
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_015_Prevent = testing::BundleTest;

TEST_P(FM_015_Prevent, TheDrillRecordsTheDivergenceAndRedrivesTheDeadLetter) {
  Snapshot s;
  const RunReport r = Run("FM_015", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  ASSERT_EQ(s.jobs.size(), 1u);
  EXPECT_EQ(s.jobs[0].state, JobState::kSucceeded);
  const auto execs = testing::ExecutionsOf(s, "invoice-7");
  ASSERT_EQ(execs.size(), 3u);
  EXPECT_EQ(execs[2].state, ExecState::kDone);
  EXPECT_EQ(execs[2].leased_at_ms, 120'000);  // Right after the drill.
  // The finding, then the redrive, both at the drill's moment.
  int64_t finding_seq = 0, redrive_seq = 0;
  for (const AuditEntry& a : s.audit) {
    if (a.event == AuditEvent::kDrill) {
      finding_seq = a.seq;
      EXPECT_EQ(a.at_ms, 120'000);
      EXPECT_NE(a.detail.find("extra"), std::string::npos) << a.detail;
      EXPECT_NE(a.detail.find("default/invoice-7"), std::string::npos) << a.detail;
    }
    if (a.event == AuditEvent::kRedrive) redrive_seq = a.seq;
  }
  EXPECT_GT(finding_seq, 0);
  EXPECT_GT(redrive_seq, finding_seq);
  EXPECT_TRUE(s.effects.empty());  // The handler made its call itself: nothing in the ledger.
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_015_Prevent);

}  // namespace
}  // namespace lab
