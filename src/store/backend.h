// StoreBackend: the storage primitives a RecordStore runs every operation on.
//
// RecordStore (record_store.h) holds a backend by composition: the rules are
// written once over these primitives, and a decorator (fault_backend.h) can
// fail any primitive of any backend. Memory, SQLite and PostgreSQL each
// implement them.
//
// The error contract, the same for every backend, is what the runner
// decides on:
// * A primitive other than CommitWrite fails: nothing of the open
//   transaction will be written (the runner rolls it back). Its code says
//   what the caller does next (status.h): kUnavailable (busy, a
//   serialization failure, a dropped connection: retry), kResourceExhausted
//   (disk full: retry later), kDataLoss (corrupt: stop), kInternal.
// * CommitWrite fails with kUnavailable or kResourceExhausted: refused
//   before anything was made durable (SQLITE_BUSY, a serialization failure
//   answered by the server, a full disk: the commit record was never
//   written); the runner rolls back and the call may be retried.
// * CommitWrite fails with any other code: the transaction may or may not
//   be durable (an I/O error in the sync, a connection lost during COMMIT).
//   The runner answers kUnknownOutcome and fail-stops the handle; only
//   Reopen brings it back, and the caller reconciles instead of guessing.
// * Rollback fails: the handle's state is unknown; the runner fail-stops it.
// Thread-safety: one thread at a time (as Store).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/types.h"

namespace lab {

// SaveExecution's answer when no execution holds exec.id with exec.attempt:
// every backend checks the fencing token again where it writes, below the
// rules, and refuses the write.
inline std::unexpected<Error> NotHeldError(const Execution& exec) {
  return MakeError(ErrorCode::kInternal,
                   "execution " + std::to_string(exec.id) + " does not hold attempt " +
                       std::to_string(exec.attempt) + ": the write was refused");
}

// The codes with which CommitWrite says nothing was made durable.
inline bool RefusedUnwritten(ErrorCode code) {
  return code == ErrorCode::kUnavailable || code == ErrorCode::kResourceExhausted;
}

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;

  // Transactions. BeginWrite starts a write transaction (SQLite: BEGIN
  // IMMEDIATE); CommitWrite makes it durable; Rollback undoes it (and
  // succeeds when the backend already rolled back on its own).
  virtual Result<void> BeginWrite() = 0;
  virtual Result<void> CommitWrite() = 0;
  virtual Result<void> Rollback() = 0;
  // One level of savepoint inside a write transaction.
  virtual Result<void> Savepoint() = 0;
  virtual Result<void> ReleaseSavepoint() = 0;
  // Undoes the writes since Savepoint() and releases it.
  virtual Result<void> RollbackToSavepoint() = 0;
  // Drops whatever the handle holds in memory about the data (a
  // connection, a page cache) and connects again: the data is read afresh
  // from where it is durable. No transaction may be open.
  virtual Result<void> Reopen() = 0;

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
  // state, lease_expires_at, ended_at and reason (only where the row holds
  // exec.attempt: NotHeldError otherwise). Inserts refuse a second job with
  // a queue's key, a second execution with a job's attempt and a second
  // ledger effect for a job (UNIQUE constraints: kInternal or kDataLoss). The others never change
  // once inserted, and writing only these leaves the indexes over the others
  // untouched: fewer pages a transaction, fewer bytes a sync.
  virtual Result<void> SaveJob(const Job& job) = 0;
  virtual Result<void> SaveExecution(const Execution& exec) = 0;
  virtual Result<void> InsertEffect(const EffectRecord& effect) = 0;
  // The outbox: a ledger effect by id; up to `limit` pending ones, by id;
  // and writing an effect's delivery and delivered_at (its other fields
  // never change).
  virtual Result<std::optional<EffectRecord>> LoadEffect(int64_t id) = 0;
  virtual Result<std::vector<EffectRecord>> LoadOutbox(int limit) = 0;
  virtual Result<void> SaveDelivery(const EffectRecord& effect) = 0;
  virtual Result<void> AppendAudit(const AuditEntry& entry) = 0;
  virtual Result<Snapshot> LoadSnapshot() = 0;
  // Retention. Jobs finished (SUCCEEDED, DEAD or EXPIRED) with finished_at
  // <= cutoff and no outbox effect pending, oldest finished first (then by
  // id), at most `limit`.
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
  // Admission control. A queue's depth limit, 0 when it has none; inside
  // a write transaction it also holds the limit still (PostgreSQL: the row
  // locked), so two enqueues cannot both take the last place.
  virtual Result<int64_t> LoadQueueLimit(const std::string& queue) = 0;
  // Sets a queue's limit; 0 removes it.
  virtual Result<void> SaveQueueLimit(const QueueLimit& limit) = 0;
  // Every limit set, by queue name.
  virtual Result<std::vector<QueueLimit>> LoadQueueLimits() = 0;
  // The unfinished (PENDING or RUNNING) jobs of `queue`, counting no
  // further than `cap`: the cost is bounded by the limit, not the queue.
  virtual Result<int64_t> CountOpen(const std::string& queue, int64_t cap) = 0;

  // What the backend can check of its own storage (SQLite: PRAGMA
  // integrity_check): kDataLoss saying what is wrong. Nothing to check: ok.
  virtual Result<void> CheckIntegrity() { return {}; }

  // How many times this handle re-established its connection after losing
  // it (a network store); 0 for a file or memory.
  virtual int64_t reconnects() const { return 0; }
};

}  // namespace lab
