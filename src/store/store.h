// Store: the durable record of jobs, executions, the effect ledger and the
// audit log, with one atomic operation per state transition.
//
// Every call after Claim presents a LeaseRef (execution id + fencing token);
// with fencing enforced, a stale or ended lease is refused with kAborted and
// leaves a "fenced" audit signal. Time for leases is the store's own clock.
// A call that returned success is durable (for SQLite: synchronous=FULL).
// If a durable commit fails, the handle becomes fail-stop: the call returns
// kUnknownOutcome and every later call kFailStopped; recovery is
// reopen + reconcile, never a blind retry.
// Thread-safety: a Store handle is used by one thread at a time; several
// handles (processes, threads) may share one database file.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "core/status.h"
#include "store/types.h"

namespace lab {

// What every call on a fail-stopped handle gets (see above).
inline std::unexpected<Error> FailStopped() {
  return MakeError(ErrorCode::kFailStopped,
                   "store handle is fail-stopped after a failed durable commit; reopen it");
}

class Store {
 public:
  virtual ~Store() = default;

  // Adds a job. With an idempotency key already present in the queue,
  // returns the existing job (created = false) and changes nothing. A queue
  // at its depth limit refuses it (kOverloaded; SetQueueLimit). A job with
  // a deadline that is still PENDING after it is EXPIRED by the claim that
  // finds it, never run.
  virtual Result<EnqueueResult> Enqueue(const NewJob& job) = 0;
  // Adds every job in one transaction, durable before it returns: all or
  // none. Results in order; a key already used (in the store, or earlier in
  // the batch) names its existing job (created = false). Every job is
  // checked before the transaction starts, and one bad job refuses the
  // batch (kInvalidArgument naming its index). 1 to kMaxEnqueueBatch jobs.
  virtual Result<std::vector<EnqueueResult>> EnqueueBatch(std::span<const NewJob> jobs) = 0;
  // Leases up to max_jobs ready jobs (PENDING, run_at reached), best first,
  // and with request.begin starts them too (IN_PROGRESS). Each lease's token
  // is the job's new attempt number.
  virtual Result<std::vector<Lease>> Claim(const ClaimRequest& request) = 0;
  // Extends a live lease (LEASED, IN_PROGRESS or COMMITTED) to now + lease_ms.
  virtual Result<void> Heartbeat(const LeaseRef& lease, DurationMs lease_ms) = 0;
  // LEASED -> IN_PROGRESS.
  virtual Result<void> Begin(const LeaseRef& lease) = 0;
  // IN_PROGRESS -> COMMITTED, writing `effect` to the ledger in the same
  // transaction, and with CommitThen::kFinish on to DONE (the job SUCCEEDED).
  // If another execution of the job already committed, this one is aborted
  // instead and kAlreadyCommitted is returned (no effect).
  virtual Result<CommitOutcome> Commit(const LeaseRef& lease, const std::optional<Effect>& effect,
                                       CommitThen then) = 0;
  Result<CommitOutcome> Commit(const LeaseRef& lease, const std::optional<Effect>& effect) {
    return Commit(lease, effect, CommitThen::kStay);
  }
  // Several attempts' ends in one transaction, durable before it returns:
  // each item is what Commit (with kFinish) or Fail would do for it, in
  // order, and succeeds or is refused on its own (fenced: kAborted with its
  // audit signal; not found; out of order). An outer error means no item
  // was recorded (kUnknownOutcome: unknown, as for any call). 1 to
  // kMaxEnqueueBatch items, each checked before the transaction starts.
  virtual Result<std::vector<Result<CompleteOutcome>>> Complete(
      std::span<const Completion> items) = 0;
  // COMMITTED -> DONE; the job SUCCEEDED. Idempotent on a DONE execution.
  virtual Result<void> Finish(const LeaseRef& lease) = 0;
  // LEASED or IN_PROGRESS -> ABORTED with `why` in the audit trail; the job
  // is re-queued at once (or dead-lettered if its attempts are spent). For a
  // worker that cannot go on with a job it holds, so nobody waits out the lease.
  virtual Result<void> Release(const LeaseRef& lease, std::string_view why) = 0;
  // LEASED or IN_PROGRESS -> ABORTED with the request's reason, before the
  // handler ran: the job is PENDING again at request.run_at_ms and the
  // attempt is given back (it ran nothing), so a deferral never brings a
  // job nearer its dead letter. For a worker whose guard holds the job (the
  // retry budget: the downstream system has had its share of retries).
  virtual Result<void> Defer(const LeaseRef& lease, const DeferRequest& request) = 0;
  // IN_PROGRESS -> FAILED; the job is retried at retry_at or dead-lettered.
  virtual Result<FailOutcome> Fail(const LeaseRef& lease, const FailRequest& request) = 0;
  // Aborts every LEASED/IN_PROGRESS execution whose lease has expired and
  // re-queues (or dead-letters) its job. Returns how many were aborted.
  virtual Result<int> ReapExpired() = 0;
  // Finalizes every COMMITTED execution whose lease has expired (its worker
  // died between commit and finish): DONE, job SUCCEEDED. Returns the count.
  virtual Result<int> Reconcile() = 0;
  // DEAD -> PENDING, with a fresh attempt budget (tokens keep counting up).
  virtual Result<void> Redrive(JobId job) = 0;
  // Records a reconciliation drill's finding about the job (queue/drill.h):
  // an audit entry `drill` with `finding` as its detail; nothing else
  // changes. kNotFound for an unknown job.
  virtual Result<void> RecordFinding(JobId job, std::string_view finding) = 0;
  // The outbox (DESIGN's third effect shape; queue/relay.h). Up to `limit`
  // ledger effects a relay is still to deliver (Delivery::kPending), oldest
  // first; 1 to kMaxEnqueueBatch.
  virtual Result<std::vector<EffectRecord>> Outbox(int limit) = 0;
  // The receiver acknowledged outbox effect `effect`: kDelivered at now,
  // audited `deliver` on its job. Again on a delivered effect: nothing
  // changes (a relay may deliver twice). kNotFound for an unknown effect,
  // kFailedPrecondition for one that is not an outbox's.
  virtual Result<void> MarkDelivered(int64_t effect) = 0;
  // A delivered outbox effect is to be delivered again (a drill found the
  // receiver lacks it): kPending, audited `redeliver` with `why`, and the
  // relay sends it again under the same key, which the receiver
  // deduplicates. On a pending effect nothing changes. Errors as above.
  virtual Result<void> Redeliver(int64_t effect, std::string_view why) = 0;
  // The retention policy (PruneRequest): deletes up to request.limit jobs
  // that finished at least request.retain ago, with everything recorded
  // about them, and audits the deletion. A job whose outbox effect is still
  // pending is kept until its relay delivers it. The newest job and the job of the
  // newest execution are kept, so no id is ever handed out twice. A later
  // call presenting a pruned execution is refused (kNotFound), never
  // applied; an idempotency key is remembered only while its job is kept.
  virtual Result<PruneResult> Prune(const PruneRequest& request) = 0;
  // Admission control: gives a queue a depth limit (max_depth 0 removes
  // it). An enqueue that finds max_depth unfinished jobs (PENDING or
  // RUNNING) in its queue is refused with kOverloaded, and nothing of it is
  // written; a repeated key that names an existing job is not refused.
  virtual Result<void> SetQueueLimit(const QueueLimit& limit) = 0;
  // Every queue's limit, by queue name.
  virtual Result<std::vector<QueueLimit>> QueueLimits() = 0;

  virtual Result<Job> GetJob(JobId job) = 0;
  // Operator reads: jobs by queue and state; one job's whole record; job
  // counts by queue and state (ordered by queue, then state).
  virtual Result<std::vector<Job>> ListJobs(const JobFilter& filter) = 0;
  virtual Result<JobDetail> InspectJob(JobId job) = 0;
  virtual Result<std::vector<StateCount>> CountJobs() = 0;
  // A consistent read-only copy of everything, for checkers and tools.
  virtual Result<Snapshot> ReadSnapshot() = 0;

  // How many times this handle re-established its connection after losing
  // it (a network store); 0 for a file or memory.
  virtual int64_t reconnects() const { return 0; }
};

}  // namespace lab
