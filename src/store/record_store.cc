#include "store/record_store.h"

#include <fmt/core.h>

#include <algorithm>

#include "core/assert.h"
#include "core/marks.h"
#include "core/text.h"
#include "store/state_machine.h"

namespace lab {

template <typename T>
Result<T> RecordStore::Transact(const std::function<Result<T>(Txn&)>& body) {
  LAB_RETURN_IF_ERROR(CheckNotFailed());
  if (in_group_) {
    // One operation of a group: its own savepoint; the group commits.
    LAB_RETURN_IF_ERROR(backend_->Savepoint());
    Txn txn;
    Result<T> result = body(txn);
    const bool keep = result || txn.keep_on_error;
    if (auto ended = keep ? backend_->ReleaseSavepoint() : backend_->RollbackToSavepoint();
        !ended) {
      failed_ = true;  // The transaction's state is unknown: the group must not commit.
      return std::unexpected(ended.error());
    }
    return result;
  }
  LAB_RETURN_IF_ERROR(backend_->BeginWrite());
  Txn txn;
  Result<T> result = body(txn);
  if (!result && !txn.keep_on_error) {
    RollbackOrStop();
    return result;
  }
  LAB_RETURN_IF_ERROR(CommitOrStop());
  return result;
}

Result<void> RecordStore::CommitOrStop() {
  auto committed = backend_->CommitWrite();
  if (committed) return {};
  if (RefusedUnwritten(committed.error().code)) {
    // The commit was refused before anything was made durable (busy, a
    // serialization failure, a full disk).
    RollbackOrStop();
    return std::unexpected(committed.error());
  }
  // The transaction may or may not be durable. Never guess, never retry
  // the sync: stop, release the write lock, and let reopen + reconcile decide.
  failed_ = true;
  RollbackOrStop();
  return MakeError(ErrorCode::kUnknownOutcome,
                   "durable commit failed, outcome unknown: " + committed.error().message);
}

Result<void> RecordStore::BeginGroup() {
  LAB_ASSERT(!in_group_);
  LAB_RETURN_IF_ERROR(CheckNotFailed());
  LAB_RETURN_IF_ERROR(backend_->BeginWrite());
  in_group_ = true;
  return {};
}

Result<void> RecordStore::EndGroup() {
  LAB_ASSERT(in_group_);
  in_group_ = false;
  if (failed_) {
    RollbackOrStop();
    return CheckNotFailed();
  }
  return CommitOrStop();
}

Result<void> RecordStore::Reopen() {
  LAB_ASSERT(!in_group_);
  LAB_RETURN_IF_ERROR(backend_->Reopen());
  if (failed_) LAB_MARK(kHandleReopened);
  failed_ = false;
  return {};
}

Result<void> RecordStore::CheckNotFailed() const {
  if (!failed_) return {};
  return FailStopped();
}

void RecordStore::RollbackOrStop() {
  if (!backend_->Rollback()) failed_ = true;
}

Result<RecordStore::Loaded> RecordStore::LoadLease(const LeaseRef& lease) {
  LAB_ASSIGN_OR_RETURN(auto exec, backend_->LoadExecution(lease.execution_id));
  if (!exec) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("no execution with id {}", lease.execution_id));
  }
  LAB_ASSIGN_OR_RETURN(auto job, backend_->LoadJob(exec->job_id));
  LAB_ASSERT_MSG(job.has_value(), "execution without its job");
  return Loaded{std::move(*job), std::move(*exec)};
}

Result<std::optional<Error>> RecordStore::Settle(const Plan& plan, const PlanContext& ctx,
                                                 Loaded& rec) {
  for (const AuditEntry& entry : plan.audit) LAB_RETURN_IF_ERROR(backend_->AppendAudit(entry));
  if (plan.refusal) return std::optional<Error>(*plan.refusal);
  if (plan.effect) {
    LAB_RETURN_IF_ERROR(backend_->InsertEffect(
        EffectRecord{.job_id = rec.job.id,
                     .execution_id = rec.exec.id,
                     .key = rec.job.EffectKey(),
                     .payload = plan.effect->payload,
                     .applied_at_ms = ctx.now_ms,
                     .delivery = plan.effect->outbox ? Delivery::kPending : Delivery::kNone}));
  }
  ApplyPlan(plan, ctx, rec.job, rec.exec);
  if (plan.exec_state || plan.lease_expires_at_ms || plan.ended_at_ms || plan.reason) {
    LAB_RETURN_IF_ERROR(backend_->SaveExecution(rec.exec));
  }
  if (plan.job_state || plan.run_at_ms || plan.last_error || plan.attempts_at_redrive) {
    LAB_RETURN_IF_ERROR(backend_->SaveJob(rec.job));
  }
  return std::optional<Error>();
}

