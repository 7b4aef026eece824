// FM_013 prevent, what only it shows. Goal: with the control plane the
// render runs once, on a lease renewed past its first term though its
// handler never called keep_alive, and the dead worker's lease is reaped
// within a sweep of its expiry, while pool/0 still computes.
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_013_Prevent = testing::BundleTest;

TEST_P(FM_013_Prevent, TheControlPlaneKeepsTheLiveLeaseAndReapsTheDeadOne) {
  Snapshot s;
  const RunReport r = Run("FM_013", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  ASSERT_EQ(s.jobs.size(), 2u);
  const auto render = testing::ExecutionsOf(s, "render-42");
  ASSERT_EQ(render.size(), 1u);
  EXPECT_EQ(render[0].state, ExecState::kDone);
  EXPECT_EQ(render[0].worker, "pool/0");
  EXPECT_EQ(render[0].ended_at_ms, 240'000);
  EXPECT_GT(render[0].lease_expires_at_ms, render[0].leased_at_ms + 30'000);
  const auto thumb = testing::ExecutionsOf(s, "thumb-7");
  ASSERT_EQ(thumb.size(), 2u);
  EXPECT_EQ(thumb[0].state, ExecState::kAborted);
  EXPECT_GE(thumb[0].ended_at_ms, thumb[0].lease_expires_at_ms);
  EXPECT_LE(thumb[0].ended_at_ms, thumb[0].lease_expires_at_ms + 10'000);  // One sweep.
  EXPECT_LT(thumb[0].ended_at_ms, 240'000);                                // While pool/0 computed.
  EXPECT_EQ(thumb[1].state, ExecState::kDone);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_013_Prevent);

}  // namespace
}  // namespace lab
