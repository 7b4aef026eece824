// The legal state transitions (docs/state_model.md), in one place.
//
// Stores assert them on both sides of every write; the INV_003 checker uses
// the same tables to judge an audit log. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>

#include "store/types.h"

namespace lab {

// The audit events that may record a move: a set of AuditEvent bits.
using AuditEvents = uint32_t;
constexpr AuditEvents Events(std::initializer_list<AuditEvent> events) {
  AuditEvents bits = 0;
  for (AuditEvent e : events) bits |= AuditEvents{1} << static_cast<int>(e);
  return bits;
}

// One legal move and the events that may record it; `from` is nullopt for
// an execution's or job's first state.
template <typename State>
struct Transition {
  std::optional<State> from;
  State to;
  AuditEvents events;
};

// The tables: every legal transition with its events, and nothing else
// (docs/state_model.md).
inline constexpr Transition<ExecState> kExecTransitions[] = {
    {std::nullopt, ExecState::kLeased, Events({AuditEvent::kClaim})},
    {ExecState::kLeased, ExecState::kInProgress, Events({AuditEvent::kBegin})},
    // Reaped, released or deferred before it began.
    {ExecState::kLeased, ExecState::kAborted,
     Events({AuditEvent::kReap, AuditEvent::kRelease, AuditEvent::kDefer})},
    {ExecState::kInProgress, ExecState::kCommitted, Events({AuditEvent::kCommit})},
    // Or a second commit for the job, short-circuited.
    {ExecState::kInProgress, ExecState::kAborted,
     Events({AuditEvent::kReap, AuditEvent::kRelease, AuditEvent::kDefer, AuditEvent::kDuplicate})},
    {ExecState::kInProgress, ExecState::kFailed, Events({AuditEvent::kFail})},
    // DONE, ABORTED and FAILED are terminal.
    {ExecState::kCommitted, ExecState::kDone,
     Events({AuditEvent::kFinish, AuditEvent::kReconcile})},
};
inline constexpr Transition<JobState> kJobTransitions[] = {
    {std::nullopt, JobState::kPending, Events({AuditEvent::kEnqueue})},
    // A claim; or, only with fencing off, a zombie's commit after a re-queue.
    {JobState::kPending, JobState::kRunning, Events({AuditEvent::kClaim, AuditEvent::kCommit})},
    // Its deadline passed before it started.
    {JobState::kPending, JobState::kExpired, Events({AuditEvent::kExpire})},
    // A retry, a lost lease, a release, a deferral.
    {JobState::kRunning, JobState::kPending,
     Events({AuditEvent::kRetry, AuditEvent::kReap, AuditEvent::kRelease, AuditEvent::kDefer})},
    {JobState::kRunning, JobState::kSucceeded,
     Events({AuditEvent::kFinish, AuditEvent::kReconcile})},
    {JobState::kRunning, JobState::kDead, Events({AuditEvent::kDead})},
    // Redrive. SUCCEEDED and EXPIRED are terminal.
    {JobState::kDead, JobState::kPending, Events({AuditEvent::kRedrive})},
};

// Whether the tables list the move.
bool IsLegalExecTransition(std::optional<ExecState> from, ExecState to);
bool IsLegalJobTransition(std::optional<JobState> from, JobState to);
// Whether the tables list the move with `event` among its events.
bool IsAuditedExecTransition(std::optional<ExecState> from, ExecState to, AuditEvent event);
bool IsAuditedJobTransition(std::optional<JobState> from, JobState to, AuditEvent event);

// A live execution holds (or held) a lease and has not ended.
bool IsLive(ExecState s);
// An execution that crossed the commit boundary.
bool IsCommitted(ExecState s);
// A job that reached an end (SUCCEEDED, DEAD or EXPIRED): what retention may prune.
bool IsFinished(JobState s);

}  // namespace lab
