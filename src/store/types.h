// The records a Store keeps, and the requests its operations take.
//
// Executions are the source of truth (docs/state_model.md); the job's
// state column is kept in the same transaction as every execution change, and
// the INV_003 checker verifies that it agrees with the executions.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"

namespace lab {

using JobId = int64_t;
using ExecutionId = int64_t;

// EXPIRED: its deadline passed before it started; it never ran (admission
// control, StoreOptions::admission_control).
enum class JobState { kPending, kRunning, kSucceeded, kDead, kExpired };
enum class ExecState { kLeased, kInProgress, kCommitted, kDone, kAborted, kFailed };

std::string_view ToString(JobState s);
std::string_view ToString(ExecState s);
std::optional<JobState> ParseJobState(std::string_view s);

// What an audit entry records: a closed set, stored by name.
enum class AuditEvent : uint8_t {
  kEnqueue,
  kClaim,
  kBegin,
  kCommit,
  kDuplicate,  // A second commit for the job, short-circuited.
  kFinish,
  kFail,
  kRetry,      // The job went back to PENDING after a failed attempt.
  kDead,       // The job was dead-lettered.
  kReap,       // An expired lease was aborted.
  kRelease,    // A worker let go of its lease.
  kReconcile,  // A committed execution was finalized.
  kRedrive,    // A dead job was sent back to PENDING.
  kFenced,     // A call was refused for a stale token or an ended execution.
  kPrune,      // The retention policy deleted finished jobs (one store-level entry, job 0).
  kDefer,      // A worker put its job back unrun, a guard holding it; the attempt given back.
  kExpire,     // The job's deadline passed before it started: EXPIRED, never run.
  kLimit,      // A queue's depth limit was set or removed (one store-level entry, job 0).
  kCapped,     // A heartbeat was refused: the attempt held its lease to its cap.
  kDrill,      // A reconciliation drill's finding: the queue and a downstream system disagree.
  kDeliver,  // An outbox relay delivered the job's ledger effect and its receiver acknowledged it.
  kRedeliver,  // The job's delivered outbox effect is to be delivered again (a drill found it
               // missing).
};
std::string_view ToString(AuditEvent e);
std::optional<AuditEvent> ParseAuditEvent(std::string_view s);
// A refused call: an entry that records no transition (from == to).
inline bool IsRefusal(AuditEvent e) { return e == AuditEvent::kFenced || e == AuditEvent::kCapped; }
// An entry that records no transition: a refusal, a drill's finding or an
// outbox delivery's.
inline bool IsSignal(AuditEvent e) {
  return IsRefusal(e) || e == AuditEvent::kDrill || e == AuditEvent::kDeliver ||
         e == AuditEvent::kRedeliver;
}
std::optional<ExecState> ParseExecState(std::string_view s);

struct Job {
  JobId id = 0;
  std::string queue;
  std::optional<std::string> key;  // Idempotency key given at enqueue, if any.
  std::string payload;
  int priority = 0;  // Higher runs first.
  TimeMs run_at_ms = 0;
  int max_attempts = 0;
  int attempts = 0;             // Executions ever leased: the last fencing token.
  int attempts_at_redrive = 0;  // `attempts` when last redriven; the budget restarts there.
  JobState state = JobState::kPending;
  TimeMs created_at_ms = 0;
  std::string last_error;
  DurationMs timeout_ms = 0;  // How long one attempt may run; 0: the worker's default.
  TimeMs finished_at_ms = 0;  // When it became SUCCEEDED, DEAD or EXPIRED; 0 while it is not.
  TimeMs deadline_at_ms = 0;  // Not started by then: EXPIRED, never run. 0: no deadline.

  bool operator==(const Job&) const = default;

  // The stable key that effects are keyed by: "<queue>/<key>" when the job
  // has an idempotency key (keys are unique per queue), otherwise
  // "job:<id>". Unambiguous across queues; never per execution.
  std::string EffectKey() const;
  // Attempts used since the last redrive.
  int AttemptsUsed() const { return attempts - attempts_at_redrive; }
};

struct Execution {
  ExecutionId id = 0;
  JobId job_id = 0;
  int attempt = 0;  // The fencing token this execution holds.
  std::string worker;
  ExecState state = ExecState::kLeased;
  TimeMs leased_at_ms = 0;
  TimeMs lease_expires_at_ms = 0;
  TimeMs ended_at_ms = 0;  // 0 while live.
  std::string reason;      // Why it ended, for ABORTED and FAILED.

