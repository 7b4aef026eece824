// The legal state transitions (docs/state_model.md), in one place.
//
// Stores assert them on both sides of every write; the INV_003 checker uses
// the same tables to judge an audit log. Thread-safety: pure functions.
#pragma once

#include <optional>
#include <span>

#include "store/types.h"

namespace lab {

// One legal move; `from` is nullopt for an execution's or job's first state.
template <typename State>
struct Transition {
  std::optional<State> from;
  State to;
};

// The tables: every legal transition, and nothing else (docs/state_model.md).
inline constexpr Transition<ExecState> kExecTransitions[] = {
    {std::nullopt, ExecState::kLeased},
    {ExecState::kLeased, ExecState::kInProgress},
    {ExecState::kLeased, ExecState::kAborted},  // Reaped, released or deferred before it began.
    {ExecState::kInProgress, ExecState::kCommitted},
    {ExecState::kInProgress, ExecState::kAborted},
    {ExecState::kInProgress, ExecState::kFailed},
    {ExecState::kCommitted, ExecState::kDone},  // DONE, ABORTED and FAILED are terminal.
};
inline constexpr Transition<JobState> kJobTransitions[] = {
    {std::nullopt, JobState::kPending},         {JobState::kPending, JobState::kRunning},
    {JobState::kPending, JobState::kExpired},  // Its deadline passed before it started.
    {JobState::kRunning, JobState::kPending},  // A retry, a lost lease, a deferral.
    {JobState::kRunning, JobState::kSucceeded}, {JobState::kRunning, JobState::kDead},
    {JobState::kDead, JobState::kPending},  // Redrive. SUCCEEDED and EXPIRED are terminal.
};

// Whether the tables list the move.
bool IsLegalExecTransition(std::optional<ExecState> from, ExecState to);
bool IsLegalJobTransition(std::optional<JobState> from, JobState to);

// A live execution holds (or held) a lease and has not ended.
bool IsLive(ExecState s);
// An execution that crossed the commit boundary.
bool IsCommitted(ExecState s);
// A job that reached an end (SUCCEEDED, DEAD or EXPIRED): what retention may prune.
bool IsFinished(JobState s);

}  // namespace lab
