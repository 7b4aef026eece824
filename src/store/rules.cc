#include "store/rules.h"

#include <fmt/core.h>

#include <initializer_list>
#include <string>

#include "core/assert.h"
#include "core/marks.h"
#include "core/text.h"
#include "store/state_machine.h"

namespace lab {
namespace {

AuditEntry ExecAudit(const Execution& exec, AuditEvent event, ExecState from, ExecState to,
                     TimeMs now, std::string detail = "") {
  return AuditEntry{.at_ms = now,
                    .job_id = exec.job_id,
                    .execution_id = exec.id,
                    .event = event,
                    .from = std::string(ToString(from)),
                    .to = std::string(ToString(to)),
                    .detail = std::move(detail)};
}

AuditEntry JobAudit(const Job& job, AuditEvent event, JobState to, TimeMs now,
                    std::string detail = "") {
  return AuditEntry{.at_ms = now,
                    .job_id = job.id,
                    .execution_id = 0,
                    .event = event,
                    .from = std::string(ToString(job.state)),
                    .to = std::string(ToString(to)),
                    .detail = std::move(detail)};
}

bool OneOf(ExecState s, std::initializer_list<ExecState> allowed) {
  for (ExecState a : allowed) {
    if (s == a) return true;
  }
  return false;
}

// The fencing check every post-claim call goes through. Returns a refusal
// plan when the caller no longer holds the execution. A refusal because the
// lease was taken over (stale token, execution ended) is kAborted and leaves a
// "fenced" audit signal; calling out of order on one's own live execution is
// a caller bug, kFailedPrecondition.
std::optional<Plan> CheckFence(const Job& job, const Execution& exec, const LeaseRef& lease,
                               std::string_view op, std::initializer_list<ExecState> allowed,
                               const PlanContext& ctx) {
  const bool stale_token = lease.token != exec.attempt || lease.token != job.attempts;
  const bool ended = !IsLive(exec.state);
  if (!ctx.options.enforce_fencing) {
    if (stale_token || ended) LAB_MARK(kZombieCallAccepted);
    return std::nullopt;
  }
  if (stale_token || ended) {
    if (stale_token) LAB_MARK(kFencedStaleToken);
    if (!stale_token) LAB_MARK(kFencedEnded);
    Plan p;
    std::string why = stale_token ? fmt::format("{} refused: token {} is stale (current {})", op,
                                                lease.token, job.attempts)
                                  : fmt::format("{} refused: execution {} is {}", op, exec.id,
                                                ToString(exec.state));
    p.audit.push_back(
        ExecAudit(exec, AuditEvent::kFenced, exec.state, exec.state, ctx.now_ms, why));
    p.refusal = Error{ErrorCode::kAborted, "fenced: " + why};
    return p;
  }
  if (!OneOf(exec.state, allowed)) {
    Plan p;
    p.refusal =
        Error{ErrorCode::kFailedPrecondition,
              fmt::format("{} not allowed: execution {} is {}", op, exec.id, ToString(exec.state))};
    return p;
  }
  return std::nullopt;
}

// The job-level consequence of an execution ending without success:
// back to PENDING at `retry_at`, or DEAD when `dead`.
void EndAttempt(const Job& job, bool dead, TimeMs retry_at, const std::string& error,
                AuditEvent event, TimeMs now, Plan& p) {
  const JobState to = dead ? JobState::kDead : JobState::kPending;
  if (dead) LAB_MARK(kDeadLettered);
  p.job_state = to;
  p.last_error = error;
  if (!dead) p.run_at_ms = retry_at;
  p.fail_outcome = dead ? FailOutcome::kDeadLettered : FailOutcome::kRetryScheduled;
  p.audit.push_back(JobAudit(job, event, to, now, error));
}

// The postconditions of every plan for a call on an execution: a refusal
// changes nothing but the audit trail; an effect is recorded only with
// COMMITTED; with fencing enforced every change is a legal transition;
// every audit entry is the job's and is stamped now; an execution ends now
// if it ends. Also its precondition: the execution is the job's.
Plan Checked(Plan p, const Job& job, const Execution& exec, const PlanContext& ctx) {
  LAB_ASSERT(exec.job_id == job.id);
  if (p.refusal) {
    LAB_ASSERT(!p.exec_state && !p.job_state && !p.effect && !p.run_at_ms &&
               !p.lease_expires_at_ms && !p.ended_at_ms);
  }
  if (p.effect) LAB_ASSERT(p.exec_state == ExecState::kCommitted);
  if (ctx.options.enforce_fencing) {
    if (p.exec_state) LAB_ASSERT(IsLegalExecTransition(exec.state, *p.exec_state));
    if (p.job_state) LAB_ASSERT(IsLegalJobTransition(job.state, *p.job_state));
  }
  for (const AuditEntry& a : p.audit) LAB_ASSERT(a.job_id == job.id && a.at_ms == ctx.now_ms);
  if (p.ended_at_ms) LAB_ASSERT(*p.ended_at_ms == ctx.now_ms && p.exec_state);
  if (p.lease_expires_at_ms) LAB_ASSERT(*p.lease_expires_at_ms > ctx.now_ms);
  return p;
}

}  // namespace

Plan PlanHeartbeat(const Job& job, const Execution& exec, const LeaseRef& lease,
                   DurationMs lease_ms, const PlanContext& ctx) {
  LAB_ASSERT(lease_ms > 0);
  // A committed execution's holder still holds its lease until it finishes;
  // extending it keeps the reconciler from racing a live worker.
  if (auto refused =
          CheckFence(job, exec, lease, "heartbeat",
                     {ExecState::kLeased, ExecState::kInProgress, ExecState::kCommitted}, ctx)) {
    return Checked(*refused, job, exec, ctx);
  }
  Plan p;
  p.lease_expires_at_ms = AddMs(ctx.now_ms, lease_ms);
  if (ctx.options.lease_cap) {
    // The job's own limit, and a lease more for its worker to stop the
    // handler and report the timeout itself.
    const DurationMs cap = job.timeout_ms > 0 ? job.timeout_ms : kDefaultAttemptCapMs;
    const TimeMs cap_ends = AddMs(AddMs(exec.leased_at_ms, cap), lease_ms);
    if (cap_ends < *p.lease_expires_at_ms &&
        (exec.lease_expires_at_ms >= cap_ends || cap_ends <= ctx.now_ms)) {
      // The lease already runs to its cap (or ran out, and the cap has
      // passed too): it ends there, and the reaper gives the job to
      // another worker.
      LAB_MARK(kAttemptCapped);
      const std::string why = fmt::format(
          "heartbeat refused: execution {} has held its lease since {}, and its cap ({}ms, "
          "{}, and a lease) ends at {}; the lease runs out at {}",
          exec.id, exec.leased_at_ms, cap, job.timeout_ms > 0 ? "the job's timeout" : "the default",
          cap_ends, exec.lease_expires_at_ms);
      Plan refused;
      refused.audit.push_back(
          ExecAudit(exec, AuditEvent::kCapped, exec.state, exec.state, ctx.now_ms, why));
      refused.refusal = Error{ErrorCode::kAborted, "attempt capped: " + why};
      return Checked(std::move(refused), job, exec, ctx);
    }
    p.lease_expires_at_ms = std::min(*p.lease_expires_at_ms, cap_ends);
  }
  return Checked(std::move(p), job, exec, ctx);
}

Plan PlanBegin(const Job& job, const Execution& exec, const LeaseRef& lease,
               const PlanContext& ctx) {
  if (auto refused = CheckFence(job, exec, lease, "begin", {ExecState::kLeased}, ctx)) {
    return Checked(*refused, job, exec, ctx);
  }
  Plan p;
  p.exec_state = ExecState::kInProgress;
  p.audit.push_back(
      ExecAudit(exec, AuditEvent::kBegin, exec.state, ExecState::kInProgress, ctx.now_ms));
  return Checked(std::move(p), job, exec, ctx);
}

Plan PlanCommit(const Job& job, const Execution& exec, const LeaseRef& lease,
                const std::optional<Effect>& effect, std::optional<ExecutionId> committed_by,
                const PlanContext& ctx) {
  if (auto refused = CheckFence(job, exec, lease, "commit", {ExecState::kInProgress}, ctx)) {
    return Checked(*refused, job, exec, ctx);
  }
  Plan p;
  if (committed_by && ctx.options.enforce_commit_boundary) {
    // At most one execution per job crosses COMMITTED; later ones short-circuit.
    LAB_MARK(kCommitDuplicate);
    const std::string why =
        fmt::format("duplicate: job already committed by exec {}", *committed_by);
    p.exec_state = ExecState::kAborted;
    p.ended_at_ms = ctx.now_ms;
    p.reason = why;
    p.commit_outcome = CommitOutcome::kAlreadyCommitted;
    p.audit.push_back(
        ExecAudit(exec, AuditEvent::kDuplicate, exec.state, ExecState::kAborted, ctx.now_ms, why));
    return Checked(std::move(p), job, exec, ctx);
  }
  p.exec_state = ExecState::kCommitted;
  p.effect = effect;
  p.commit_outcome = CommitOutcome::kCommitted;
  p.audit.push_back(ExecAudit(exec, AuditEvent::kCommit, exec.state, ExecState::kCommitted,
                              ctx.now_ms, effect ? "effect recorded" : "no effect"));
  if (job.state == JobState::kPending) {
    // Only reachable with fencing off: a zombie commits after its job was re-queued.
    p.job_state = JobState::kRunning;
    p.audit.push_back(JobAudit(job, AuditEvent::kCommit, JobState::kRunning, ctx.now_ms));
  }
  return Checked(std::move(p), job, exec, ctx);
}

Plan PlanFinish(const Job& job, const Execution& exec, const LeaseRef& lease,
                const PlanContext& ctx) {
  if (ctx.options.enforce_fencing && exec.state == ExecState::kDone &&
      lease.token == exec.attempt) {
    return Checked(Plan{}, job, exec,
                   ctx);  // Already finished (perhaps by the reconciler): idempotent.
  }
  if (auto refused = CheckFence(job, exec, lease, "finish", {ExecState::kCommitted}, ctx)) {
    return Checked(*refused, job, exec, ctx);
  }
  Plan p;
  p.exec_state = ExecState::kDone;
  p.ended_at_ms = ctx.now_ms;
  p.audit.push_back(ExecAudit(exec, AuditEvent::kFinish, exec.state, ExecState::kDone, ctx.now_ms));
  if (job.state != JobState::kSucceeded) {
    p.job_state = JobState::kSucceeded;
    p.audit.push_back(JobAudit(job, AuditEvent::kFinish, JobState::kSucceeded, ctx.now_ms));
  }
  return Checked(std::move(p), job, exec, ctx);
}

namespace {

// The execution-level half of an attempt's end: `exec` goes to `to` now,
// with `why` as its reason and in its audit entry.
Plan EndExecution(const Execution& exec, ExecState to, AuditEvent event, const std::string& why,
                  TimeMs now) {
  Plan p;
  p.exec_state = to;
  p.ended_at_ms = now;
  p.reason = why;
  p.audit.push_back(ExecAudit(exec, event, exec.state, to, now, why));
  return p;
}

}  // namespace

Plan PlanFail(const Job& job, const Execution& exec, const LeaseRef& lease,
              const FailRequest& request, const PlanContext& ctx) {
  if (auto refused = CheckFence(job, exec, lease, "fail", {ExecState::kInProgress}, ctx)) {
    return Checked(*refused, job, exec, ctx);
  }
  // The handler's error is free text from outside: stored as text on every
  // backend (a NUL or a stray byte would be cut or refused by PostgreSQL).
  // An empty one still leaves a reason (INV_005: a failure is never silent).
  const std::string error =
      request.error.empty() ? "failed without a message" : Sanitize(request.error);
  Plan p = EndExecution(exec, ExecState::kFailed, AuditEvent::kFail, error, ctx.now_ms);
  if (job.state == JobState::kRunning) {
    const bool dead = !request.retry_at_ms.has_value();
    EndAttempt(job, dead, request.retry_at_ms.value_or(0), error,
               dead ? AuditEvent::kDead : AuditEvent::kRetry, ctx.now_ms, p);
  }
  return Checked(std::move(p), job, exec, ctx);
}

namespace {

// A live LEASED/IN_PROGRESS execution ends ABORTED without a result (its
// lease expired, or its worker let it go); the job is re-queued now, or
// dead-lettered when its attempts are spent.
Plan EndLiveExecution(const Job& job, const Execution& exec, AuditEvent event,
                      const std::string& why, const PlanContext& ctx) {
  LAB_ASSERT(exec.state == ExecState::kLeased || exec.state == ExecState::kInProgress);
  Plan p = EndExecution(exec, ExecState::kAborted, event, why, ctx.now_ms);
  // Only the job's current execution moves the job; a stale one (possible
  // only with fencing off) ends alone.
  if (job.state == JobState::kRunning && exec.attempt == job.attempts) {
    const bool counted = event != AuditEvent::kReap || ctx.options.count_lost_attempts;
    if (!counted) LAB_MARK(kLostAttemptNotCounted);
    const bool dead = counted && job.AttemptsUsed() >= job.max_attempts;
    EndAttempt(job, dead, ctx.now_ms, why, dead ? AuditEvent::kDead : event, ctx.now_ms, p);
  }
  LAB_ASSERT(p.exec_state == ExecState::kAborted && !p.effect);
  return p;
}

}  // namespace

Plan PlanReap(const Job& job, const Execution& exec, const PlanContext& ctx) {
  LAB_ASSERT(exec.lease_expires_at_ms <= ctx.now_ms);
  LAB_MARK(kLeaseReaped);
  return Checked(EndLiveExecution(job, exec, AuditEvent::kReap,
                                  fmt::format("lease expired at {} (attempt {})",
                                              exec.lease_expires_at_ms, exec.attempt),
                                  ctx),
                 job, exec, ctx);
}

namespace {

// A worker's call `op` to let go of its live, uncommitted execution
// (release, defer): the refusal when fenced; an empty plan when (fencing
// off) the execution ended or committed meanwhile, so there is nothing to
// let go of; nullopt to go ahead.
std::optional<Plan> LetGoRefused(const Job& job, const Execution& exec, const LeaseRef& lease,
                                 std::string_view op, const PlanContext& ctx) {
  if (auto refused =
          CheckFence(job, exec, lease, op, {ExecState::kLeased, ExecState::kInProgress}, ctx)) {
    return Checked(*refused, job, exec, ctx);
  }
  if (!IsLive(exec.state) || exec.state == ExecState::kCommitted) {
    return Checked(Plan{}, job, exec, ctx);
  }
  return std::nullopt;
}

}  // namespace

Plan PlanRelease(const Job& job, const Execution& exec, const LeaseRef& lease, std::string_view why,
                 const PlanContext& ctx) {
  if (auto refused = LetGoRefused(job, exec, lease, "release", ctx)) return *refused;
  return Checked(
      EndLiveExecution(job, exec, AuditEvent::kRelease,
                       fmt::format("released by worker {}: {}", exec.worker, Sanitize(why)), ctx),
      job, exec, ctx);
}

Plan PlanDefer(const Job& job, const Execution& exec, const LeaseRef& lease,
               const DeferRequest& request, const PlanContext& ctx) {
  if (auto refused = LetGoRefused(job, exec, lease, "defer", ctx)) return *refused;
  LAB_MARK(kDeferred);
  const std::string why =
      fmt::format("deferred by worker {}: {}", exec.worker, Sanitize(request.why));
  Plan p = EndExecution(exec, ExecState::kAborted, AuditEvent::kDefer, why, ctx.now_ms);
  if (job.state == JobState::kRunning && exec.attempt == job.attempts) {
    EndAttempt(job, /*dead=*/false, std::max(ctx.now_ms, request.run_at_ms), why,
               AuditEvent::kDefer, ctx.now_ms, p);
    // The attempt ran nothing: its place in the budget is given back.
    p.attempts_at_redrive = job.attempts_at_redrive + 1;
  }
  return Checked(std::move(p), job, exec, ctx);
}

Plan PlanReconcile(const Job& job, const Execution& exec, const PlanContext& ctx) {
  LAB_ASSERT(exec.state == ExecState::kCommitted);
  LAB_ASSERT(exec.lease_expires_at_ms <= ctx.now_ms);
  LAB_MARK(kReconciled);
  Plan p;
  p.exec_state = ExecState::kDone;
  p.ended_at_ms = ctx.now_ms;
  p.audit.push_back(ExecAudit(exec, AuditEvent::kReconcile, exec.state, ExecState::kDone,
                              ctx.now_ms, "committed but not finished; finalized"));
  if (job.state != JobState::kSucceeded) {
    p.job_state = JobState::kSucceeded;
    p.audit.push_back(JobAudit(job, AuditEvent::kReconcile, JobState::kSucceeded, ctx.now_ms));
  }
  return Checked(std::move(p), job, exec, ctx);
}

Plan PlanRedrive(const Job& job, const PlanContext& ctx) {
  Plan p;
  if (job.state == JobState::kExpired) {
    p.refusal = Error{ErrorCode::kFailedPrecondition,
                      fmt::format("job {} is EXPIRED: its deadline passed before it ran, so "
                                  "running it now helps nobody; enqueue it again with a new "
                                  "deadline if it is still wanted",
                                  job.id)};
    return p;
  }
  if (job.state != JobState::kDead) {
    p.refusal = Error{
        ErrorCode::kFailedPrecondition,
        fmt::format("job {} is {}, only DEAD jobs can be redriven", job.id, ToString(job.state))};
    return p;
  }
  p.job_state = JobState::kPending;
  p.run_at_ms = ctx.now_ms;
  p.attempts_at_redrive = job.attempts;
  p.audit.push_back(JobAudit(job, AuditEvent::kRedrive, JobState::kPending, ctx.now_ms));
  LAB_ASSERT(IsLegalJobTransition(job.state, JobState::kPending));
  return p;
}

bool PastDeadline(const Job& job, const PlanContext& ctx) {
  return ctx.options.admission_control && job.deadline_at_ms != 0 &&
         job.deadline_at_ms < ctx.now_ms;
}

Plan PlanExpire(const Job& job, const PlanContext& ctx) {
  LAB_ASSERT(job.state == JobState::kPending && PastDeadline(job, ctx));
  LAB_MARK(kJobExpired);
  Plan p;
  p.job_state = JobState::kExpired;
  // Durations, not epoch numbers: readable wherever the reason is shown.
  p.last_error = fmt::format(
      "expired: its deadline passed {:.3f}s before a worker could start it, {:.3f}s after it "
      "was enqueued",
      static_cast<double>(ctx.now_ms - job.deadline_at_ms) / 1'000,
      static_cast<double>(ctx.now_ms - job.created_at_ms) / 1'000);
  p.audit.push_back(
      JobAudit(job, AuditEvent::kExpire, JobState::kExpired, ctx.now_ms, *p.last_error));
  return p;
}

Result<void> CheckAdmission(const std::string& queue, int64_t open, int64_t max_depth,
                            const PlanContext& ctx, std::string_view refused) {
  if (!ctx.options.admission_control || max_depth == 0 || open < max_depth) return {};
  LAB_MARK(kEnqueueRefused);
  return MakeError(ErrorCode::kOverloaded,
                   fmt::format("queue '{}' is full: it holds {} unfinished jobs, its limit; "
                               "{}; try again once it drains",
                               queue, open, refused));
}

Result<void> CheckQueueLimit(const QueueLimit& limit) {
  LAB_RETURN_IF_ERROR(CheckName(NameKind::kQueue, limit.queue));
  return CheckInRange("max_depth", limit.max_depth, 0, kMaxQueueDepth);
}

AuditEntry LimitAudit(const QueueLimit& limit, const PlanContext& ctx) {
  return AuditEntry{.at_ms = ctx.now_ms,
                    .event = AuditEvent::kLimit,
                    .detail = limit.max_depth == 0
                                  ? fmt::format("queue '{}': no depth limit", limit.queue)
                                  : fmt::format("queue '{}': at most {} unfinished jobs",
                                                limit.queue, limit.max_depth)};
}

AuditEntry FindingAudit(const Job& job, std::string_view finding, const PlanContext& ctx) {
  return JobAudit(job, AuditEvent::kDrill, job.state, ctx.now_ms, Sanitize(finding));
}

Result<std::optional<DeliveryChange>> PlanDelivery(const Job& job, const EffectRecord& effect,
                                                   Delivery to, std::string_view why,
                                                   const PlanContext& ctx) {
  LAB_ASSERT(to != Delivery::kNone);
  if (effect.delivery == Delivery::kNone) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("ledger effect {} (job {}) is not an outbox's: there is nothing "
                                 "to deliver",
                                 effect.id, effect.job_id));
  }
  if (effect.delivery == to) return std::optional<DeliveryChange>();
  DeliveryChange change{.effect = effect};
  change.effect.delivery = to;
  change.effect.delivered_at_ms = to == Delivery::kDelivered ? ctx.now_ms : 0;
  const std::string detail =
      to == Delivery::kDelivered
          ? fmt::format("effect {} delivered under {}", effect.id, effect.key)
          : fmt::format("effect {} under {} to be delivered again: {}", effect.id, effect.key,
                        Sanitize(why));
  change.audit =
      JobAudit(job, to == Delivery::kDelivered ? AuditEvent::kDeliver : AuditEvent::kRedeliver,
               job.state, ctx.now_ms, detail);
  return std::optional<DeliveryChange>(std::move(change));
}

