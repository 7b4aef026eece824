// FM_015 repro, what only it shows. Goal: without a drill the queue keeps
// invoice-7 as a dead letter ("connection reset") while the payments API
// holds its one charge, and receipt-7 as delivered while the provider lost
// it in its restore; nothing in the audit trail says either disagrees.
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_015_Repro = testing::BundleTest;

TEST_P(FM_015_Repro, WithoutADrillTheDeadLetterAndTheChargeDisagreeSilently) {
  Snapshot s;
  const RunReport r = Run("FM_015", Mode::kBaseline, &s);
  SCOPED_TRACE(testing::Describe(r));
  ASSERT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.jobs[0].state, JobState::kDead);
  EXPECT_NE(s.jobs[0].last_error.find("connection reset"), std::string::npos);
  EXPECT_EQ(testing::ExecutionsOf(s, "invoice-7").size(), 2u);  // Both calls applied once.
  // The receipt: SUCCEEDED, its intent delivered and acknowledged once.
  EXPECT_EQ(s.jobs[1].state, JobState::kSucceeded);
  ASSERT_EQ(s.effects.size(), 1u);
  EXPECT_EQ(s.effects[0].key, "receipts/receipt-7");
  EXPECT_EQ(s.effects[0].delivery, Delivery::kDelivered);
  int deliveries = 0;
  for (const AuditEntry& a : s.audit) {
    EXPECT_NE(a.event, AuditEvent::kDrill);
    EXPECT_NE(a.event, AuditEvent::kRedeliver);
    deliveries += a.event == AuditEvent::kDeliver ? 1 : 0;
  }
  EXPECT_EQ(deliveries, 1);
  EXPECT_TRUE(r.Violated(Invariant::kRecovery));
  EXPECT_TRUE(r.Violated(Invariant::kDetectable));
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_015_Repro);

}  // namespace
}  // namespace lab