Result<void> RecordStore::Persist(const Plan& plan, const PlanContext& ctx, Loaded& rec, Txn& txn) {
  LAB_ASSIGN_OR_RETURN(auto refused, Settle(plan, ctx, rec));
  if (!refused) return {};
  txn.keep_on_error = !plan.audit.empty();
  return std::unexpected(*refused);
}

Result<EnqueueResult> RecordStore::EnqueueIn(const NewJob& request, const PlanContext& ctx,
                                             Depths& depths) {
  if (request.key) {
    LAB_ASSIGN_OR_RETURN(auto existing, backend_->LoadJobByKey(request.queue, *request.key));
    if (existing) {
      LAB_MARK(kEnqueueFoundExisting);
      return EnqueueResult{existing->id, false};
    }
  }
  LAB_RETURN_IF_ERROR(Admit(request.queue, ctx, depths, "nothing was enqueued"));
  Job job = PlanEnqueue(request, ctx);
  LAB_ASSIGN_OR_RETURN(job.id, backend_->InsertJob(job));
  LAB_RETURN_IF_ERROR(backend_->AppendAudit(EnqueueAudit(job)));
  return EnqueueResult{job.id, true};
}

Result<void> RecordStore::Admit(const std::string& queue, const PlanContext& ctx, Depths& depths,
                                std::string_view refused) {
  if (!ctx.options.admission_control) return {};
  auto [at, first] = depths.try_emplace(queue);
  QueueDepth& depth = at->second;
  if (first) {
    LAB_ASSIGN_OR_RETURN(depth.max_depth, backend_->LoadQueueLimit(queue));
    if (depth.max_depth > 0) {
      LAB_ASSIGN_OR_RETURN(depth.open, backend_->CountOpen(queue, depth.max_depth));
    }
  }
  LAB_RETURN_IF_ERROR(CheckAdmission(queue, depth.open, depth.max_depth, ctx, refused));
  ++depth.open;
  return {};
}

Result<EnqueueResult> RecordStore::Enqueue(const NewJob& request) {
  LAB_RETURN_IF_ERROR(CheckNewJob(request));
  return Transact<EnqueueResult>([&](Txn&) -> Result<EnqueueResult> {
    Depths depths;
    return EnqueueIn(request, Context(), depths);
  });
}

Result<std::vector<EnqueueResult>> RecordStore::EnqueueBatch(std::span<const NewJob> jobs) {
  LAB_RETURN_IF_ERROR(CheckEnqueueBatch(jobs));
  return Transact<std::vector<EnqueueResult>>([&](Txn&) -> Result<std::vector<EnqueueResult>> {
    const PlanContext ctx = Context();
    Depths depths;
    std::vector<EnqueueResult> out;
    out.reserve(jobs.size());
    for (size_t i = 0; i < jobs.size(); ++i) {
      auto r = EnqueueIn(jobs[i], ctx, depths);
      if (!r && r.error().code == ErrorCode::kOverloaded) {
        return MakeError(ErrorCode::kOverloaded,
                         fmt::format("job {} of the batch: {}", i, r.error().message));
      }
      if (!r) return std::unexpected(r.error());
      out.push_back(*r);
    }
    return out;
  });
}

Result<std::vector<Lease>> RecordStore::Claim(const ClaimRequest& request) {
  LAB_RETURN_IF_ERROR(CheckClaim(request));
  return Transact<std::vector<Lease>>([&](Txn&) -> Result<std::vector<Lease>> {
    const PlanContext ctx = Context();
    std::vector<Lease> leases;
    // A job past its deadline is expired, not leased, and the claim looks
    // further: the caller gets every job it asked for that may still run.
    while (static_cast<int>(leases.size()) < request.max_jobs) {
      const int asked = request.max_jobs - static_cast<int>(leases.size());
      LAB_ASSIGN_OR_RETURN(auto ready, backend_->LoadClaimable(request.queue, ctx.now_ms, asked));
      LAB_ASSIGN_OR_RETURN(int expired, ClaimEach(ready, request, ctx, leases));
      if (expired == 0 || std::ssize(ready) < asked) break;
    }
    return leases;
  });
}

