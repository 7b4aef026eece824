// Goal: the transition tables (the one source the stores' assertions and
// INV_003's checker read) say exactly what docs/state_model.md says, pair
// by pair, including the negative space (nothing moves backwards).
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

// Every (from, to) pair, against the design's grid (docs/state_model.md):
// x is legal, . is refused. The first row is an entity's first state.
TEST(StateMachineTest, EveryPairOfStatesAgainstTheDesignsGrid) {
  using E = ExecState;
  const E exec[] = {E::kLeased, E::kInProgress, E::kCommitted, E::kDone, E::kAborted, E::kFailed};
  const std::string_view exec_grid[] = {
      // LEASED IN_PROGRESS COMMITTED DONE ABORTED FAILED
      "x.....",  // (new)
      ".x..x.",  // LEASED
      "..x.xx",  // IN_PROGRESS
      "...x..",  // COMMITTED
      "......",  // DONE
      "......",  // ABORTED
      "......",  // FAILED
  };
  int legal = 0;
  for (size_t f = 0; f <= std::size(exec); ++f) {
    const std::optional<E> from = f == 0 ? std::nullopt : std::optional<E>(exec[f - 1]);
    for (size_t t = 0; t < std::size(exec); ++t) {
      const bool want = exec_grid[f][t] == 'x';
      legal += want ? 1 : 0;
      EXPECT_EQ(IsLegalExecTransition(from, exec[t]), want)
          << (from ? ToString(*from) : "(new)") << " -> " << ToString(exec[t]);
    }
  }
  EXPECT_EQ(legal, static_cast<int>(std::size(kExecTransitions)));
  using J = JobState;
  const J job[] = {J::kPending, J::kRunning, J::kSucceeded, J::kDead, J::kExpired};
  const std::string_view job_grid[] = {
      // PENDING RUNNING SUCCEEDED DEAD EXPIRED
      "x....",  // (new)
      ".x..x",  // PENDING
      "x.xx.",  // RUNNING
      ".....",  // SUCCEEDED
      "x....",  // DEAD (redrive)
      ".....",  // EXPIRED
  };
  legal = 0;
  for (size_t f = 0; f <= std::size(job); ++f) {
    const std::optional<J> from = f == 0 ? std::nullopt : std::optional<J>(job[f - 1]);
    for (size_t t = 0; t < std::size(job); ++t) {
      const bool want = job_grid[f][t] == 'x';
      legal += want ? 1 : 0;
      EXPECT_EQ(IsLegalJobTransition(from, job[t]), want)
          << (from ? ToString(*from) : "(new)") << " -> " << ToString(job[t]);
    }
  }
  EXPECT_EQ(legal, static_cast<int>(std::size(kJobTransitions)));
}

// Each legal move names the events that may record it, and the checks by
// event accept exactly those.
TEST(StateMachineTest, EveryMoveIsRecordedOnlyByItsEvents) {
  EXPECT_TRUE(
      IsAuditedExecTransition(ExecState::kCommitted, ExecState::kDone, AuditEvent::kReconcile));
  EXPECT_FALSE(IsAuditedExecTransition(ExecState::kCommitted, ExecState::kDone, AuditEvent::kReap));
  EXPECT_TRUE(IsAuditedJobTransition(JobState::kDead, JobState::kPending, AuditEvent::kRedrive));
  EXPECT_FALSE(IsAuditedJobTransition(JobState::kDead, JobState::kPending, AuditEvent::kRetry));
  EXPECT_FALSE(IsAuditedJobTransition(JobState::kRunning, JobState::kDead, AuditEvent::kReap));
  for (const auto& t : kExecTransitions) {
    EXPECT_NE(t.events, 0u) << ToString(t.to);
    // A refusal or a finding never moves anything.
    for (AuditEvent e : {AuditEvent::kFenced, AuditEvent::kCapped, AuditEvent::kDrill}) {
      EXPECT_FALSE(IsAuditedExecTransition(t.from, t.to, e));
    }
  }
  for (const auto& t : kJobTransitions) {
    EXPECT_NE(t.events, 0u) << ToString(t.to);
    for (AuditEvent e : {AuditEvent::kFenced, AuditEvent::kCapped, AuditEvent::kDrill}) {
      EXPECT_FALSE(IsAuditedJobTransition(t.from, t.to, e));
    }
  }
}

TEST(StateMachineTest, StateNamesRoundTrip) {
  for (auto s : {ExecState::kLeased, ExecState::kInProgress, ExecState::kCommitted,
                 ExecState::kDone, ExecState::kAborted, ExecState::kFailed}) {
    EXPECT_EQ(ParseExecState(ToString(s)), s);
  }
  for (auto s : {JobState::kPending, JobState::kRunning, JobState::kSucceeded, JobState::kDead,
                 JobState::kExpired}) {
    EXPECT_EQ(ParseJobState(ToString(s)), s);
  }
  EXPECT_FALSE(ParseJobState("BOGUS").has_value());
}

}  // namespace
}  // namespace lab
