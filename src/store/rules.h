// The Store's semantics, once, as pure functions over loaded records.
//
// Each Plan* function looks at the job and execution a call concerns and
// decides what the call does: the new states, the effect to record, the audit
// entries, or a refusal. A backend (MemoryStore, SqliteStore) loads the
// records inside its transaction, asks for a plan, applies it with ApplyPlan
// and persists the result. So every backend has the same semantics by
// construction, and the conformance suite checks the persistence.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "core/status.h"
#include "store/types.h"

namespace lab {

struct Plan {
  // Execution changes.
  std::optional<ExecState> exec_state;
  std::optional<TimeMs> lease_expires_at_ms;
  std::optional<TimeMs> ended_at_ms;
  std::optional<std::string> reason;
  // Job changes.
  std::optional<JobState> job_state;
  std::optional<TimeMs> run_at_ms;
  std::optional<std::string> last_error;
  std::optional<int> attempts_at_redrive;
  // Commit: record this effect in the ledger, in the same transaction.
  std::optional<Effect> effect;
  CommitOutcome commit_outcome = CommitOutcome::kCommitted;
  FailOutcome fail_outcome = FailOutcome::kRetryScheduled;
  // Audit entries to append (seq assigned by the backend).
  std::vector<AuditEntry> audit;
  // A refused call: the audit entries above are still written (a fenced
  // call leaves a durable signal, INV_005), then this error is returned.
  std::optional<Error> refusal;