Result<int> RecordStore::ClaimEach(const std::vector<Job>& ready, const ClaimRequest& request,
                                   const PlanContext& ctx, std::vector<Lease>& leases) {
  int expired = 0;
  for (const Job& job : ready) {
    if (PastDeadline(job, ctx)) {
      Loaded rec{job, Execution{}};
      LAB_ASSIGN_OR_RETURN(auto refused, Settle(PlanExpire(job, ctx), ctx, rec));
      LAB_ASSERT_MSG(!refused, "an expiry refused");
      ++expired;
      continue;
    }
    ClaimPlan plan = PlanClaim(job, request, ctx);
    LAB_RETURN_IF_ERROR(backend_->SaveJob(plan.job));
    LAB_ASSIGN_OR_RETURN(plan.exec.id, backend_->InsertExecution(plan.exec));
    plan.exec_audit.execution_id = plan.exec.id;
    LAB_RETURN_IF_ERROR(backend_->AppendAudit(plan.job_audit));
    LAB_RETURN_IF_ERROR(backend_->AppendAudit(plan.exec_audit));
    Loaded rec{std::move(plan.job), std::move(plan.exec)};
    if (request.begin) {
      const LeaseRef ref{rec.exec.id, rec.exec.attempt};
      LAB_ASSIGN_OR_RETURN(auto refused, Settle(PlanBegin(rec.job, rec.exec, ref, ctx), ctx, rec));
      LAB_ASSERT_MSG(!refused, "a lease just granted refused its begin");
    }
    leases.push_back(
        Lease{rec.exec.id, rec.exec.attempt, rec.exec.lease_expires_at_ms, std::move(rec.job)});
  }
  return expired;
}

Result<void> RecordStore::LeaseOp(
    const LeaseRef& lease, const std::function<Plan(const Loaded&, const PlanContext&)>& plan_fn) {
  return Transact<void>([&](Txn& txn) -> Result<void> {
    LAB_ASSIGN_OR_RETURN(Loaded rec, LoadLease(lease));
    const PlanContext ctx = Context();
    return Persist(plan_fn(rec, ctx), ctx, rec, txn);
  });
}

Result<void> RecordStore::Heartbeat(const LeaseRef& lease, DurationMs lease_ms) {
  LAB_RETURN_IF_ERROR(CheckLeaseMs(lease_ms));
  return LeaseOp(lease, [&](const Loaded& r, const PlanContext& ctx) {
    return PlanHeartbeat(r.job, r.exec, lease, lease_ms, ctx);
  });
}

Result<void> RecordStore::Begin(const LeaseRef& lease) {
  return LeaseOp(lease, [&](const Loaded& r, const PlanContext& ctx) {
    return PlanBegin(r.job, r.exec, lease, ctx);
  });
}

Result<void> RecordStore::Finish(const LeaseRef& lease) {
  return LeaseOp(lease, [&](const Loaded& r, const PlanContext& ctx) {
    return PlanFinish(r.job, r.exec, lease, ctx);
  });
}

Result<void> RecordStore::Release(const LeaseRef& lease, std::string_view why) {
  return LeaseOp(lease, [&](const Loaded& r, const PlanContext& ctx) {
    return PlanRelease(r.job, r.exec, lease, why, ctx);
  });
}

Result<void> RecordStore::Defer(const LeaseRef& lease, const DeferRequest& request) {
  LAB_RETURN_IF_ERROR(CheckDeferRequest(request));
  return LeaseOp(lease, [&](const Loaded& r, const PlanContext& ctx) {
    return PlanDefer(r.job, r.exec, lease, request, ctx);
  });
}