  bool operator==(const Execution&) const = default;
};

// Whether a ledger effect is an outbox's intent, and where its delivery
// stands (DESIGN's third effect shape): kNone, the effect is the ledger
// entry itself; kPending, a relay is to deliver it under its key;
// kDelivered, the receiver acknowledged it.
enum class Delivery : uint8_t { kNone, kPending, kDelivered };
std::string_view ToString(Delivery d);
std::optional<Delivery> ParseDelivery(std::string_view s);

// An effect recorded in the store's ledger, atomically with COMMITTED.
struct EffectRecord {
  int64_t id = 0;
  JobId job_id = 0;
  ExecutionId execution_id = 0;
  std::string key;
  std::string payload;
  TimeMs applied_at_ms = 0;
  Delivery delivery = Delivery::kNone;
  TimeMs delivered_at_ms = 0;  // When last acknowledged; 0 while it is not.

  bool operator==(const EffectRecord&) const = default;
};

// One audited change. For transitions, from != to; a pure signal (a refused,
// fenced call) has from == to and names the event. job/execution ids are 0
// when absent. An entity's first entry has an empty `from`.
struct AuditEntry {
  int64_t seq = 0;
  TimeMs at_ms = 0;
  JobId job_id = 0;
  ExecutionId execution_id = 0;  // 0: a job-level entry.
  AuditEvent event = AuditEvent::kEnqueue;
  std::string from;
  std::string to;
  std::string detail;
};

struct NewJob {
  std::string queue = "default";
  std::optional<std::string> key;
  std::string payload;
  int priority = 0;
  std::optional<TimeMs> run_at_ms;  // Default: now.
  int max_attempts = 5;
  DurationMs timeout_ms = 0;  // How long one attempt may run; 0: the worker's default.
  // When the job is no use any more: a claim after it expires the job
  // (EXPIRED, with the reason) instead of running it. Default: none.
  std::optional<TimeMs> deadline_ms;
};

struct EnqueueResult {
  JobId job_id = 0;
  bool created = false;  // False when the idempotency key matched an existing job.
};

struct ClaimRequest {
  std::string queue = "default";
  std::string worker;
  int max_jobs = 1;
  DurationMs lease_ms = 30'000;
  // The claimant's own clock, sent along; the store uses it only with the
  // store_clock guard off (StoreOptions::store_clock).
  std::optional<TimeMs> client_now_ms;
  // Also LEASED -> IN_PROGRESS in the same transaction (a fused claim: one
  // durable transaction instead of two, each transition still audited).
  bool begin = false;
};

// What a worker holds after a claim: the fence it must present on every
// later call, and the job it is to run.
struct Lease {
  ExecutionId execution_id = 0;
  int token = 0;
  TimeMs expires_at_ms = 0;
  Job job;
};

// The fence presented on every call after claim.
struct LeaseRef {
  ExecutionId execution_id = 0;
  int token = 0;
  bool operator==(const LeaseRef&) const = default;
};

struct Effect {
  std::string payload;
  // An outbox intent: the commit records it pending, and a relay delivers
  // it at least once under the job's key (queue/relay.h).
  bool outbox = false;
};

enum class CommitOutcome {
  kCommitted,         // This execution crossed COMMITTED; its effect is in the ledger.
  kAlreadyCommitted,  // Another execution had committed; this one was aborted, no effect.
};

struct FailRequest {
  std::string error;
  std::optional<TimeMs> retry_at_ms;  // nullopt: dead-letter the job.
};

// A job put back before its handler ran (Store::Defer): when it may run
// again, and why it waits.
struct DeferRequest {
  TimeMs run_at_ms = 0;
  std::string why;
};

// Where a commit stops: at COMMITTED (a later Finish makes it DONE; the
// split path, whose gap the reconciler closes) or at DONE in the same
// transaction (a fused commit, each transition still audited).
enum class CommitThen { kStay, kFinish };

enum class FailOutcome { kRetryScheduled, kDeadLettered };

// One attempt's end as its worker reports it in a batch (Store::Complete):
// commit `effect` and finish (the job SUCCEEDED), or, with `fail` set, fail
// the attempt (retried or dead-lettered as `fail` says).
struct Completion {
  LeaseRef lease;
  std::optional<Effect> effect;  // Commit only; none: no ledger effect.
  std::optional<FailRequest> fail;
  // Or, with `defer` set, the job put back unrun (as Store::Defer).
  std::optional<DeferRequest> defer;
};

enum class CompleteOutcome {
  kFinished,        // Committed and DONE.
  kDuplicate,       // Another execution had committed; this one aborted, no effect.
  kRetryScheduled,  // Failed; PENDING again at its retry time.
  kDeadLettered,    // Failed for good; DEAD.
  kDeferred,        // Put back unrun; PENDING again at its time, the attempt given back.
};

struct Snapshot {
  std::vector<Job> jobs;              // Ordered by id.
  std::vector<Execution> executions;  // Ordered by id.
  std::vector<EffectRecord> effects;  // Ordered by id.
  std::vector<AuditEntry> audit;      // Ordered by seq.
};

// Operator reads.
struct JobFilter {
  std::optional<std::string> queue;
  std::optional<JobState> state;
  // Only jobs that finished (SUCCEEDED, DEAD or EXPIRED) at or after this
  // time: what a dashboard's last minutes are made of.
  std::optional<TimeMs> finished_since_ms;
  int limit = 100;  // Lowest ids first.
};

// One job with everything recorded about it.
struct JobDetail {
  Job job;
  std::vector<Execution> executions;  // By id.
  std::vector<EffectRecord> effects;  // The ledger's (at most one when guarded).
  std::vector<AuditEntry> audit;      // By seq.
};

// Admission control for one queue: at most `max_depth` unfinished (PENDING
// or RUNNING) jobs; an enqueue past it is refused with kOverloaded.
struct QueueLimit {
  std::string queue;
  int64_t max_depth = 0;  // 0: no limit.
  bool operator==(const QueueLimit&) const = default;
};

struct StateCount {
  std::string queue;
  JobState state = JobState::kPending;
  int64_t count = 0;
};

// The retention policy: delete jobs that finished (SUCCEEDED, DEAD or EXPIRED) at
// least `retain` ago by the store's clock, with their executions, ledger
// effects and audit entries, oldest first, at most `limit` in one call.
struct PruneRequest {
  DurationMs retain = 0;
  int limit = 1'000;
};

struct PruneResult {
  int64_t jobs = 0;
  int64_t executions = 0;
  int64_t effects = 0;
  int64_t audit = 0;     // Entries of the pruned jobs deleted (the prune's own entry not counted).
  TimeMs cutoff_ms = 0;  // Jobs finished at or before this were eligible.

