// FM_016 prevent, what only it shows. Goal: both calls carry the job's
// key and the second is deduplicated downstream: one charge.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_016_Prevent = testing::BundleTest;

TEST_P(FM_016_Prevent, UnderTheJobsKeyTheRetrysCallIsDeduplicated) {
  MarkCheck deduped(Mark::kDownstreamDeduplicated);
  size_t charges = 0;
  const RunReport r = Run("FM_016", Mode::kGuarded,
                          [&](ScenarioEnv& env) { charges = env.api().log().applied().size(); });
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_EQ(charges, 1u);
  EXPECT_EQ(deduped.hits(), 1u);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_016_Prevent);

}  // namespace
}  // namespace lab
