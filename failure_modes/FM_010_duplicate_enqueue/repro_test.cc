// FM_010 repro, what only it shows. Goal: without the enqueue key both
// enqueues dropped their key, and the retry made a second job, which
// charged again.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_010_Repro = testing::BundleTest;

TEST_P(FM_010_Repro, WithoutTheKeyTheRetryIsASecondJob) {
  MarkCheck dropped(Mark::kEnqueueKeyDropped);
  Snapshot s;
  Run("FM_010", Mode::kBaseline, &s);
  EXPECT_EQ(dropped.hits(), 2u);
  EXPECT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.effects.size(), 2u);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_010_Repro);

}  // namespace
}  // namespace lab
