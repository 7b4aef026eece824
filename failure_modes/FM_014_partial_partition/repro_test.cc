// FM_014 repro, what only it shows. Goal: without a lease cap the worker
// cut off from the payments API keeps invoice-7 for the whole run: one
// execution, still IN_PROGRESS at 10:00 on a lease its heartbeats renewed
// to the end, never refused; worker-B, which could charge it, never gets it.
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_014_Repro = testing::BundleTest;

TEST_P(FM_014_Repro, WithoutALeaseCapTheCutOffWorkerKeepsTheJobForEver) {
  Snapshot s;
  const RunReport r = Run("FM_014", Mode::kBaseline, &s);
  SCOPED_TRACE(testing::Describe(r));
  const auto invoice = testing::ExecutionsOf(s, "invoice-7");
  ASSERT_EQ(invoice.size(), 1u);
  EXPECT_EQ(invoice[0].worker, "worker-A");
  EXPECT_EQ(invoice[0].state, ExecState::kInProgress);
  EXPECT_GT(invoice[0].lease_expires_at_ms, 10 * 60'000);  // Renewed to the end.
  for (const AuditEntry& a : s.audit) EXPECT_NE(a.event, AuditEvent::kCapped);
  EXPECT_TRUE(s.effects.empty());
  EXPECT_TRUE(r.Violated(Invariant::kLiveness));
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_014_Repro);

}  // namespace
}  // namespace lab
