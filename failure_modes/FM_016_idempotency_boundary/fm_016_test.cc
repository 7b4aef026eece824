// FM_016, what only it shows. Goal: both executions call the payment API
// in both modes; guarded, both calls carry the job's key and the second is
// deduplicated (one charge); baseline, each carries its execution's key,
// the engine's per-execution branch is taken, and both charges land.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_016 = testing::BundleTest;

TEST_P(FM_016, UnderTheJobsKeyTheRetrysCallIsDeduplicated) {
  MarkCheck deduped(Mark::kDownstreamDeduplicated);
  size_t charges = 0;
  const RunReport r = Run("FM_016", Mode::kGuarded,
                          [&](ScenarioEnv& env) { charges = env.api().log().applied().size(); });
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_EQ(charges, 1u);
  EXPECT_EQ(deduped.hits(), 1u);
}

TEST_P(FM_016, UnderPerExecutionKeysBothChargesLand) {
  MarkCheck per_exec(Mark::kExecutionScopedKey);
  std::vector<std::string> keys;
  Run("FM_016", Mode::kBaseline, [&](ScenarioEnv& env) {
    for (const auto& e : env.api().log().applied()) keys.push_back(e.key);
  });
  EXPECT_EQ(per_exec.hits(), 2u);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_NE(keys[0], keys[1]);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_016);

}  // namespace
}  // namespace lab