namespace {

// The time a new lease is counted from: the store's, unless the store_clock
// guard is off and the claimant sent its own.
TimeMs LeaseClock(const ClaimRequest& request, const PlanContext& ctx) {
  if (ctx.options.store_clock || !request.client_now_ms) return ctx.now_ms;
  LAB_MARK(kLeaseFromClientClock);
  return *request.client_now_ms;
}

}  // namespace

ClaimPlan PlanClaim(const Job& job, const ClaimRequest& request, const PlanContext& ctx) {
  LAB_ASSERT(job.state == JobState::kPending);
  LAB_ASSERT(job.run_at_ms <= ctx.now_ms);
  LAB_ASSERT(request.lease_ms > 0);
  ClaimPlan c;
  c.job_audit = JobAudit(job, AuditEvent::kClaim, JobState::kRunning, ctx.now_ms, request.worker);
  c.job = job;
  c.job.state = JobState::kRunning;
  c.job.attempts = job.attempts + 1;
  c.exec = Execution{.id = 0,
                     .job_id = job.id,
                     .attempt = c.job.attempts,
                     .worker = request.worker,
                     .state = ExecState::kLeased,
                     .leased_at_ms = ctx.now_ms,
                     .lease_expires_at_ms = AddMs(LeaseClock(request, ctx), request.lease_ms)};
  c.exec_audit =
      AuditEntry{.at_ms = ctx.now_ms,
                 .job_id = job.id,
                 .event = AuditEvent::kClaim,
                 .to = std::string(ToString(ExecState::kLeased)),
                 .detail = fmt::format("token {} to {}", c.job.attempts, request.worker)};
  // The new token is the job's next, and the lease ends after it starts.
  LAB_ASSERT(c.exec.attempt == c.job.attempts && c.job.attempts == job.attempts + 1);
  LAB_ASSERT(!ctx.options.store_clock || c.exec.lease_expires_at_ms > c.exec.leased_at_ms);
  return c;
}

