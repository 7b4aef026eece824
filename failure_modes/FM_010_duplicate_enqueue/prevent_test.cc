// FM_010 prevent, what only it shows. Goal: the first enqueue took effect
// and its reply was lost (the fault layer's branch); the retry found that
// job by its key: one job, one effect.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_010_Prevent = testing::BundleTest;

TEST_P(FM_010_Prevent, TheRetryFindsTheJobItsKeyNames) {
  MarkCheck lost(Mark::kReplyLost);
  MarkCheck found(Mark::kEnqueueFoundExisting);
  Snapshot s;
  const RunReport r = Run("FM_010", Mode::kGuarded, &s);
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_EQ(lost.hits(), 1u);
  EXPECT_EQ(found.hits(), 1u);
  EXPECT_EQ(s.jobs.size(), 1u);
  EXPECT_EQ(s.effects.size(), 1u);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_010_Prevent);

}  // namespace
}  // namespace lab
