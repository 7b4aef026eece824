// FM_014 prevent, what only it shows. Goal: with the lease cap the store
// renews worker-A's lease up to the job's one-minute timeout and a lease,
// refuses the next heartbeat (audited `capped`), the lease runs out at
// 1:30 and is reaped, and worker-B charges invoice-7 at once: one effect.
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_014_Prevent = testing::BundleTest;

TEST_P(FM_014_Prevent, TheCapEndsTheCutOffWorkersHoldAndTheJobMovesOn) {
  Snapshot s;
  const RunReport r = Run("FM_014", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  const auto invoice = testing::ExecutionsOf(s, "invoice-7");
  ASSERT_EQ(invoice.size(), 2u);
  EXPECT_EQ(invoice[0].worker, "worker-A");
  EXPECT_EQ(invoice[0].state, ExecState::kAborted);
  EXPECT_EQ(invoice[0].lease_expires_at_ms, 90'000);  // One minute and a lease.
  EXPECT_EQ(invoice[0].ended_at_ms, 90'000);
  int capped = 0;
  for (const AuditEntry& a : s.audit) {
    if (a.event != AuditEvent::kCapped) continue;
    ++capped;
    EXPECT_EQ(a.execution_id, invoice[0].id);
    EXPECT_LT(a.at_ms, 90'000);
  }
  EXPECT_GE(capped, 1);
  EXPECT_EQ(invoice[1].worker, "worker-B");
  EXPECT_EQ(invoice[1].state, ExecState::kDone);
  EXPECT_EQ(invoice[1].ended_at_ms, 90'000);
  ASSERT_EQ(s.effects.size(), 1u);
  EXPECT_EQ(s.effects[0].execution_id, invoice[1].id);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_014_Prevent);

}  // namespace
}  // namespace lab
