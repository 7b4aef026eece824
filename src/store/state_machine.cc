#include "store/state_machine.h"

#include <algorithm>

namespace lab {
namespace {

// Whether `table` lists the move, and with `events` (all events: any).
template <typename State>
bool Listed(std::span<const Transition<State>> table, std::optional<State> from, State to,
            AuditEvents events = ~AuditEvents{0}) {
  return std::any_of(table.begin(), table.end(), [&](const Transition<State>& t) {
    return t.from == from && t.to == to && (t.events & events) != 0;
  });
}

}  // namespace

bool IsLegalExecTransition(std::optional<ExecState> from, ExecState to) {
  return Listed<ExecState>(kExecTransitions, from, to);
}

bool IsLegalJobTransition(std::optional<JobState> from, JobState to) {
  return Listed<JobState>(kJobTransitions, from, to);
}

bool IsAuditedExecTransition(std::optional<ExecState> from, ExecState to, AuditEvent event) {
  return Listed<ExecState>(kExecTransitions, from, to, Events({event}));
}

bool IsAuditedJobTransition(std::optional<JobState> from, JobState to, AuditEvent event) {
  return Listed<JobState>(kJobTransitions, from, to, Events({event}));
}

bool IsLive(ExecState s) {
  return s == ExecState::kLeased || s == ExecState::kInProgress || s == ExecState::kCommitted;
}

bool IsCommitted(ExecState s) { return s == ExecState::kCommitted || s == ExecState::kDone; }

bool IsFinished(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kDead || s == JobState::kExpired;
}

}  // namespace lab
