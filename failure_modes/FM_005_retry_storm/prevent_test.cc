// FM_005 prevent, what only it shows. Goal: with the retry budget and the
// circuit breaker the brownout sees a trickle of calls, every held job
// waits unrun (its attempt given back) rather than failing, each guard
// holding some back, and once the API is back every order is charged, the
// last of them soon after it arrives.
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_005_Prevent = testing::BundleTest;

TEST_P(FM_005_Prevent, TheBudgetAndTheBreakerKeepCallsToATrickleAndTheBacklogDrains) {
  Snapshot s;
  const RunReport r = Run("FM_005", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  ASSERT_EQ(s.jobs.size(), 180u);
  const std::set<ExecutionId> deferred = DeferredExecutions(s);
  EXPECT_FALSE(deferred.empty());
  // Each deferral is audited (the execution's entry) with the guard that made it.
  int by_breaker = 0, by_budget = 0;
  for (const AuditEntry& a : s.audit) {
    if (a.event != AuditEvent::kDefer || a.execution_id == 0) continue;
    by_breaker += a.detail.find("circuit breaker open") != std::string::npos ? 1 : 0;
    by_budget += a.detail.find("retry budget spent") != std::string::npos ? 1 : 0;
  }
  EXPECT_GT(by_breaker, 0);
  EXPECT_GT(by_budget, 0);
  EXPECT_EQ(by_breaker + by_budget, static_cast<int>(deferred.size()));
  // Calls (executions not held back): 180 first attempts and fewer than
  // a hundred retries, against more than 1,200 calls without the guards.
  EXPECT_LE(s.executions.size() - deferred.size(), 180u + 100u);
  for (const Job& j : s.jobs) {
    EXPECT_EQ(j.state, JobState::kSucceeded) << "job " << j.id;
    EXPECT_LE(j.AttemptsUsed(), 10) << "job " << j.id;  // Held retries gave their attempts back.
    // Orders that came once the backlog had drained were charged at once.
    if (j.created_at_ms >= 80'000) {
      EXPECT_LE(j.finished_at_ms, j.created_at_ms + 1'000) << "job " << j.id;
    }
  }
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_005_Prevent);

}  // namespace
}  // namespace lab