Result<CommitOutcome> RecordStore::Commit(const LeaseRef& lease,
                                          const std::optional<Effect>& effect, CommitThen then) {
  // Both transactions below plan the same commit from what they load.
  struct Planned {
    Loaded rec;
    Plan plan;
    PlanContext ctx;
  };
  auto plan_commit = [&]() -> Result<Planned> {
    LAB_ASSIGN_OR_RETURN(Loaded rec, LoadLease(lease));
    LAB_ASSIGN_OR_RETURN(auto committed_by, backend_->FindCommitted(rec.job.id, rec.exec.id));
    const PlanContext ctx = Context();
    Plan plan = PlanCommit(rec.job, rec.exec, lease, effect, committed_by, ctx);
    return Planned{std::move(rec), std::move(plan), ctx};
  };
  // one_transaction off: the effect goes to the ledger first, in a
  // transaction of its own, and the commit below no longer carries it.
  bool effect_written = false;
  if (effect && !options_.effect_with_commit && !in_group_) {
    LAB_ASSIGN_OR_RETURN(
        effect_written, Transact<bool>([&](Txn& txn) -> Result<bool> {
          LAB_ASSIGN_OR_RETURN(Planned p, plan_commit());
          if (p.plan.refusal || !p.plan.effect) return false;
          LAB_RETURN_IF_ERROR(Persist(Plan{.effect = p.plan.effect}, p.ctx, p.rec, txn));
          return true;
        }));
    if (effect_written) LAB_MARK(kEffectApartFromCommit);
  }
  return Transact<CommitOutcome>([&](Txn& txn) -> Result<CommitOutcome> {
    LAB_ASSIGN_OR_RETURN(Planned p, plan_commit());
    if (effect_written) p.plan.effect.reset();
    LAB_RETURN_IF_ERROR(Persist(p.plan, p.ctx, p.rec, txn));
    if (then == CommitThen::kFinish && p.plan.commit_outcome == CommitOutcome::kCommitted) {
      LAB_RETURN_IF_ERROR(
          Persist(PlanFinish(p.rec.job, p.rec.exec, lease, p.ctx), p.ctx, p.rec, txn));
    }
    return p.plan.commit_outcome;
  });
}

Result<Result<CompleteOutcome>> RecordStore::CompleteIn(const Completion& item,
                                                        const PlanContext& ctx) {
  using Item = Result<CompleteOutcome>;
  auto loaded = LoadLease(item.lease);
  if (!loaded && loaded.error().code == ErrorCode::kNotFound)
    return Item(std::unexpected(loaded.error()));
  LAB_RETURN_IF_ERROR(loaded);
  Loaded& rec = *loaded;
  if (item.defer) {
    LAB_ASSIGN_OR_RETURN(
        auto refused, Settle(PlanDefer(rec.job, rec.exec, item.lease, *item.defer, ctx), ctx, rec));
    if (refused) return Item(std::unexpected(*refused));
    return Item(CompleteOutcome::kDeferred);
  }
  if (item.fail) {
    const Plan plan = PlanFail(rec.job, rec.exec, item.lease, *item.fail, ctx);
    LAB_ASSIGN_OR_RETURN(auto refused, Settle(plan, ctx, rec));
    if (refused) return Item(std::unexpected(*refused));
    return Item(plan.fail_outcome == FailOutcome::kRetryScheduled ? CompleteOutcome::kRetryScheduled
                                                                  : CompleteOutcome::kDeadLettered);
  }
  LAB_ASSIGN_OR_RETURN(auto committed_by, backend_->FindCommitted(rec.job.id, rec.exec.id));
  const Plan commit = PlanCommit(rec.job, rec.exec, item.lease, item.effect, committed_by, ctx);
  LAB_ASSIGN_OR_RETURN(auto refused, Settle(commit, ctx, rec));
  if (refused) return Item(std::unexpected(*refused));
  if (commit.commit_outcome == CommitOutcome::kAlreadyCommitted) {
    return Item(CompleteOutcome::kDuplicate);
  }
  LAB_ASSIGN_OR_RETURN(refused, Settle(PlanFinish(rec.job, rec.exec, item.lease, ctx), ctx, rec));
  if (refused) return Item(std::unexpected(*refused));
  return Item(CompleteOutcome::kFinished);
}

