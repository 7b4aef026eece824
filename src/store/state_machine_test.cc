// Goal: the transition tables say exactly what docs/state_model.md says,
// including the negative space (nothing moves backwards).
#include "store/state_machine.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

TEST(StateMachineTest, ExecutionPathsFromTheDesign) {
  using S = ExecState;
  EXPECT_TRUE(IsLegalExecTransition(std::nullopt, S::kLeased));
  EXPECT_TRUE(IsLegalExecTransition(S::kLeased, S::kInProgress));
  EXPECT_TRUE(IsLegalExecTransition(S::kLeased, S::kAborted));
  EXPECT_TRUE(IsLegalExecTransition(S::kInProgress, S::kCommitted));
  EXPECT_TRUE(IsLegalExecTransition(S::kInProgress, S::kAborted));
  EXPECT_TRUE(IsLegalExecTransition(S::kInProgress, S::kFailed));
  EXPECT_TRUE(IsLegalExecTransition(S::kCommitted, S::kDone));
}

TEST(StateMachineTest, ExecutionsNeverMoveBackwardsOrLeaveTerminalStates) {
  using S = ExecState;
  const S all[] = {S::kLeased, S::kInProgress, S::kCommitted, S::kDone, S::kAborted, S::kFailed};
  for (S to : all) {
    EXPECT_FALSE(IsLegalExecTransition(S::kDone, to));
    EXPECT_FALSE(IsLegalExecTransition(S::kAborted, to));
    EXPECT_FALSE(IsLegalExecTransition(S::kFailed, to));
    EXPECT_FALSE(IsLegalExecTransition(to, to)) << ToString(to);
  }
  EXPECT_FALSE(IsLegalExecTransition(S::kCommitted, S::kAborted));
  EXPECT_FALSE(IsLegalExecTransition(S::kLeased, S::kCommitted));
  EXPECT_FALSE(IsLegalExecTransition(std::nullopt, S::kInProgress));
}

TEST(StateMachineTest, JobPathsFromTheDesign) {
  using S = JobState;
  EXPECT_TRUE(IsLegalJobTransition(std::nullopt, S::kPending));
  EXPECT_TRUE(IsLegalJobTransition(S::kPending, S::kRunning));
  EXPECT_TRUE(IsLegalJobTransition(S::kRunning, S::kPending));
  EXPECT_TRUE(IsLegalJobTransition(S::kRunning, S::kSucceeded));
  EXPECT_TRUE(IsLegalJobTransition(S::kRunning, S::kDead));
  EXPECT_TRUE(IsLegalJobTransition(S::kDead, S::kPending));
  EXPECT_FALSE(IsLegalJobTransition(S::kSucceeded, S::kPending));
  EXPECT_FALSE(IsLegalJobTransition(S::kPending, S::kSucceeded));
  EXPECT_FALSE(IsLegalJobTransition(S::kDead, S::kRunning));
}

TEST(StateMachineTest, StateNamesRoundTrip) {
  for (auto s : {ExecState::kLeased, ExecState::kInProgress, ExecState::kCommitted,
                 ExecState::kDone, ExecState::kAborted, ExecState::kFailed}) {
    EXPECT_EQ(ParseExecState(ToString(s)), s);
  }
  for (auto s : {JobState::kPending, JobState::kRunning, JobState::kSucceeded, JobState::kDead}) {
    EXPECT_EQ(ParseJobState(ToString(s)), s);
  }
  EXPECT_FALSE(ParseJobState("BOGUS").has_value());
}

}  // namespace
}  // namespace lab
