// Coverage marks: a test asserts that the engine took a branch, not that
// some text appeared in a trace.
//
// The engine says LAB_MARK(kFencedStaleToken) where an interesting branch
// is taken; a test holds a MarkCheck across the code it runs and asserts
// hit(). Marks only count: they never change what the engine does, so
// they are kept in every build (docs/architecture.md, "Closed sets"). The set is
// closed: a new mark is a new enumerator and a new name in marks.cc.
// Thread-safety: counts are atomic.
#pragma once

#include <cstdint>
#include <string_view>

namespace lab {

enum class Mark : uint8_t {
  kFencedStaleToken,        // A call refused: its fencing token is stale.
  kFencedEnded,             // A call refused: its execution already ended.
  kZombieCallAccepted,      // Fencing off: a call on a taken-over execution went through.
  kCommitDuplicate,         // A second commit for a job short-circuited.
  kEffectOutsideCommit,     // Commit boundary off: the worker applied an effect itself.
  kExecutionScopedKey,      // Stable key off: the handler got a per-execution key.
  kLeaseReaped,             // An expired lease was aborted by the reaper.
  kLostAttemptNotCounted,   // lost_attempts off: a reaped attempt was not counted.
  kDeadLettered,            // A job ended DEAD.
  kReconciled,              // A committed, unfinished execution was finalized.
  kLeaseFromClientClock,    // store_clock off: a lease was timed by the claimant's clock.
  kEnqueueFoundExisting,    // An enqueue found the job its key already names.
  kEnqueueKeyDropped,       // enqueue_key off: an enqueue's key was ignored.
  kReplyLost,               // A fault layer lost a reply to a call that took effect.
  kDownstreamDeduplicated,  // A downstream system saw a key again and did not apply it again.
  kStorageFaultInjected,    // A fault backend failed a storage primitive.
  kHandleReopened,          // A fail-stopped store handle was reopened.
  kLogRecovered,            // A reopen folded SQLite's log into the database.
  kEffectApartFromCommit,   // one_transaction off: an effect was written before its commit.
  kDeferred,                // A job was put back unrun, its attempt given back.
  kRetryHeld,               // The retry budget held a retry back (its job was deferred).
  kBreakerHeld,             // The circuit breaker held a call back (its job was deferred).
  kJobExpired,              // A job's deadline passed before it started: EXPIRED, never run.
  kEnqueueRefused,          // Admission control refused an enqueue: its queue was full.
  kAttemptCapped,           // A heartbeat was refused: its attempt's lease reached its cap.
  kCount
};

std::string_view ToString(Mark mark);
uint64_t MarkCount(Mark mark);
void HitMark(Mark mark);

// Counts a mark's hits from its construction on.
class MarkCheck {
 public:
  explicit MarkCheck(Mark mark) : mark_(mark), start_(MarkCount(mark)) {}
  bool hit() const { return MarkCount(mark_) > start_; }
  uint64_t hits() const { return MarkCount(mark_) - start_; }

 private:
  Mark mark_;
  uint64_t start_;
};

}  // namespace lab

#define LAB_MARK(name) ::lab::HitMark(::lab::Mark::name)