Result<std::vector<Result<CompleteOutcome>>> RecordStore::Complete(
    std::span<const Completion> items) {
  LAB_RETURN_IF_ERROR(CheckCompletions(items));
  using Out = std::vector<Result<CompleteOutcome>>;
  return Transact<Out>([&](Txn&) -> Result<Out> {
    const PlanContext ctx = Context();
    Out out;
    out.reserve(items.size());
    for (const Completion& item : items) {
      LAB_ASSIGN_OR_RETURN(auto r, CompleteIn(item, ctx));
      out.push_back(std::move(r));
    }
    return out;
  });
}

Result<FailOutcome> RecordStore::Fail(const LeaseRef& lease, const FailRequest& request) {
  LAB_RETURN_IF_ERROR(CheckFailRequest(request));
  return Transact<FailOutcome>([&](Txn& txn) -> Result<FailOutcome> {
    LAB_ASSIGN_OR_RETURN(Loaded rec, LoadLease(lease));
    const PlanContext ctx = Context();
    const Plan plan = PlanFail(rec.job, rec.exec, lease, request, ctx);
    LAB_RETURN_IF_ERROR(Persist(plan, ctx, rec, txn));
    return plan.fail_outcome;
  });
}

Result<int> RecordStore::Sweep(std::initializer_list<ExecState> states,
                               Plan (*plan_fn)(const Job&, const Execution&, const PlanContext&)) {
  return Transact<int>([&](Txn& txn) -> Result<int> {
    const PlanContext ctx = Context();
    int swept = 0;
    for (ExecState state : states) {
      LAB_ASSIGN_OR_RETURN(auto expired, backend_->LoadExpired(state, ctx.now_ms));
      for (Execution& exec : expired) {
        LAB_ASSIGN_OR_RETURN(auto job, backend_->LoadJob(exec.job_id));
        LAB_ASSERT_MSG(job.has_value(), "execution without its job");
        Loaded rec{std::move(*job), std::move(exec)};
        LAB_RETURN_IF_ERROR(Persist(plan_fn(rec.job, rec.exec, ctx), ctx, rec, txn));
      }
      swept += static_cast<int>(expired.size());
    }
    return swept;
  });
}

Result<int> RecordStore::ReapExpired() {
  // One transaction for both states, so an error means nothing was reaped.
  return Sweep({ExecState::kLeased, ExecState::kInProgress}, &PlanReap);
}

Result<int> RecordStore::Reconcile() { return Sweep({ExecState::kCommitted}, &PlanReconcile); }

Result<void> RecordStore::Redrive(JobId id) {
  return Transact<void>([&](Txn& txn) -> Result<void> {
    LAB_ASSIGN_OR_RETURN(auto job, backend_->LoadJob(id));
    if (!job) return MakeError(ErrorCode::kNotFound, fmt::format("no job with id {}", id));
    const PlanContext ctx = Context();
    // A redriven job is unfinished again: its queue must have room for it.
    if (job->state == JobState::kDead) {
      Depths depths;
      LAB_RETURN_IF_ERROR(Admit(job->queue, ctx, depths, "the job stays DEAD"));
    }
    Loaded rec{std::move(*job), Execution{}};
    return Persist(PlanRedrive(rec.job, ctx), ctx, rec, txn);
  });
}

Result<void> RecordStore::RecordFinding(JobId id, std::string_view finding) {
  return Transact<void>([&](Txn&) -> Result<void> {
    LAB_ASSIGN_OR_RETURN(auto job, backend_->LoadJob(id));
    if (!job) return MakeError(ErrorCode::kNotFound, fmt::format("no job with id {}", id));
    return backend_->AppendAudit(FindingAudit(*job, finding, Context()));
  });
}

Result<std::vector<EffectRecord>> RecordStore::Outbox(int limit) {
  LAB_RETURN_IF_ERROR(CheckNotFailed());
  LAB_RETURN_IF_ERROR(CheckInRange("limit", limit, 1, kMaxEnqueueBatch));
  return backend_->LoadOutbox(limit);
}

Result<void> RecordStore::MarkDelivered(int64_t effect) {
  return ChangeDelivery(effect, Delivery::kDelivered, "");
}

Result<void> RecordStore::Redeliver(int64_t effect, std::string_view why) {
  return ChangeDelivery(effect, Delivery::kPending, why);
}

