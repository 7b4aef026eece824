#include "store/memory_store.h"

#include <algorithm>

#include "core/assert.h"
#include "store/state_machine.h"

namespace lab {

Result<void> MemoryStore::BeginWrite() {
  LAB_ASSERT(!in_txn_);
  in_txn_ = true;
  dirty_ = false;
  return {};
}

Result<void> MemoryStore::CommitWrite() {
  LAB_ASSERT(in_txn_);
  in_txn_ = false;
  return {};
}

Result<void> MemoryStore::Rollback() {
  LAB_ASSERT(in_txn_);
  // Every rule decides before it writes, so a failing operation has written
  // nothing. If that ever stops being true, this model is no longer atomic.
  LAB_ASSERT_MSG(!dirty_, "MemoryStore rollback after a write");
  in_txn_ = false;
  return {};
}

Result<std::optional<Job>> MemoryStore::LoadJob(JobId id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::optional<Job>();
  return std::optional<Job>(it->second);
}

Result<std::optional<Job>> MemoryStore::LoadJobByKey(const std::string& queue,
                                                     const std::string& key) {
  auto it = keys_.find({queue, key});
  if (it == keys_.end()) return std::optional<Job>();
  return LoadJob(it->second);
}

Result<std::optional<Execution>> MemoryStore::LoadExecution(ExecutionId id) {
  auto it = executions_.find(id);
  if (it == executions_.end()) return std::optional<Execution>();
  return std::optional<Execution>(it->second);
}

Result<std::vector<Job>> MemoryStore::LoadClaimable(const std::string& queue, TimeMs now,
                                                    int limit) {
  std::vector<Job> ready;
  for (const auto& [id, job] : jobs_) {
    if (job.queue == queue && job.state == JobState::kPending && job.run_at_ms <= now) {
      ready.push_back(job);
    }
  }
  std::sort(ready.begin(), ready.end(), ClaimsBefore);
  if (static_cast<int>(ready.size()) > limit) ready.resize(limit);
  return ready;
}

Result<std::vector<Execution>> MemoryStore::LoadExpired(ExecState state, TimeMs now) {
  std::vector<Execution> out;
  for (const auto& [id, exec] : executions_) {
    if (exec.state == state && exec.lease_expires_at_ms <= now) out.push_back(exec);
  }
  return out;
}

Result<std::optional<ExecutionId>> MemoryStore::FindCommitted(JobId job, ExecutionId other_than) {
  for (const auto& [id, exec] : executions_) {
    if (exec.job_id == job && id != other_than && IsCommitted(exec.state)) {
      return std::optional<ExecutionId>(id);
    }
  }
  return std::optional<ExecutionId>();
}

Result<JobId> MemoryStore::InsertJob(const Job& job) {
  dirty_ = true;
  const JobId id = jobs_.empty() ? 1 : jobs_.rbegin()->first + 1;
  Job stored = job;
  stored.id = id;
  jobs_.emplace(id, stored);
  if (job.key) keys_.emplace(std::make_pair(job.queue, *job.key), id);
  return id;
}

Result<ExecutionId> MemoryStore::InsertExecution(const Execution& exec) {
  dirty_ = true;
  const ExecutionId id = executions_.empty() ? 1 : executions_.rbegin()->first + 1;
  Execution stored = exec;
  stored.id = id;
  executions_.emplace(id, stored);
  return id;
}

Result<void> MemoryStore::SaveJob(const Job& job) {
  dirty_ = true;
  auto it = jobs_.find(job.id);
  LAB_ASSERT(it != jobs_.end());
  it->second = job;
  return {};
}

Result<void> MemoryStore::SaveExecution(const Execution& exec) {
  dirty_ = true;
  auto it = executions_.find(exec.id);
  LAB_ASSERT(it != executions_.end());
  it->second = exec;
  return {};
}

Result<void> MemoryStore::InsertEffect(const EffectRecord& effect) {
  // The ledger's uniqueness per job, as SQLite's UNIQUE(job_id) enforces it.
  for (const auto& e : effects_) {
    if (e.job_id == effect.job_id) {
      return MakeError(ErrorCode::kInternal, "effect ledger already has an effect for this job");
    }
  }
  dirty_ = true;
  EffectRecord stored = effect;
  stored.id = static_cast<int64_t>(effects_.size()) + 1;
  effects_.push_back(stored);
  return {};
}

Result<void> MemoryStore::AppendAudit(const AuditEntry& entry) {
  dirty_ = true;
  AuditEntry stored = entry;
  stored.seq = static_cast<int64_t>(audit_.size()) + 1;
  audit_.push_back(stored);
  return {};
}

Result<std::vector<Job>> MemoryStore::LoadJobs(const JobFilter& filter) {
  std::vector<Job> out;
  for (const auto& [id, job] : jobs_) {
    if (static_cast<int>(out.size()) >= filter.limit) break;
    if (filter.queue && job.queue != *filter.queue) continue;
    if (filter.state && job.state != *filter.state) continue;
    out.push_back(job);
  }
  return out;
}

Result<JobDetail> MemoryStore::LoadJobRecords(JobId job) {
  JobDetail d;
  for (const auto& [id, e] : executions_) {
    if (e.job_id == job) d.executions.push_back(e);
  }
  for (const auto& e : effects_) {
    if (e.job_id == job) d.effects.push_back(e);
  }
  for (const auto& a : audit_) {
    if (a.job_id == job) d.audit.push_back(a);
  }
  return d;
}

Result<std::vector<StateCount>> MemoryStore::LoadCounts() {
  std::map<std::pair<std::string, JobState>, int64_t> counts;
  for (const auto& [id, job] : jobs_) ++counts[{job.queue, job.state}];
  std::vector<StateCount> out;
  for (const auto& [key, n] : counts) out.push_back({key.first, key.second, n});
  return out;
}

Result<Snapshot> MemoryStore::LoadSnapshot() {
  Snapshot s;
  for (const auto& [id, job] : jobs_) s.jobs.push_back(job);
  for (const auto& [id, exec] : executions_) s.executions.push_back(exec);
  s.effects = effects_;
  s.audit = audit_;
  return s;
}

}  // namespace lab
