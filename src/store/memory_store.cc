#include "store/memory_store.h"

#include <fmt/core.h>

#include <algorithm>

#include "core/assert.h"
#include "store/state_machine.h"

namespace lab {

std::unique_ptr<RecordStore> MakeMemoryStore(Clock& clock, StoreOptions options) {
  return std::make_unique<RecordStore>(std::make_shared<MemoryBackend>(), clock, options);
}

Result<void> MemoryBackend::BeginWrite() {
  LAB_ASSERT(!in_txn_ && undo_.empty());
  in_txn_ = true;
  return {};
}

Result<void> MemoryBackend::CommitWrite() {
  LAB_ASSERT(in_txn_ && !savepoint_);
  in_txn_ = false;
  undo_.clear();
  return {};
}

Result<void> MemoryBackend::Rollback() {
  if (!in_txn_) return {};  // Nothing open: as a backend that already rolled back.
  UndoTo(0);
  savepoint_.reset();
  in_txn_ = false;
  return {};
}

Result<void> MemoryBackend::Savepoint() {
  LAB_ASSERT(in_txn_ && !savepoint_);
  savepoint_ = undo_.size();
  return {};
}

Result<void> MemoryBackend::ReleaseSavepoint() {
  LAB_ASSERT(savepoint_);
  savepoint_.reset();
  return {};
}

Result<void> MemoryBackend::RollbackToSavepoint() {
  LAB_ASSERT(savepoint_);
  UndoTo(*savepoint_);
  savepoint_.reset();
  return {};
}

Result<void> MemoryBackend::Reopen() {
  // The containers are the durable state: there is nothing cached to drop.
  LAB_ASSERT(!in_txn_);
  return {};
}

void MemoryBackend::OnUndo(std::function<void()> undo) {
  LAB_ASSERT_MSG(in_txn_, "MemoryBackend write outside a transaction");
  undo_.push_back(std::move(undo));
}

void MemoryBackend::UndoTo(size_t mark) {
  LAB_ASSERT(mark <= undo_.size());
  while (undo_.size() > mark) {
    undo_.back()();
    undo_.pop_back();
  }
}

Result<std::optional<Job>> MemoryBackend::LoadJob(JobId id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::optional<Job>();
  return std::optional<Job>(it->second);
}

Result<std::optional<Job>> MemoryBackend::LoadJobByKey(const std::string& queue,
                                                       const std::string& key) {
  auto it = keys_.find({queue, key});
  if (it == keys_.end()) return std::optional<Job>();
  return LoadJob(it->second);
}

Result<std::optional<Execution>> MemoryBackend::LoadExecution(ExecutionId id) {
  auto it = executions_.find(id);
  if (it == executions_.end()) return std::optional<Execution>();
  return std::optional<Execution>(it->second);
}

void MemoryBackend::Index(const Job& job) {
  if (job.state == JobState::kPending) {
    pending_[job.queue].emplace(-job.priority, job.run_at_ms, job.id);
  }
  if (IsFinished(job.state)) finished_.emplace(job.finished_at_ms, job.id);
  if (!IsFinished(job.state)) ++open_[job.queue];
}

void MemoryBackend::Unindex(const Job& job) {
  if (IsFinished(job.state)) LAB_ASSERT(finished_.erase({job.finished_at_ms, job.id}) == 1);
  if (!IsFinished(job.state) && --open_.at(job.queue) == 0) open_.erase(job.queue);
  if (job.state != JobState::kPending) return;
  auto q = pending_.find(job.queue);
  LAB_ASSERT(q != pending_.end() && q->second.erase({-job.priority, job.run_at_ms, job.id}) == 1);
}

void MemoryBackend::Replace(Job& stored, const Job& job) {
  Unindex(stored);
  stored = job;
  Index(stored);
}

void MemoryBackend::Replace(Execution& stored, const Execution& exec) {
  Unindex(stored);
  stored = exec;
  Index(stored);
}

void MemoryBackend::Restore(const Snapshot& removed) {
  for (const Job& job : removed.jobs) {
    jobs_.emplace(job.id, job);
    Index(job);
    if (job.key) keys_.emplace(std::make_pair(job.queue, *job.key), job.id);
  }
  for (const Execution& exec : removed.executions) {  // By id within each job.
    executions_.emplace(exec.id, exec);
    Index(exec);
    execs_by_job_[exec.job_id].push_back(exec.id);
  }
  for (const EffectRecord& effect : removed.effects) {
    effect_jobs_.insert(effect.job_id);
    Index(effect);
  }
  effects_.insert(effects_.end(), removed.effects.begin(), removed.effects.end());
  std::sort(effects_.begin(), effects_.end(),
            [](const EffectRecord& a, const EffectRecord& b) { return a.id < b.id; });
  audit_.insert(audit_.end(), removed.audit.begin(), removed.audit.end());
  std::sort(audit_.begin(), audit_.end(),
            [](const AuditEntry& a, const AuditEntry& b) { return a.seq < b.seq; });
}

void MemoryBackend::Index(const Execution& exec) {
  if (IsLive(exec.state)) live_.emplace(exec.state, exec.lease_expires_at_ms, exec.id);
}

void MemoryBackend::Unindex(const Execution& exec) {
  if (IsLive(exec.state)) {
    LAB_ASSERT(live_.erase({exec.state, exec.lease_expires_at_ms, exec.id}) == 1);
  }
}

Result<std::vector<Job>> MemoryBackend::LoadClaimable(const std::string& queue, TimeMs now,
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

Result<std::vector<Execution>> MemoryBackend::LoadExpired(ExecState state, TimeMs now) {
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

Result<std::optional<ExecutionId>> MemoryBackend::FindCommitted(JobId job, ExecutionId other_than) {
  auto execs = execs_by_job_.find(job);
  if (execs == execs_by_job_.end()) return std::optional<ExecutionId>();
  for (ExecutionId id : execs->second) {  // Ascending: ids only grow.
    if (id != other_than && IsCommitted(executions_.at(id).state)) {
      return std::optional<ExecutionId>(id);
    }
  }
  return std::optional<ExecutionId>();
}

Result<JobId> MemoryBackend::InsertJob(const Job& job) {
  // As SQL's UNIQUE (queue, key).
  if (job.key && keys_.contains({job.queue, *job.key})) {
    return MakeError(ErrorCode::kInternal, fmt::format("queue '{}' already has a job with key '{}'",
                                                       job.queue, *job.key));
  }
  const JobId id = jobs_.empty() ? 1 : jobs_.rbegin()->first + 1;
  Job stored = job;
  stored.id = id;
  jobs_.emplace(id, stored);
  Index(stored);
  if (job.key) keys_.emplace(std::make_pair(job.queue, *job.key), id);
  OnUndo([this, id] {
    const Job& gone = jobs_.at(id);
    Unindex(gone);
    if (gone.key) keys_.erase({gone.queue, *gone.key});
    jobs_.erase(id);
  });
  return id;
}

Result<ExecutionId> MemoryBackend::InsertExecution(const Execution& exec) {
  // As SQL's UNIQUE (job_id, attempt): one execution per fencing token.
  if (auto ids = execs_by_job_.find(exec.job_id); ids != execs_by_job_.end()) {
    for (ExecutionId other : ids->second) {
      if (executions_.at(other).attempt == exec.attempt) {
        return MakeError(ErrorCode::kInternal,
                         fmt::format("job {} already has an execution holding attempt {}",
                                     exec.job_id, exec.attempt));
      }
    }
  }
  const ExecutionId id = executions_.empty() ? 1 : executions_.rbegin()->first + 1;
  Execution stored = exec;
  stored.id = id;
  executions_.emplace(id, stored);
  Index(stored);
  execs_by_job_[stored.job_id].push_back(id);
  OnUndo([this, id, job = stored.job_id] {
    Unindex(executions_.at(id));
    executions_.erase(id);
    auto& ids = execs_by_job_.at(job);
    LAB_ASSERT(ids.back() == id);
    ids.pop_back();
    if (ids.empty()) execs_by_job_.erase(job);
  });
  return id;
}

Result<void> MemoryBackend::SaveJob(const Job& job) {
  auto it = jobs_.find(job.id);
  LAB_ASSERT(it != jobs_.end());
  // What the SQL stores do not write (RecordStore::SaveJob) must not change.
  LAB_ASSERT(it->second.queue == job.queue && it->second.key == job.key &&
             it->second.priority == job.priority && it->second.max_attempts == job.max_attempts &&
             it->second.created_at_ms == job.created_at_ms &&
             it->second.timeout_ms == job.timeout_ms &&
             it->second.deadline_at_ms == job.deadline_at_ms);
  OnUndo([this, old = it->second] { Replace(jobs_.at(old.id), old); });
  Replace(it->second, job);
  return {};
}

Result<void> MemoryBackend::SaveExecution(const Execution& exec) {
  // As SQL's WHERE id AND attempt: only the execution holding this attempt.
  auto it = executions_.find(exec.id);
  if (it == executions_.end() || it->second.attempt != exec.attempt) return NotHeldError(exec);
  LAB_ASSERT(it->second.job_id == exec.job_id && it->second.worker == exec.worker &&
             it->second.leased_at_ms == exec.leased_at_ms);
  OnUndo([this, old = it->second] { Replace(executions_.at(old.id), old); });
  Replace(it->second, exec);
  return {};
}

Result<void> MemoryBackend::InsertEffect(const EffectRecord& effect) {
  // The ledger's uniqueness per job, as SQLite's UNIQUE(job_id) enforces it.
  if (effect_jobs_.contains(effect.job_id)) {
    return MakeError(ErrorCode::kInternal, "effect ledger already has an effect for this job");
  }
  effect_jobs_.insert(effect.job_id);
  EffectRecord stored = effect;
  stored.id = effects_.empty() ? 1 : effects_.back().id + 1;  // As SQLite: max + 1.
  effects_.push_back(stored);
  Index(stored);
  OnUndo([this] {
    effect_jobs_.erase(effects_.back().job_id);
    Unindex(effects_.back());
    effects_.pop_back();
  });
  return {};
}

void MemoryBackend::Index(const EffectRecord& effect) {
  if (effect.delivery != Delivery::kPending) return;
  outbox_.emplace(effect.id, effect.job_id);
  outbox_jobs_.insert(effect.job_id);
}

void MemoryBackend::Unindex(const EffectRecord& effect) {
  outbox_.erase({effect.id, effect.job_id});
  outbox_jobs_.erase(effect.job_id);
}

EffectRecord* MemoryBackend::FindEffect(int64_t id) {
  auto it = std::lower_bound(effects_.begin(), effects_.end(), id,
                             [](const EffectRecord& e, int64_t want) { return e.id < want; });
  return it == effects_.end() || it->id != id ? nullptr : &*it;
}

Result<std::optional<EffectRecord>> MemoryBackend::LoadEffect(int64_t id) {
  const EffectRecord* effect = FindEffect(id);
  return effect ? std::optional<EffectRecord>(*effect) : std::nullopt;
}

Result<std::vector<EffectRecord>> MemoryBackend::LoadOutbox(int limit) {
  std::vector<EffectRecord> out;
  for (auto it = outbox_.begin(); it != outbox_.end() && static_cast<int>(out.size()) < limit;
       ++it) {
    out.push_back(*FindEffect(it->first));
  }
  return out;
}

Result<void> MemoryBackend::SaveDelivery(const EffectRecord& effect) {
  EffectRecord* stored = FindEffect(effect.id);
  LAB_ASSERT(stored != nullptr);
  const auto replace = [this](EffectRecord& to, const EffectRecord& from) {
    Unindex(to);
    to.delivery = from.delivery;
    to.delivered_at_ms = from.delivered_at_ms;
    Index(to);
  };
  OnUndo([this, replace, old = *stored] { replace(*FindEffect(old.id), old); });
  replace(*stored, effect);
  return {};
}

Result<void> MemoryBackend::AppendAudit(const AuditEntry& entry) {
  AuditEntry stored = entry;
  stored.seq = audit_.empty() ? 1 : audit_.back().seq + 1;
  audit_.push_back(stored);
  OnUndo([this] { audit_.pop_back(); });
  return {};
}

Result<std::vector<JobId>> MemoryBackend::LoadFinished(TimeMs cutoff, int limit) {
  std::vector<JobId> out;
  for (auto it = finished_.begin();
       it != finished_.end() && it->first <= cutoff && static_cast<int>(out.size()) < limit; ++it) {
    if (!outbox_jobs_.contains(it->second)) out.push_back(it->second);
  }
  return out;
}

Result<NewestIds> MemoryBackend::LoadNewestIds() {
  return NewestIds{jobs_.empty() ? 0 : jobs_.rbegin()->first,
                   executions_.empty() ? 0 : executions_.rbegin()->second.job_id,
                   effects_.empty() ? 0 : effects_.back().job_id,
                   audit_.empty() ? 0 : audit_.back().job_id};
}

Result<PruneResult> MemoryBackend::DeleteJobs(std::span<const JobId> jobs) {
  const std::set<JobId> gone(jobs.begin(), jobs.end());
  // Everything deleted, kept for the undo log: a rollback puts it back.
  auto removed = std::make_shared<Snapshot>();
  for (JobId id : gone) {
    auto job = jobs_.find(id);
    LAB_ASSERT(job != jobs_.end());
    if (auto execs = execs_by_job_.find(id); execs != execs_by_job_.end()) {
      for (ExecutionId e : execs->second) {
        Unindex(executions_.at(e));
        removed->executions.push_back(executions_.at(e));
        executions_.erase(e);
      }
      execs_by_job_.erase(execs);
    }
    if (job->second.key) keys_.erase({job->second.queue, *job->second.key});
    effect_jobs_.erase(id);
    Unindex(job->second);
    removed->jobs.push_back(job->second);
    jobs_.erase(job);
  }
  for (auto& e : effects_) {
    if (!gone.contains(e.job_id)) continue;
    removed->effects.push_back(e);
    Unindex(e);
  }
  for (auto& a : audit_) {
    if (gone.contains(a.job_id)) removed->audit.push_back(a);
  }
  std::erase_if(effects_, [&](const EffectRecord& e) { return gone.contains(e.job_id); });
  std::erase_if(audit_, [&](const AuditEntry& a) { return gone.contains(a.job_id); });
  OnUndo([this, removed] { Restore(*removed); });
  return PruneResult{.jobs = static_cast<int64_t>(removed->jobs.size()),
                     .executions = static_cast<int64_t>(removed->executions.size()),
                     .effects = static_cast<int64_t>(removed->effects.size()),
                     .audit = static_cast<int64_t>(removed->audit.size())};
}

Result<std::vector<Job>> MemoryBackend::LoadJobs(const JobFilter& filter) {
  std::vector<Job> out;
  for (const auto& [id, job] : jobs_) {
    if (static_cast<int>(out.size()) >= filter.limit) break;
    if (filter.queue && job.queue != *filter.queue) continue;
    if (filter.state && job.state != *filter.state) continue;
    if (filter.finished_since_ms &&
        (!IsFinished(job.state) || job.finished_at_ms < *filter.finished_since_ms)) {
      continue;
    }
    out.push_back(job);
  }
  return out;
}

Result<JobDetail> MemoryBackend::LoadJobRecords(JobId job) {
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

Result<std::vector<StateCount>> MemoryBackend::LoadCounts() {
  std::map<std::pair<std::string, JobState>, int64_t> counts;
  for (const auto& [id, job] : jobs_) ++counts[{job.queue, job.state}];
  std::vector<StateCount> out;
  for (const auto& [key, n] : counts) out.push_back({key.first, key.second, n});
  return out;
}

Result<int64_t> MemoryBackend::LoadQueueLimit(const std::string& queue) {
  auto it = limits_.find(queue);
  return it == limits_.end() ? 0 : it->second;
}

Result<void> MemoryBackend::SaveQueueLimit(const QueueLimit& limit) {
  auto it = limits_.find(limit.queue);
  OnUndo([this, queue = limit.queue,
          old = it == limits_.end() ? std::optional<int64_t>() : it->second] {
    if (old) {
      limits_[queue] = *old;
    } else {
      limits_.erase(queue);
    }
  });
  if (limit.max_depth == 0) {
    limits_.erase(limit.queue);
  } else {
    limits_[limit.queue] = limit.max_depth;
  }
  return {};
}

Result<std::vector<QueueLimit>> MemoryBackend::LoadQueueLimits() {
  std::vector<QueueLimit> out;
  for (const auto& [queue, max_depth] : limits_) out.push_back({queue, max_depth});
  return out;
}

Result<int64_t> MemoryBackend::CountOpen(const std::string& queue, int64_t cap) {
  auto it = open_.find(queue);
  return std::min(cap, it == open_.end() ? 0 : it->second);
}

Result<Snapshot> MemoryBackend::LoadSnapshot() {
  Snapshot s;
  for (const auto& [id, job] : jobs_) s.jobs.push_back(job);
  for (const auto& [id, exec] : executions_) s.executions.push_back(exec);
  s.effects = effects_;
  s.audit = audit_;
  return s;
}

}  // namespace lab
