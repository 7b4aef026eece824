// FM_008 repro, what only it shows. Goal: without the guard the lease is
// timed by the worker's clock (the engine's branch is taken) and expires
// two hours and thirty seconds after the claim.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_008_Repro = testing::BundleTest;

TEST_P(FM_008_Repro, TheWorkersClockSetsTheLeaseWithoutTheGuard) {
  MarkCheck client(Mark::kLeaseFromClientClock);
  Snapshot s;
  Run("FM_008", Mode::kBaseline, &s);
  EXPECT_EQ(client.hits(), 1u);
  ASSERT_EQ(s.executions.size(), 1u);
  EXPECT_EQ(s.executions[0].lease_expires_at_ms - s.executions[0].leased_at_ms,
            2 * 3'600'000 + 30'000);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_008_Repro);

}  // namespace
}  // namespace lab
