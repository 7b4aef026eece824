#include "store/memory_store.h"

#include <algorithm>

#include "core/assert.h"
#include "store/state_machine.h"

namespace lab {

Result<void> MemoryStore::BeginWrite() {
  LAB_ASSERT(!in_txn_);
  in_txn_ = true;
  dirty_ = false;
  txn_dirty_ = false;
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
  LAB_ASSERT_MSG(!dirty_ && !txn_dirty_, "MemoryStore rollback after a write");
  in_txn_ = false;
  return {};
}

Result<void> MemoryStore::Savepoint() {
  LAB_ASSERT(in_txn_ && !in_savepoint_);
  in_savepoint_ = true;
  txn_dirty_ = txn_dirty_ || dirty_;
  dirty_ = false;
  return {};
}

Result<void> MemoryStore::ReleaseSavepoint() {
  LAB_ASSERT(in_savepoint_);
  in_savepoint_ = false;
  return {};
}

Result<void> MemoryStore::RollbackToSavepoint() {
  LAB_ASSERT(in_savepoint_);
  LAB_ASSERT_MSG(!dirty_, "MemoryStore rollback after a write");
  in_savepoint_ = false;
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

void MemoryStore::Index(const Job& job) {
  if (job.state == JobState::kPending) {
    pending_[job.queue].emplace(-job.priority, job.run_at_ms, job.id);
  }
  if (IsFinished(job.state)) finished_.emplace(job.finished_at_ms, job.id);
}

void MemoryStore::Unindex(const Job& job) {
  if (IsFinished(job.state)) LAB_ASSERT(finished_.erase({job.finished_at_ms, job.id}) == 1);
  if (job.state != JobState::kPending) return;
  auto q = pending_.find(job.queue);
  LAB_ASSERT(q != pending_.end() && q->second.erase({-job.priority, job.run_at_ms, job.id}) == 1);
}

void MemoryStore::Index(const Execution& exec) {
  if (IsLive(exec.state)) live_.emplace(exec.state, exec.lease_expires_at_ms, exec.id);
}

void MemoryStore::Unindex(const Execution& exec) {
  if (IsLive(exec.state)) {
    LAB_ASSERT(live_.erase({exec.state, exec.lease_expires_at_ms, exec.id}) == 1);
  }
}

Result<std::vector<Job>> MemoryStore::LoadClaimable(const std::string& queue, TimeMs now,
                                                    int limit) {
  std::vector<Job> ready;
  auto q = pending_.find(queue);
  if (q == pending_.end()) return ready;
  const std::set<ReadyKey>& order = q->second;
  // In claim order; within one priority, run_at ascends, so the first job
  // not yet due ends that priority: skip to the next one.
  for (auto it = order.begin(); it != order.end() && static_cast<int>(ready.size()) < limit;) {
    const auto [neg_priority, run_at, id] = *it;
    if (run_at > now) {
      it = order.lower_bound({neg_priority + 1, INT64_MIN, INT64_MIN});
      continue;
    }
    ready.push_back(jobs_.at(id));
    ++it;
  }
  LAB_DASSERT(std::is_sorted(ready.begin(), ready.end(), ClaimsBefore));
  return ready;
}

Result<std::vector<Execution>> MemoryStore::LoadExpired(ExecState state, TimeMs now) {
  std::vector<Execution> out;
  for (auto it = live_.lower_bound({state, INT64_MIN, INT64_MIN});
       it != live_.end() && std::get<0>(*it) == state && std::get<1>(*it) <= now; ++it) {
    out.push_back(executions_.at(std::get<2>(*it)));
  }
  // By id, as the SQL stores return them: the sweep's audit order must agree.
  std::sort(out.begin(), out.end(),
            [](const Execution& a, const Execution& b) { return a.id < b.id; });
  return out;
}

Result<std::optional<ExecutionId>> MemoryStore::FindCommitted(JobId job, ExecutionId other_than) {
  auto execs = execs_by_job_.find(job);
  if (execs == execs_by_job_.end()) return std::optional<ExecutionId>();
  for (ExecutionId id : execs->second) {  // Ascending: ids only grow.
    if (id != other_than && IsCommitted(executions_.at(id).state)) {
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
  Index(stored);
  if (job.key) keys_.emplace(std::make_pair(job.queue, *job.key), id);
  return id;
}

Result<ExecutionId> MemoryStore::InsertExecution(const Execution& exec) {
  dirty_ = true;
  const ExecutionId id = executions_.empty() ? 1 : executions_.rbegin()->first + 1;
  Execution stored = exec;
  stored.id = id;
  executions_.emplace(id, stored);
  Index(stored);
  execs_by_job_[stored.job_id].push_back(id);
  return id;
}

Result<void> MemoryStore::SaveJob(const Job& job) {
  dirty_ = true;
  auto it = jobs_.find(job.id);
  LAB_ASSERT(it != jobs_.end());
  // What the SQL stores do not write (RecordStore::SaveJob) must not change.
  LAB_ASSERT(it->second.queue == job.queue && it->second.key == job.key &&
             it->second.priority == job.priority && it->second.max_attempts == job.max_attempts &&
             it->second.created_at_ms == job.created_at_ms &&
             it->second.timeout_ms == job.timeout_ms);
  Unindex(it->second);
  it->second = job;
  Index(job);
  return {};
}

Result<void> MemoryStore::SaveExecution(const Execution& exec) {
  dirty_ = true;
  auto it = executions_.find(exec.id);
  LAB_ASSERT(it != executions_.end());
  LAB_ASSERT(it->second.job_id == exec.job_id && it->second.attempt == exec.attempt &&
             it->second.worker == exec.worker && it->second.leased_at_ms == exec.leased_at_ms);
  Unindex(it->second);
  it->second = exec;
  Index(exec);
  return {};
}

Result<void> MemoryStore::InsertEffect(const EffectRecord& effect) {
  // The ledger's uniqueness per job, as SQLite's UNIQUE(job_id) enforces it.
  if (effect_jobs_.contains(effect.job_id)) {
    return MakeError(ErrorCode::kInternal, "effect ledger already has an effect for this job");
  }
  dirty_ = true;
  effect_jobs_.insert(effect.job_id);
  EffectRecord stored = effect;
  stored.id = effects_.empty() ? 1 : effects_.back().id + 1;  // As SQLite: max + 1.
  effects_.push_back(stored);
  return {};
}

Result<void> MemoryStore::AppendAudit(const AuditEntry& entry) {
  dirty_ = true;
  AuditEntry stored = entry;
  stored.seq = audit_.empty() ? 1 : audit_.back().seq + 1;
  audit_.push_back(stored);
  return {};
}

Result<std::vector<JobId>> MemoryStore::LoadFinished(TimeMs cutoff, int limit) {
  std::vector<JobId> out;
  for (auto it = finished_.begin();
       it != finished_.end() && it->first <= cutoff && static_cast<int>(out.size()) < limit; ++it) {
    out.push_back(it->second);
  }
  return out;
}

Result<NewestIds> MemoryStore::LoadNewestIds() {
  return NewestIds{jobs_.empty() ? 0 : jobs_.rbegin()->first,
                   executions_.empty() ? 0 : executions_.rbegin()->second.job_id};
}

Result<PruneResult> MemoryStore::DeleteJobs(std::span<const JobId> jobs) {
  dirty_ = true;
  PruneResult deleted;
  const std::set<JobId> gone(jobs.begin(), jobs.end());
  for (JobId id : gone) {
    auto job = jobs_.find(id);
    LAB_ASSERT(job != jobs_.end());
    if (auto execs = execs_by_job_.find(id); execs != execs_by_job_.end()) {
      for (ExecutionId e : execs->second) {
        Unindex(executions_.at(e));
        executions_.erase(e);
        ++deleted.executions;
      }
      execs_by_job_.erase(execs);
    }
    if (job->second.key) keys_.erase({job->second.queue, *job->second.key});
    effect_jobs_.erase(id);
    Unindex(job->second);
    jobs_.erase(job);
    ++deleted.jobs;
  }
  deleted.effects = static_cast<int64_t>(
      std::erase_if(effects_, [&](const EffectRecord& e) { return gone.contains(e.job_id); }));
  deleted.audit = static_cast<int64_t>(
      std::erase_if(audit_, [&](const AuditEntry& a) { return gone.contains(a.job_id); }));
  return deleted;
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
