// FM_002 repro, what only it shows. Goal: with one_transaction off, the
// effect was written apart from its commit (the branch's coverage mark),
// the process died between the two, and the reaper then aborted the
// execution whose effect is in the ledger: the job is PENDING again with
// its effect already there.
#include "core/marks.h"
#include "failure_modes/fm_test_support.h"

namespace lab {
namespace {

using FM_002_Repro = testing::BundleTest;

TEST_P(FM_002_Repro, TheEffectOutlivesTheCommitThatNeverHappened) {
  MarkCheck apart(Mark::kEffectApartFromCommit);
  Snapshot s;
  const RunReport r = Run("FM_002", Mode::kBaseline, &s);
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_EQ(apart.hits(), 1u);
  ASSERT_EQ(s.jobs.size(), 1u);
  EXPECT_EQ(s.jobs[0].state, JobState::kPending);
  ASSERT_EQ(s.executions.size(), 1u);
  EXPECT_EQ(s.executions[0].state, ExecState::kAborted);
  ASSERT_EQ(s.effects.size(), 1u);
  EXPECT_EQ(s.effects[0].execution_id, s.executions[0].id);
}

LAB_INSTANTIATE_FOR_EVERY_STORE(FM_002_Repro);

}  // namespace
}  // namespace lab