Result<void> RecordStore::ChangeDelivery(int64_t id, Delivery to, std::string_view why) {
  return Transact<void>([&](Txn&) -> Result<void> {
    LAB_ASSIGN_OR_RETURN(auto effect, backend_->LoadEffect(id));
    if (!effect) return MakeError(ErrorCode::kNotFound, fmt::format("no ledger effect {}", id));
    LAB_ASSIGN_OR_RETURN(auto job, backend_->LoadJob(effect->job_id));
    LAB_ASSERT_MSG(job.has_value(), "ledger effect without its job");
    LAB_ASSIGN_OR_RETURN(std::optional<DeliveryChange> change,
                         PlanDelivery(*job, *effect, to, why, Context()));
    if (!change) return {};
    LAB_RETURN_IF_ERROR(backend_->SaveDelivery(change->effect));
    return backend_->AppendAudit(change->audit);
  });
}

Result<void> RecordStore::SetQueueLimit(const QueueLimit& limit) {
  LAB_RETURN_IF_ERROR(CheckQueueLimit(limit));
  return Transact<void>([&](Txn&) -> Result<void> {
    LAB_RETURN_IF_ERROR(backend_->SaveQueueLimit(limit));
    return backend_->AppendAudit(LimitAudit(limit, Context()));
  });
}

Result<std::vector<QueueLimit>> RecordStore::QueueLimits() {
  LAB_RETURN_IF_ERROR(CheckNotFailed());
  return backend_->LoadQueueLimits();
}

Result<PruneResult> RecordStore::Prune(const PruneRequest& request) {
  LAB_RETURN_IF_ERROR(CheckPruneRequest(request));
  return Transact<PruneResult>([&](Txn&) -> Result<PruneResult> {
    const PlanContext ctx = Context();
    const TimeMs cutoff = AddMs(ctx.now_ms, -request.retain);
    LAB_ASSIGN_OR_RETURN(NewestIds newest, backend_->LoadNewestIds());
    // Four more than the limit: the newest ids' jobs may be among them.
    LAB_ASSIGN_OR_RETURN(auto finished, backend_->LoadFinished(cutoff, request.limit + 4));
    const std::vector<JobId> jobs = PrunableJobs(std::move(finished), newest, request.limit);
    PruneResult pruned{.cutoff_ms = cutoff};
    if (jobs.empty()) return pruned;
    LAB_ASSIGN_OR_RETURN(pruned, backend_->DeleteJobs(jobs));
    pruned.cutoff_ms = cutoff;
    LAB_RETURN_IF_ERROR(backend_->AppendAudit(PruneAudit(pruned, request, ctx)));
    return pruned;
  });
}

Result<Job> RecordStore::GetJob(JobId id) {
  LAB_RETURN_IF_ERROR(CheckNotFailed());
  LAB_ASSIGN_OR_RETURN(auto job, backend_->LoadJob(id));
  if (!job) return MakeError(ErrorCode::kNotFound, fmt::format("no job with id {}", id));
  return *job;
}

Result<std::vector<Job>> RecordStore::ListJobs(const JobFilter& filter) {
  LAB_RETURN_IF_ERROR(CheckNotFailed());
  if (filter.limit < 1) return MakeError(ErrorCode::kInvalidArgument, "limit must be >= 1");
  if (filter.queue) LAB_RETURN_IF_ERROR(CheckName(NameKind::kQueue, *filter.queue));
  return backend_->LoadJobs(filter);
}

Result<JobDetail> RecordStore::InspectJob(JobId id) {
  LAB_ASSIGN_OR_RETURN(Job job, GetJob(id));
  LAB_ASSIGN_OR_RETURN(JobDetail detail, backend_->LoadJobRecords(id));
  detail.job = std::move(job);
  return detail;
}

Result<std::vector<StateCount>> RecordStore::CountJobs() {
  LAB_RETURN_IF_ERROR(CheckNotFailed());
  LAB_ASSIGN_OR_RETURN(auto counts, backend_->LoadCounts());
  std::sort(counts.begin(), counts.end(), [](const StateCount& a, const StateCount& b) {
    return a.queue != b.queue ? a.queue < b.queue : a.state < b.state;
  });
  return counts;
}

Result<Snapshot> RecordStore::ReadSnapshot() {
  LAB_RETURN_IF_ERROR(CheckNotFailed());
  return backend_->LoadSnapshot();
}

}  // namespace lab
