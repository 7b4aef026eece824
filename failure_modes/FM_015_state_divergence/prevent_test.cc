// FM_015 prevent, what only it shows. Goal: the operator's drill at 2:00
// finds the dead letter the API holds a charge for, records the finding in
// the job's audit trail before repairing it, and redrives it; the third
// attempt's call is deduplicated by the API and the job ends SUCCEEDED.
// It finds receipt-7 missing at the provider too, records that, and has it
// delivered again: the relay's second delivery, under the same key.
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_015_Prevent = testing::BundleTest;

TEST_P(FM_015_Prevent, TheDrillRecordsTheDivergenceAndRedrivesTheDeadLetter) {
  Snapshot s;
  const RunReport r = Run("FM_015", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  ASSERT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.jobs[0].state, JobState::kSucceeded);
  EXPECT_EQ(s.jobs[1].state, JobState::kSucceeded);
  const auto execs = testing::ExecutionsOf(s, "invoice-7");
  ASSERT_EQ(execs.size(), 3u);
  EXPECT_EQ(execs[2].state, ExecState::kDone);
  EXPECT_EQ(execs[2].leased_at_ms, 120'000);  // Right after the drill.
  // The finding, then the redrive, both at the drill's moment.
  int64_t finding_seq = 0, redrive_seq = 0, missing_seq = 0, redeliver_seq = 0;
  std::vector<TimeMs> delivered_at;
  for (const AuditEntry& a : s.audit) {
    if (a.event == AuditEvent::kDeliver) delivered_at.push_back(a.at_ms);
    if (a.event == AuditEvent::kRedeliver) redeliver_seq = a.seq;
    if (a.event == AuditEvent::kDrill && a.job_id == s.jobs[1].id) {
      missing_seq = a.seq;
      EXPECT_NE(a.detail.find("missing"), std::string::npos) << a.detail;
      EXPECT_NE(a.detail.find("receipts/receipt-7"), std::string::npos) << a.detail;
    } else if (a.event == AuditEvent::kDrill) {
      finding_seq = a.seq;
      EXPECT_EQ(a.at_ms, 120'000);
      EXPECT_NE(a.detail.find("extra"), std::string::npos) << a.detail;
      EXPECT_NE(a.detail.find("default/invoice-7"), std::string::npos) << a.detail;
    }
    if (a.event == AuditEvent::kRedrive) redrive_seq = a.seq;
  }
  EXPECT_GT(finding_seq, 0);
  EXPECT_GT(redrive_seq, finding_seq);
  EXPECT_GT(missing_seq, 0);
  EXPECT_GT(redeliver_seq, missing_seq);
  // Delivered once at the start, and once again right after the drill.
  EXPECT_EQ(delivered_at, (std::vector<TimeMs>{0, 120'000}));
  // The charge's handler made its call itself: only the receipt's intent is in the ledger.
  ASSERT_EQ(s.effects.size(), 1u);
  EXPECT_EQ(s.effects[0].delivery, Delivery::kDelivered);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_015_Prevent);

}  // namespace
}  // namespace lab