  PruneResult& operator+=(const PruneResult& other);
};

// The newest ids a backend has handed out. SQLite (and MemoryStore, which
// mirrors it) gives a new row max(id) + 1, so deleting the newest job,
// execution, ledger effect or audit entry would hand its id out again: a
// late call holding the old execution id could land on a new one, and a
// reader following the audit log by seq would skip an entry. PostgreSQL's
// sequences never reuse an id; the same rule holds there so that every
// backend prunes alike (found by the differential test).
struct NewestIds {
  JobId job = 0;               // The newest job.
  JobId job_of_execution = 0;  // The job of the newest execution.
  JobId job_of_effect = 0;     // The job of the newest ledger effect.
  JobId job_of_audit = 0;      // The job of the newest audit entry (0: a store-level one).
};

// Switches a Store needs from the guards above it. Production: all on.
struct StoreOptions {
  // Refuse stale fencing tokens and calls on executions that are no longer
  // live. Off only to reproduce zombie-commit failure modes.
  bool enforce_fencing = true;
  // Refuse a second COMMITTED per job (short-circuit the duplicate).
  bool enforce_commit_boundary = true;
  // An attempt lost with its worker (the reaper ended its lease) counts
  // toward max_attempts, so a job that kills every worker is dead-lettered.
  // Off: only attempts whose handler reported a failure count.
  bool count_lost_attempts = true;
  // Lease expiry is the store's now + lease_ms. Off: the claimant's own
  // clock reading (ClaimRequest::client_now_ms) is trusted instead.
  bool store_clock = true;
  // A commit writes its effect and the COMMITTED record in one
  // transaction. Off: the effect first, in a transaction of its own, then
  // the commit in another (FM_002's partial write).
  bool effect_with_commit = true;
  // A queue's depth limit refuses enqueues past it (kOverloaded), and a
  // job whose deadline passed before it started is EXPIRED at claim, never
  // run. Off: every enqueue is accepted and every job runs however late.
  bool admission_control = true;
  // An attempt's lease is extended only up to its cap: the job's
  // timeout_ms (or kDefaultAttemptCapMs) and one lease more, for its worker
  // to stop the handler and report the timeout itself; a heartbeat past it is refused
  // (kAborted, audited `capped`) and the lease runs out, so a worker that
  // can reach the store but not what its handler calls cannot hold a job
  // forever (FM_014). Off: heartbeats extend a lease without end.
  bool lease_cap = true;
};

// The cap on one attempt's lease for a job without a timeout of its own.
inline constexpr DurationMs kDefaultAttemptCapMs = 3'600'000;

}  // namespace lab
