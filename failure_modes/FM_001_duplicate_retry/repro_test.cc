// FM_001 repro, what only it shows. Goal: without the commit boundary both
// workers apply the effect themselves: the engine's "outside the commit"
// branch is taken twice and the job's effect counts two, while INV_003
// holds. (The catalogue suite judges the claimed invariants.)
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_001_Repro = testing::BundleTest;

TEST_P(FM_001_Repro, WithoutTheBoundaryBothWorkersApplyTheEffect) {
  MarkCheck outside(Mark::kEffectOutsideCommit);
  size_t effects = 0;
  const RunReport r = Run("FM_001", Mode::kBaseline,
                          [&](ScenarioEnv& env) { effects = testing::EffectsFor(env, 1); });
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_EQ(effects, 2u);
  EXPECT_EQ(outside.hits(), 2u);
  // Fencing is still on, so every recorded transition stays legal.
  EXPECT_FALSE(r.Violated(Invariant::kAuditedTransitions));
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_001_Repro);

}  // namespace
}  // namespace lab