Result<void> CheckLeaseMs(DurationMs lease_ms) {
  return CheckInRange("lease_ms", lease_ms, 1, kMaxDurationMs);
}

Result<void> CheckPruneRequest(const PruneRequest& request) {
  LAB_RETURN_IF_ERROR(CheckInRange("retain_ms", request.retain, 0, kMaxDurationMs));
  return CheckInRange("limit", request.limit, 1, kMaxEnqueueBatch);
}

std::vector<JobId> PrunableJobs(std::vector<JobId> finished, const NewestIds& newest, int limit) {
  std::erase_if(finished, [&](JobId id) {
    return id == newest.job || id == newest.job_of_execution || id == newest.job_of_effect ||
           id == newest.job_of_audit;
  });
  if (static_cast<int>(finished.size()) > limit) finished.resize(static_cast<size_t>(limit));
  return finished;
}

AuditEntry PruneAudit(const PruneResult& pruned, const PruneRequest& request,
                      const PlanContext& ctx) {
  return AuditEntry{
      .at_ms = ctx.now_ms,
      .event = AuditEvent::kPrune,
      .detail = fmt::format("retention {} ms: deleted {} job(s) finished at or before {} ms, "
                            "{} execution(s), {} effect(s), {} audit entries",
                            request.retain, pruned.jobs, pruned.cutoff_ms, pruned.executions,
                            pruned.effects, pruned.audit)};
}