  bool changes_anything() const {
    return exec_state || lease_expires_at_ms || job_state || run_at_ms || attempts_at_redrive ||
           effect || !audit.empty();
  }
};

struct PlanContext {
  TimeMs now_ms = 0;
  StoreOptions options;
};

Plan PlanHeartbeat(const Job& job, const Execution& exec, const LeaseRef& lease,
                   DurationMs lease_ms, const PlanContext& ctx);
Plan PlanBegin(const Job& job, const Execution& exec, const LeaseRef& lease,
               const PlanContext& ctx);
// `committed_by` is the id of another execution of this job that already
// crossed COMMITTED, if any.
Plan PlanCommit(const Job& job, const Execution& exec, const LeaseRef& lease,
                const std::optional<Effect>& effect, std::optional<ExecutionId> committed_by,
                const PlanContext& ctx);
Plan PlanFinish(const Job& job, const Execution& exec, const LeaseRef& lease,
                const PlanContext& ctx);
Plan PlanFail(const Job& job, const Execution& exec, const LeaseRef& lease,
              const FailRequest& request, const PlanContext& ctx);
// For a live LEASED/IN_PROGRESS execution whose lease has expired.
Plan PlanReap(const Job& job, const Execution& exec, const PlanContext& ctx);
// A worker lets go of its live LEASED/IN_PROGRESS execution before its
// lease expires (it cannot go on with the job): ABORTED with `why`, the job
// re-queued at once like a reaped one.
Plan PlanRelease(const Job& job, const Execution& exec, const LeaseRef& lease, std::string_view why,
                 const PlanContext& ctx);
// A worker puts its live LEASED/IN_PROGRESS execution back unrun (a guard
// holds the job): ABORTED with the reason, the job PENDING at the request's
// time, and the attempt given back.
Plan PlanDefer(const Job& job, const Execution& exec, const LeaseRef& lease,
               const DeferRequest& request, const PlanContext& ctx);
// For a COMMITTED execution whose lease has expired (its worker is gone).
Plan PlanReconcile(const Job& job, const Execution& exec, const PlanContext& ctx);
Plan PlanRedrive(const Job& job, const PlanContext& ctx);
// Admission control. Whether a ready job's deadline has passed, so a claim
// must expire it instead of running it (never with the guard off).
bool PastDeadline(const Job& job, const PlanContext& ctx);
// PENDING -> EXPIRED with the reason, for a job PastDeadline says is late.
Plan PlanExpire(const Job& job, const PlanContext& ctx);
// An enqueue (or a redrive) into `queue` holding `open` unfinished jobs,
// at most `max_depth` (0: no limit): kOverloaded when it is full and
// admission control is on, its message saying what was `refused`.
Result<void> CheckAdmission(const std::string& queue, int64_t open, int64_t max_depth,
                            const PlanContext& ctx, std::string_view refused);
Result<void> CheckQueueLimit(const QueueLimit& limit);
// The store-level audit entry (job 0) of a limit set or removed.
AuditEntry LimitAudit(const QueueLimit& limit, const PlanContext& ctx);
// A reconciliation drill's finding about `job` (queue/drill.h): a signal,
// the job's state before and after.
AuditEntry FindingAudit(const Job& job, std::string_view finding, const PlanContext& ctx);
// The outbox: effect's delivery to `to` (kDelivered: the receiver
// acknowledged it; kPending: deliver it again, for `why`), with its audit
// signal on `job`. None when it is there already; kFailedPrecondition for
// an effect that is not an outbox's.
struct DeliveryChange {
  EffectRecord effect;
  AuditEntry audit;
};
Result<std::optional<DeliveryChange>> PlanDelivery(const Job& job, const EffectRecord& effect,
                                                   Delivery to, std::string_view why,
                                                   const PlanContext& ctx);

// Claim: the new execution for `job` (id left 0 for the backend to assign),
// the job after the claim, and the audit entries.
struct ClaimPlan {
  Job job;
  Execution exec;
  AuditEntry job_audit;
  AuditEntry exec_audit;  // execution_id filled in by the backend.
};
ClaimPlan PlanClaim(const Job& job, const ClaimRequest& request, const PlanContext& ctx);
// The limits of what a caller may ask, checked before any transaction
// starts (a key with a NUL byte must not reach a backend that would cut it):
// names are text (core/text.h), numbers and times within the engine's
// ranges. kInvalidArgument names the field and its range.
inline constexpr int kMaxAttempts = 1'000'000;
inline constexpr int kMaxPriority = 1'000'000;
inline constexpr int kMaxClaimBatch = 10'000;
inline constexpr int kMaxEnqueueBatch = 10'000;
inline constexpr size_t kMaxPayloadBytes = 64u << 20;
inline constexpr int64_t kMaxQueueDepth = 1'000'000'000;
Result<void> CheckNewJob(const NewJob& request);
// 1 to kMaxEnqueueBatch jobs, each passing CheckNewJob; the error names the
// first bad job's index.
Result<void> CheckEnqueueBatch(std::span<const NewJob> jobs);
Result<void> CheckClaim(const ClaimRequest& request);
Result<void> CheckLeaseMs(DurationMs lease_ms);
Result<void> CheckFailRequest(const FailRequest& request);
Result<void> CheckDeferRequest(const DeferRequest& request);
// 1 to kMaxEnqueueBatch items, each fail request passing CheckFailRequest;
// the error names the item.
Result<void> CheckCompletions(std::span<const Completion> items);

// Retention: 0 to kMaxDurationMs retained, 1 to kMaxEnqueueBatch jobs a call.
Result<void> CheckPruneRequest(const PruneRequest& request);

// Which of `finished` (jobs eligible by age, oldest first) a prune deletes:
// the first `limit` of them other than the newest ids' jobs.
std::vector<JobId> PrunableJobs(std::vector<JobId> finished, const NewestIds& newest, int limit);
// The prune's own audit entry (job 0): what was deleted and why.
AuditEntry PruneAudit(const PruneResult& pruned, const PruneRequest& request,
                      const PlanContext& ctx);

// Enqueue of a brand-new job (id left 0 for the backend to assign).
// `request` has passed CheckNewJob (the store checks it before its transaction).
Job PlanEnqueue(const NewJob& request, const PlanContext& ctx);
AuditEntry EnqueueAudit(const Job& job);

// Applies a plan's changes to the loaded records, asserting every transition
// is legal when fencing is enforced. The plan must not be a refusal.
void ApplyPlan(const Plan& plan, const PlanContext& ctx, Job& job, Execution& exec);

// Claim order: higher priority first, then earlier run_at, then lower id.
bool ClaimsBefore(const Job& a, const Job& b);

}  // namespace lab
