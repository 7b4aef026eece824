// FM_005 repro, what only it shows. Goal: without a retry budget or a
// circuit breaker the brownout's timeouts turn into a storm the payment API
// never gets out of: nothing is charged after the brownout (every answer
// comes after its caller gave up), the threads keep calling, and the
// backlog never drains.
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_005_Repro = testing::BundleTest;

TEST_P(FM_005_Repro, WithoutABudgetOrABreakerTheStormOutlivesTheBrownout) {
  Snapshot s;
  const RunReport r = Run("FM_005", Mode::kBaseline, &s);
  SCOPED_TRACE(testing::Describe(r));
  ASSERT_EQ(s.jobs.size(), 180u);
  int charged = 0;
  for (const Job& j : s.jobs) {
    if (j.state != JobState::kSucceeded) continue;
    ++charged;
    EXPECT_LT(j.finished_at_ms, 12'000) << "job " << j.id << " was charged during or after it";
  }
  EXPECT_LE(charged, 25);  // The first ten seconds' orders, and nothing since.
  // Sixteen threads calling once a second for a minute and a half: each
  // call an execution, none of them held back.
  EXPECT_GE(s.executions.size(), 1'200u);
  for (const AuditEntry& a : s.audit) EXPECT_NE(a.event, AuditEvent::kDefer);
  EXPECT_TRUE(r.Violated(Invariant::kBoundedAmplification));
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_005_Repro);

}  // namespace
}  // namespace lab