Result<void> CheckNewJob(const NewJob& request) {
  LAB_RETURN_IF_ERROR(CheckName(NameKind::kQueue, request.queue));
  if (request.key) LAB_RETURN_IF_ERROR(CheckName(NameKind::kKey, *request.key));
  LAB_RETURN_IF_ERROR(CheckInRange("max_attempts", request.max_attempts, 1, kMaxAttempts));
  LAB_RETURN_IF_ERROR(CheckInRange("priority", request.priority, -kMaxPriority, kMaxPriority));
  if (request.run_at_ms)
    LAB_RETURN_IF_ERROR(CheckInRange("run_at_ms", *request.run_at_ms, 0, kMaxTimeMs));
  LAB_RETURN_IF_ERROR(CheckInRange("timeout_ms", request.timeout_ms, 0, kMaxDurationMs));
  if (request.deadline_ms) {
    LAB_RETURN_IF_ERROR(CheckInRange("deadline_ms", *request.deadline_ms, 1, kMaxTimeMs));
    if (request.run_at_ms && *request.deadline_ms < *request.run_at_ms) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("deadline_ms ({}) is before run_at_ms ({}): the job could "
                                   "never start in time",
                                   *request.deadline_ms, *request.run_at_ms));
    }
  }
  if (request.payload.size() > kMaxPayloadBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("payload is {} bytes; at most {} are allowed",
                                 request.payload.size(), kMaxPayloadBytes));
  }
  return {};
}

