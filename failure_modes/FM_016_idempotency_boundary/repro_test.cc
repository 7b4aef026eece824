// FM_016 repro, what only it shows. Goal: each execution calls the
// payment API under its own key (the engine's per-execution branch), and
// both charges land.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_016_Repro = testing::BundleTest;

TEST_P(FM_016_Repro, UnderPerExecutionKeysBothChargesLand) {
  MarkCheck per_exec(Mark::kExecutionScopedKey);
  std::vector<std::string> keys;
  Run("FM_016", Mode::kBaseline, [&](ScenarioEnv& env) {
    for (const auto& e : env.api().log().applied()) keys.push_back(e.key);
  });
  EXPECT_EQ(per_exec.hits(), 2u);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_NE(keys[0], keys[1]);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_016_Repro);

}  // namespace
}  // namespace lab
