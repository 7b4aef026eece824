// MemoryStore: the reference model, all records in plain C++ containers.
//
// It shares every rule with SqliteStore (record_store.h) and differs only in
// persistence: nothing survives the object. Used as the oracle in
// differential tests and for fast exploration. Writes cannot fail, so a
// transaction is rolled back only before anything was written (asserted).
// Indexes keep every operation's cost independent of how many jobs and
// executions it holds (the simulator runs 10,000-job seeds): pending jobs in
// claim order per queue, live executions by state and expiry, executions by
// job, the jobs that have an effect. Thread-safety: one thread at a time.
#pragma once

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "store/record_store.h"

namespace lab {

class MemoryStore final : public RecordStore {
 public:
  explicit MemoryStore(Clock& clock, StoreOptions options = {}) : RecordStore(clock, options) {}

 protected:
  Result<void> BeginWrite() override;
  Result<void> CommitWrite() override;
  Result<void> Rollback() override;
  Result<void> Savepoint() override;
  Result<void> ReleaseSavepoint() override;
  Result<void> RollbackToSavepoint() override;
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
  Result<void> AppendAudit(const AuditEntry& entry) override;
  Result<Snapshot> LoadSnapshot() override;
  Result<std::vector<JobId>> LoadFinished(TimeMs cutoff, int limit) override;
  Result<NewestIds> LoadNewestIds() override;
  Result<PruneResult> DeleteJobs(std::span<const JobId> jobs) override;
  Result<std::vector<Job>> LoadJobs(const JobFilter& filter) override;
  Result<JobDetail> LoadJobRecords(JobId job) override;
  Result<std::vector<StateCount>> LoadCounts() override;

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
  // (finished_at, id) of every SUCCEEDED or DEAD job, for retention.
  std::set<std::pair<TimeMs, JobId>> finished_;

  void Index(const Job& job);
  void Unindex(const Job& job);
  void Index(const Execution& exec);
  void Unindex(const Execution& exec);

  bool in_txn_ = false;
  bool in_savepoint_ = false;
  bool txn_dirty_ = false;  // Written in this transaction before its savepoint.
  bool dirty_ = false;
};

}  // namespace lab