Result<void> CheckClaim(const ClaimRequest& request) {
  LAB_RETURN_IF_ERROR(CheckName(NameKind::kQueue, request.queue));
  LAB_RETURN_IF_ERROR(CheckName(NameKind::kWorker, request.worker));
  LAB_RETURN_IF_ERROR(CheckInRange("max_jobs", request.max_jobs, 1, kMaxClaimBatch));
  return CheckLeaseMs(request.lease_ms);
}

Result<void> CheckEnqueueBatch(std::span<const NewJob> jobs) {
  LAB_RETURN_IF_ERROR(CheckInRange("the number of jobs in a batch",
                                   static_cast<int64_t>(jobs.size()), 1, kMaxEnqueueBatch));
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (auto ok = CheckNewJob(jobs[i]); !ok) {
      return MakeError(ok.error().code,
                       fmt::format("job {} of the batch: {}", i, ok.error().message));
    }
  }
  return {};
}

Result<void> CheckFailRequest(const FailRequest& request) {
  if (request.retry_at_ms) {
    LAB_RETURN_IF_ERROR(CheckInRange("retry_at_ms", *request.retry_at_ms, 0, kMaxTimeMs));
  }
  return {};
}

Result<void> CheckDeferRequest(const DeferRequest& request) {
  return CheckInRange("run_at_ms", request.run_at_ms, 0, kMaxTimeMs);
}

