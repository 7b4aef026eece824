// FM_007 prevent, what only it shows. Goal: the zombie's commit is refused
// for its stale token, the refusal is on the audit trail, and the effect is
// worker-B's.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_007_Prevent = testing::BundleTest;

TEST_P(FM_007_Prevent, TheZombiesCommitIsFencedAndAudited) {
  MarkCheck fenced(Mark::kFencedStaleToken);
  Snapshot s;
  const RunReport r = Run("FM_007", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_TRUE(fenced.hit());
  EXPECT_TRUE(std::any_of(s.audit.begin(), s.audit.end(), [](const AuditEntry& a) {
    return a.event == AuditEvent::kFenced && a.execution_id == 1;
  }));
  ASSERT_EQ(s.effects.size(), 1u);
  EXPECT_EQ(s.effects[0].execution_id, 2);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_007_Prevent);

}  // namespace
}  // namespace lab
