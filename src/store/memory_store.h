// MemoryStore: the reference model, all records in plain C++ containers.
//
// It shares every rule with SqliteStore (record_store.h) and differs only in
// persistence: nothing survives the object. Used as the oracle in
// differential tests and for fast exploration. Writes cannot fail, so a
// transaction is rolled back only before anything was written (asserted).
// Thread-safety: one thread at a time.
#pragma once

#include <map>
#include <utility>

#include "store/record_store.h"

namespace lab {

class MemoryStore final : public RecordStore {
 public:
  explicit MemoryStore(Clock& clock, StoreOptions options = {}) : RecordStore(clock, options) {}

 protected:
  Result<void> BeginWrite() override;
  Result<void> CommitWrite() override;
  Result<void> Rollback() override;
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
  Result<std::vector<Job>> LoadJobs(const JobFilter& filter) override;
  Result<JobDetail> LoadJobRecords(JobId job) override;
  Result<std::vector<StateCount>> LoadCounts() override;

 private:
  std::map<JobId, Job> jobs_;
  std::map<ExecutionId, Execution> executions_;
  std::map<std::pair<std::string, std::string>, JobId> keys_;
  std::vector<EffectRecord> effects_;
  std::vector<AuditEntry> audit_;
  bool in_txn_ = false;
  bool dirty_ = false;
};

}  // namespace lab