Result<void> CheckCompletions(std::span<const Completion> items) {
  LAB_RETURN_IF_ERROR(CheckInRange("the number of completions in a batch",
                                   static_cast<int64_t>(items.size()), 1, kMaxEnqueueBatch));
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].defer) {
      if (items[i].fail) {
        return MakeError(ErrorCode::kInvalidArgument,
                         fmt::format("completion {} of the batch both fails and defers", i));
      }
      if (auto ok = CheckDeferRequest(*items[i].defer); !ok) {
        return MakeError(ok.error().code,
                         fmt::format("completion {} of the batch: {}", i, ok.error().message));
      }
    }
    if (!items[i].fail) continue;
    if (auto ok = CheckFailRequest(*items[i].fail); !ok) {
      return MakeError(ok.error().code,
                       fmt::format("completion {} of the batch: {}", i, ok.error().message));
    }
  }
  return {};
}

Job PlanEnqueue(const NewJob& request, const PlanContext& ctx) {
  LAB_DASSERT(CheckNewJob(request).has_value());
  Job job;
  job.queue = request.queue;
  job.key = request.key;
  job.payload = request.payload;
  job.priority = request.priority;
  job.run_at_ms = request.run_at_ms.value_or(ctx.now_ms);
  job.max_attempts = request.max_attempts;
  job.timeout_ms = request.timeout_ms;
  job.deadline_at_ms = request.deadline_ms.value_or(0);
  job.state = JobState::kPending;
  job.created_at_ms = ctx.now_ms;
  return job;
}

