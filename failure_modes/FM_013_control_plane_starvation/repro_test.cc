// FM_013 repro, what only it shows. Goal: without a control plane the
// render's live lease is reaped while its thread computes, that very
// execution's commit is later fenced, the job is taken from thread to
// thread and never finishes; and the dead worker's lease is not reaped
// until a job thread comes free, three minutes after it expired.
#include "failure_modes/fm_test_support.h"
#include "store/state_machine.h"

namespace lab {
namespace {

using FM_013_Repro = testing::BundleTest;

TEST_P(FM_013_Repro, WithoutAControlPlaneALiveLeaseIsTakenAndTheDeadOneWaits) {
  Snapshot s;
  const RunReport r = Run("FM_013", Mode::kBaseline, &s);
  SCOPED_TRACE(testing::Describe(r));
  const auto render = testing::ExecutionsOf(s, "render-42");
  ASSERT_GE(render.size(), 8u);  // Four minutes each, taken over every time.
  EXPECT_TRUE(IsLive(render.back().state));
  // The first: reaped while pool/0 computed (30 s in), and its commit,
  // four minutes in, refused as fenced.
  EXPECT_EQ(render[0].state, ExecState::kAborted);
  EXPECT_NE(render[0].reason.find("lease expired"), std::string::npos) << render[0].reason;
  EXPECT_EQ(render[0].ended_at_ms, 30'000);
  bool fenced = false;
  for (const AuditEntry& a : s.audit) {
    fenced = fenced || (a.execution_id == render[0].id && a.event == AuditEvent::kFenced);
  }
  EXPECT_TRUE(fenced) << "the first execution's late commit left no fenced entry";
  EXPECT_EQ(s.effects.size(), 1u);  // The thumbnail's: the render never committed.
  // The dead worker's lease expired at 1:15 and was reaped only when
  // pool/0's handler returned, at 4:00.
  const auto thumb = testing::ExecutionsOf(s, "thumb-7");
  ASSERT_EQ(thumb.size(), 2u);
  EXPECT_EQ(thumb[0].lease_expires_at_ms, 75'000);
  EXPECT_GE(thumb[0].ended_at_ms, 240'000);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_013_Repro);

}  // namespace
}  // namespace lab
