// RecordStore: every Store operation written once, over storage primitives.
//
// An operation opens a transaction, loads the records it concerns, asks
// rules.h for a Plan, and persists it. Backends implement only the
// primitives (load, insert, save, transactions), so MemoryStore and
// SqliteStore share one semantics. A failed durable commit makes the handle
// fail-stop (see store.h). Thread-safety: as Store.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "store/rules.h"
#include "store/store.h"

namespace lab {

class RecordStore : public Store {
 public:
  RecordStore(Clock& clock, StoreOptions options) : clock_(clock), options_(options) {}

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
  Result<FailOutcome> Fail(const LeaseRef& lease, const FailRequest& request) final;
  Result<int> ReapExpired() final;
  Result<int> Reconcile() final;
  Result<void> Redrive(JobId job) final;
  Result<PruneResult> Prune(const PruneRequest& request) final;
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

 protected:
  // Transactions. BeginWrite starts a write transaction (SQLite: BEGIN
  // IMMEDIATE); CommitWrite makes it durable; Rollback undoes it. A failed
  // rollback leaves the handle's state unknown, so it fail-stops the handle.
  virtual Result<void> BeginWrite() = 0;
  virtual Result<void> CommitWrite() = 0;
  virtual Result<void> Rollback() = 0;
  // One level of savepoint inside a write transaction.
  virtual Result<void> Savepoint() = 0;
  virtual Result<void> ReleaseSavepoint() = 0;
  // Undoes the writes since Savepoint() and releases it.
  virtual Result<void> RollbackToSavepoint() = 0;

  virtual Result<std::optional<Job>> LoadJob(JobId id) = 0;
  virtual Result<std::optional<Job>> LoadJobByKey(const std::string& queue,
                                                  const std::string& key) = 0;
  virtual Result<std::optional<Execution>> LoadExecution(ExecutionId id) = 0;
  // PENDING jobs of `queue` with run_at <= now, in ClaimsBefore order.
  virtual Result<std::vector<Job>> LoadClaimable(const std::string& queue, TimeMs now,
                                                 int limit) = 0;
  // Executions in `state` whose lease expired at or before now, by id.
  virtual Result<std::vector<Execution>> LoadExpired(ExecState state, TimeMs now) = 0;
  // Another execution of `job` that crossed COMMITTED (COMMITTED or DONE).
  virtual Result<std::optional<ExecutionId>> FindCommitted(JobId job, ExecutionId other_than) = 0;
  virtual Result<JobId> InsertJob(const Job& job) = 0;
  virtual Result<ExecutionId> InsertExecution(const Execution& exec) = 0;
  // Write a record's mutable fields: a job's state, attempts,
  // attempts_at_redrive, run_at, last_error and finished_at; an execution's
  // state, lease_expires_at, ended_at and reason. The others never change
  // once inserted, and writing only these leaves the indexes over the others
  // untouched: fewer pages a transaction, fewer bytes a sync.
  virtual Result<void> SaveJob(const Job& job) = 0;
  virtual Result<void> SaveExecution(const Execution& exec) = 0;
  virtual Result<void> InsertEffect(const EffectRecord& effect) = 0;
  virtual Result<void> AppendAudit(const AuditEntry& entry) = 0;
  virtual Result<Snapshot> LoadSnapshot() = 0;
  // Retention. Jobs SUCCEEDED or DEAD with finished_at <= cutoff, oldest
  // finished first (then by id), at most `limit`.
  virtual Result<std::vector<JobId>> LoadFinished(TimeMs cutoff, int limit) = 0;
  virtual Result<NewestIds> LoadNewestIds() = 0;
  // Deletes the jobs with their audit entries, effects and executions;
  // returns how many rows of each went (cutoff_ms left 0).
  virtual Result<PruneResult> DeleteJobs(std::span<const JobId> jobs) = 0;
  // Reads for operators; no locks taken.
  virtual Result<std::vector<Job>> LoadJobs(const JobFilter& filter) = 0;
  // Executions, ledger effects and audit entries of one job (job left empty).
  virtual Result<JobDetail> LoadJobRecords(JobId job) = 0;
  virtual Result<std::vector<StateCount>> LoadCounts() = 0;

  Clock& clock() { return clock_; }
  const StoreOptions& options() const { return options_; }

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
  // One enqueue inside the caller's transaction (the request is checked).
  Result<EnqueueResult> EnqueueIn(const NewJob& request, const PlanContext& ctx);
  Result<Loaded> LoadLease(const LeaseRef& lease);
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
  // Shared body of the periodic sweeps (reap, reconcile).
  Result<int> Sweep(ExecState state,
                    Plan (*plan_fn)(const Job&, const Execution&, const PlanContext&));

  Clock& clock_;
  StoreOptions options_;
  bool failed_ = false;    // Fail-stop after an indeterminate durable commit.
  bool in_group_ = false;  // Between BeginGroup and EndGroup.
};

}  // namespace lab
