// The legal state transitions (docs/state_model.md), in one place.
//
// Stores assert them on both sides of every write; the INV_003 checker uses
// the same tables to judge an audit log. Thread-safety: pure functions.
#pragma once

#include <optional>

#include "store/types.h"

namespace lab {

// `from` is nullopt for an execution's or job's first state.
bool IsLegalExecTransition(std::optional<ExecState> from, ExecState to);
bool IsLegalJobTransition(std::optional<JobState> from, JobState to);

// A live execution holds (or held) a lease and has not ended.
bool IsLive(ExecState s);
// An execution that crossed the commit boundary.
bool IsCommitted(ExecState s);
// A job that reached an end (SUCCEEDED, DEAD or EXPIRED): what retention may prune.
bool IsFinished(JobState s);

}  // namespace lab
