// RecordStore: every Store operation written once, over storage primitives.
//
// An operation opens a transaction, loads the records it concerns, asks
// rules.h for a Plan, and persists it. Backends implement only the
// primitives (backend.h: load, insert, save, transactions), so memory,
// SQLite and PostgreSQL share one semantics, and they are held by
// composition, so one fault decorator serves them all. A failed durable
// commit makes the handle fail-stop (see store.h). Thread-safety: as Store.
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "store/backend.h"
#include "store/rules.h"
#include "store/store.h"

namespace lab {

class RecordStore final : public Store {
 public:
  // `backend` may be shared with other handles (the memory backend is the
  // data itself); each RecordStore is one handle with its own fail-stop.
  RecordStore(std::shared_ptr<StoreBackend> backend, Clock& clock, StoreOptions options)
      : backend_(std::move(backend)), clock_(clock), options_(options) {}

  Result<EnqueueResult> Enqueue(const NewJob& job) final;
  Result<std::vector<EnqueueResult>> EnqueueBatch(std::span<const NewJob> jobs) final;
  Result<std::vector<Lease>> Claim(const ClaimRequest& request) final;
  Result<void> Heartbeat(const LeaseRef& lease, DurationMs lease_ms) final;
  Result<void> Begin(const LeaseRef& lease) final;
  using Store::Commit;
  Result<CommitOutcome> Commit(const LeaseRef& lease, const std::optional<Effect>& effect,
                               CommitThen then) final;
  Result<std::vector<Result<CompleteOutcome>>> Complete(std::span<const Completion> items) final;
  Result<void> Finish(const LeaseRef& lease) final;
  Result<void> Release(const LeaseRef& lease, std::string_view why) final;
  Result<void> Defer(const LeaseRef& lease, const DeferRequest& request) final;
  Result<FailOutcome> Fail(const LeaseRef& lease, const FailRequest& request) final;
  Result<int> ReapExpired() final;
  Result<int> Reconcile() final;
  Result<void> Redrive(JobId job) final;
  Result<void> RecordFinding(JobId job, std::string_view finding) final;
  Result<std::vector<EffectRecord>> Outbox(int limit) final;
  Result<void> MarkDelivered(int64_t effect) final;
  Result<void> Redeliver(int64_t effect, std::string_view why) final;
  Result<PruneResult> Prune(const PruneRequest& request) final;
  Result<void> SetQueueLimit(const QueueLimit& limit) final;
  Result<std::vector<QueueLimit>> QueueLimits() final;
  Result<Job> GetJob(JobId job) final;
  Result<std::vector<Job>> ListJobs(const JobFilter& filter) final;
  Result<JobDetail> InspectJob(JobId job) final;
  Result<std::vector<StateCount>> CountJobs() final;
  Result<Snapshot> ReadSnapshot() final;

  // Group commit (store/group_commit.h): between BeginGroup and EndGroup,
  // every write operation runs in its own savepoint of one outer write
  // transaction, so a failed operation undoes only its own writes, and
  // EndGroup makes them all durable with one commit. An operation's success
  // inside a group means nothing until EndGroup succeeds. EndGroup fails
  // (and writes nothing) when an operation left the handle fail-stopped;
  // a failed durable commit is kUnknownOutcome and fail-stops the handle.
  Result<void> BeginGroup();
  Result<void> EndGroup();
  bool failed() const { return failed_; }
  // Brings a fail-stopped handle back: the backend drops what it held in
  // memory and reads the durable state afresh (StoreBackend::Reopen). What
  // a call answered kUnknownOutcome did is then whatever that state says;
  // the caller reconciles (Reconcile, the reaper) instead of guessing.
  Result<void> Reopen();
  int64_t reconnects() const override { return backend_->reconnects(); }
  // Whether the durable state is whole (StoreBackend::CheckIntegrity).
  Result<void> CheckIntegrity() { return backend_->CheckIntegrity(); }

 private:
  struct Txn {
    bool keep_on_error = false;  // Commit even though the body failed (fenced signal).
  };
  struct Loaded {
    Job job;
    Execution exec;
  };

  // Runs `body` in one write transaction.
  template <typename T>
  Result<T> Transact(const std::function<Result<T>(Txn&)>& body);
  // Makes the open write transaction durable; on failure rolls it back and
  // says whether anything may have been written (kUnknownOutcome, the handle
  // then fail-stopped) or not (kUnavailable, e.g. busy).
  Result<void> CommitOrStop();
  // kFailStopped once the handle is fail-stopped.
  Result<void> CheckNotFailed() const;
  // Rolls back; on failure marks the handle fail-stopped.
  void RollbackOrStop();
  PlanContext Context() { return PlanContext{clock_.NowMs(), options_}; }
  // What admission control has read in one transaction: each queue's
  // limit and unfinished jobs (counted up to the limit), kept current as
  // the transaction enqueues.
  struct QueueDepth {
    int64_t max_depth = 0;
    int64_t open = 0;
  };
  using Depths = std::map<std::string, QueueDepth>;
  // One enqueue inside the caller's transaction (the request is checked).
  Result<EnqueueResult> EnqueueIn(const NewJob& request, const PlanContext& ctx, Depths& depths);
  // Admission control for one more unfinished job in `queue`, inside the
  // caller's transaction: kOverloaded (saying what was `refused`) when the
  // queue is at its depth limit; otherwise counted in `depths`.
  Result<void> Admit(const std::string& queue, const PlanContext& ctx, Depths& depths,
                     std::string_view refused);
  Result<Loaded> LoadLease(const LeaseRef& lease);
  // MarkDelivered and Redeliver: effect `id`'s delivery to `to`.
  Result<void> ChangeDelivery(int64_t id, Delivery to, std::string_view why);
  // Claims each of `ready` into `leases`, or expires it when its deadline
  // has passed; returns how many it expired.
  Result<int> ClaimEach(const std::vector<Job>& ready, const ClaimRequest& request,
                        const PlanContext& ctx, std::vector<Lease>& leases);
  // One item of Complete inside its transaction: the outer error is the
  // backend's (the batch fails), the inner one the item's refusal.
  Result<Result<CompleteOutcome>> CompleteIn(const Completion& item, const PlanContext& ctx);
  // Writes a plan: its audit entries, then, unless it is a refusal (returned
  // as the inner error), its effect and records. The outer error is the
  // backend's.
  Result<std::optional<Error>> Settle(const Plan& plan, const PlanContext& ctx, Loaded& rec);
  // Settle for one operation: a refusal is its error, and the transaction
  // keeps the refusal's audit entries (the fenced signal).
  Result<void> Persist(const Plan& plan, const PlanContext& ctx, Loaded& rec, Txn& txn);
  // Shared body of the simple lease operations (heartbeat, begin, finish).
  Result<void> LeaseOp(const LeaseRef& lease,
                       const std::function<Plan(const Loaded&, const PlanContext&)>& plan_fn);
  // Shared body of the periodic sweeps (reap, reconcile): every expired
  // execution in `states`, in one transaction.
  Result<int> Sweep(std::initializer_list<ExecState> states,
                    Plan (*plan_fn)(const Job&, const Execution&, const PlanContext&));

  std::shared_ptr<StoreBackend> backend_;
  Clock& clock_;
  StoreOptions options_;
  bool failed_ = false;    // Fail-stop after an indeterminate durable commit.
  bool in_group_ = false;  // Between BeginGroup and EndGroup.
};

}  // namespace lab
