// MemoryBackend: the reference model, all records in plain C++ containers.
//
// It shares every rule with the SQL backends (record_store.h) and differs
// only in persistence: nothing survives the object, which is the data
// itself, so several handles (RecordStores) may share one and a reopen
// finds everything committed. Used as the oracle in differential tests and
// for fast exploration. Its own writes cannot fail, but a decorator's
// (fault_backend.h) can fail any primitive between them, so a transaction
// keeps an undo log and a rollback undoes what it wrote. Indexes keep every operation's cost
// independent of how many jobs and executions it holds (the simulator runs 10,000-job seeds):
// pending jobs in claim order per queue, live executions by state and expiry, executions by job,
// the jobs that have an effect. Thread-safety: one thread at a time.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "store/record_store.h"

namespace lab {

class MemoryBackend final : public StoreBackend {
 public:
  Result<void> BeginWrite() override;
  Result<void> CommitWrite() override;
  Result<void> Rollback() override;
  Result<void> Savepoint() override;
  Result<void> ReleaseSavepoint() override;
  Result<void> RollbackToSavepoint() override;
  Result<void> Reopen() override;
  Result<std::optional<Job>> LoadJob(JobId id) override;
  Result<std::optional<Job>> LoadJobByKey(const std::string& queue,
                                          const std::string& key) override;
  Result<std::optional<Execution>> LoadExecution(ExecutionId id) override;
  Result<std::vector<Job>> LoadClaimable(const std::string& queue, TimeMs now, int limit) override;
  Result<std::vector<Execution>> LoadExpired(ExecState state, TimeMs now) override;
  Result<std::optional<ExecutionId>> FindCommitted(JobId job, ExecutionId other_than) override;
  Result<JobId> InsertJob(const Job& job) override;
  Result<ExecutionId> InsertExecution(const Execution& exec) override;
  Result<void> SaveJob(const Job& job) override;
  Result<void> SaveExecution(const Execution& exec) override;
  Result<void> InsertEffect(const EffectRecord& effect) override;
  Result<std::optional<EffectRecord>> LoadEffect(int64_t id) override;
  Result<std::vector<EffectRecord>> LoadOutbox(int limit) override;
  Result<void> SaveDelivery(const EffectRecord& effect) override;
  Result<void> AppendAudit(const AuditEntry& entry) override;
  Result<Snapshot> LoadSnapshot() override;
  Result<std::vector<JobId>> LoadFinished(TimeMs cutoff, int limit) override;
  Result<NewestIds> LoadNewestIds() override;
  Result<PruneResult> DeleteJobs(std::span<const JobId> jobs) override;
  Result<std::vector<Job>> LoadJobs(const JobFilter& filter) override;
  Result<JobDetail> LoadJobRecords(JobId job) override;
  Result<std::vector<StateCount>> LoadCounts() override;
  Result<int64_t> LoadQueueLimit(const std::string& queue) override;
  Result<void> SaveQueueLimit(const QueueLimit& limit) override;
  Result<std::vector<QueueLimit>> LoadQueueLimits() override;
  Result<int64_t> CountOpen(const std::string& queue, int64_t cap) override;

 private:
  std::map<JobId, Job> jobs_;
  std::map<ExecutionId, Execution> executions_;
  std::map<std::pair<std::string, std::string>, JobId> keys_;
  std::vector<EffectRecord> effects_;
  std::vector<AuditEntry> audit_;

  // (-priority, run_at, id): claim order within a queue, PENDING jobs only.
  using ReadyKey = std::tuple<int, TimeMs, JobId>;
  std::map<std::string, std::set<ReadyKey>> pending_;
  // (state, lease expiry, id) of every live execution.
  std::set<std::tuple<ExecState, TimeMs, ExecutionId>> live_;
  std::map<JobId, std::vector<ExecutionId>> execs_by_job_;
  std::set<JobId> effect_jobs_;
  // Pending outbox effects: (effect id, job id), and their jobs.
  std::set<std::pair<int64_t, JobId>> outbox_;
  std::set<JobId> outbox_jobs_;
  // (finished_at, id) of every finished job, for retention.
  std::set<std::pair<TimeMs, JobId>> finished_;
  // Unfinished (PENDING or RUNNING) jobs per queue, for admission control.
  std::map<std::string, int64_t> open_;
  std::map<std::string, int64_t> limits_;  // Queues with a depth limit.

  // Writes `job` over `stored`, keeping the indexes true.
  void Replace(Job& stored, const Job& job);
  void Replace(Execution& stored, const Execution& exec);
  // Puts back what DeleteJobs removed (its undo).
  void Restore(const Snapshot& removed);
  void Index(const Job& job);
  void Unindex(const Job& job);
  void Index(const EffectRecord& effect);
  void Unindex(const EffectRecord& effect);
  // The ledger effect with `id`, if any (effects_ is ordered by id).
  EffectRecord* FindEffect(int64_t id);
  void Index(const Execution& exec);
  void Unindex(const Execution& exec);

  // Records how to undo a write of the open transaction.
  void OnUndo(std::function<void()> undo);
  // Undoes the writes logged after `mark`, newest first.
  void UndoTo(size_t mark);

  bool in_txn_ = false;
  std::optional<size_t> savepoint_;  // Undo log length at the savepoint.
  std::vector<std::function<void()>> undo_;
};

// A store over a fresh MemoryBackend of its own.
std::unique_ptr<RecordStore> MakeMemoryStore(Clock& clock, StoreOptions options = {});

}  // namespace lab
