#include "store/state_machine.h"

namespace lab {

bool IsLegalExecTransition(std::optional<ExecState> from, ExecState to) {
  using S = ExecState;
  if (!from) return to == S::kLeased;
  switch (*from) {
    case S::kLeased:
      return to == S::kInProgress || to == S::kAborted;
    case S::kInProgress:
      return to == S::kCommitted || to == S::kAborted || to == S::kFailed;
    case S::kCommitted:
      return to == S::kDone;
    case S::kDone:
    case S::kAborted:
    case S::kFailed:
      return false;  // Terminal: nothing moves backwards.
  }
  return false;
}

bool IsLegalJobTransition(std::optional<JobState> from, JobState to) {
  using S = JobState;
  if (!from) return to == S::kPending;
  switch (*from) {
    case S::kPending:
      return to == S::kRunning || to == S::kExpired;
    case S::kRunning:
      return to == S::kPending || to == S::kSucceeded || to == S::kDead;
    case S::kSucceeded:
    case S::kExpired:
      return false;
    case S::kDead:
      return to == S::kPending;  // Redrive.
  }
  return false;
}

bool IsLive(ExecState s) {
  return s == ExecState::kLeased || s == ExecState::kInProgress || s == ExecState::kCommitted;
}

bool IsCommitted(ExecState s) { return s == ExecState::kCommitted || s == ExecState::kDone; }

bool IsFinished(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kDead || s == JobState::kExpired;
}

}  // namespace lab