AuditEntry EnqueueAudit(const Job& job) {
  return AuditEntry{.at_ms = job.created_at_ms,
                    .job_id = job.id,
                    .event = AuditEvent::kEnqueue,
                    .to = std::string(ToString(JobState::kPending)),
                    .detail = job.key ? "key " + *job.key : ""};
}

void ApplyPlan(const Plan& plan, const PlanContext& ctx, Job& job, Execution& exec) {
  LAB_ASSERT(!plan.refusal);
  // With fencing enforced every change is a legal transition; with it off,
  // illegal ones are written as they happen, for the INV_003 checker to find.
  const bool strict = ctx.options.enforce_fencing;
  if (plan.exec_state) {
    LAB_ASSERT(!strict || IsLegalExecTransition(exec.state, *plan.exec_state));
    exec.state = *plan.exec_state;
  }
  if (plan.lease_expires_at_ms) exec.lease_expires_at_ms = *plan.lease_expires_at_ms;
  if (plan.ended_at_ms) exec.ended_at_ms = *plan.ended_at_ms;
  if (plan.reason) exec.reason = *plan.reason;
  if (plan.job_state) {
    LAB_ASSERT(!strict || IsLegalJobTransition(job.state, *plan.job_state));
    job.state = *plan.job_state;
    job.finished_at_ms = IsFinished(job.state) ? ctx.now_ms : 0;
  }
  if (plan.run_at_ms) job.run_at_ms = *plan.run_at_ms;
  if (plan.last_error) job.last_error = *plan.last_error;
  if (plan.attempts_at_redrive) job.attempts_at_redrive = *plan.attempts_at_redrive;
}

bool ClaimsBefore(const Job& a, const Job& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  if (a.run_at_ms != b.run_at_ms) return a.run_at_ms < b.run_at_ms;
  return a.id < b.id;
}

}  // namespace lab
