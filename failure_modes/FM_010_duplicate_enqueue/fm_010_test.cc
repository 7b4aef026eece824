// FM_010, what only it shows. Goal: the first enqueue took effect and its
// reply was lost (the fault layer's branch); guarded, the retry found that
// job by its key and there is one job with one effect; baseline, the key
// was ignored and the retry made a second job, which charged again.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_010 = testing::BundleTest;

TEST_P(FM_010, TheRetryFindsTheJobItsKeyNames) {
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

TEST_P(FM_010, WithoutTheKeyTheRetryIsASecondJob) {
  MarkCheck dropped(Mark::kEnqueueKeyDropped);
  Snapshot s;
  Run("FM_010", Mode::kBaseline, &s);
  EXPECT_EQ(dropped.hits(), 2u);
  EXPECT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.effects.size(), 2u);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_010);

}  // namespace
}  // namespace lab
