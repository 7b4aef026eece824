#include "queue/worker.h"

#include <fmt/core.h>

#include <algorithm>

#include "core/assert.h"
#include "core/enum_names.h"
#include "core/marks.h"

namespace lab {

namespace {

constexpr EnumNames<WorkerPhase, 5> kPhases = {{{WorkerPhase::kIdle, "idle"},
                                                {WorkerPhase::kLeased, "leased"},
                                                {WorkerPhase::kInProgress, "in_progress"},
                                                {WorkerPhase::kRan, "ran"},
                                                {WorkerPhase::kCommitted, "committed"}}};
constexpr EnumNames<StepKind, 10> kStepKinds = {{{StepKind::kNoJob, "no_job"},
                                                 {StepKind::kClaimed, "claimed"},
                                                 {StepKind::kBegan, "began"},
                                                 {StepKind::kRan, "ran"},
                                                 {StepKind::kFailed, "failed"},
                                                 {StepKind::kCommitted, "committed"},
                                                 {StepKind::kDuplicate, "duplicate"},
                                                 {StepKind::kFinished, "finished"},
                                                 {StepKind::kFenced, "fenced"},
                                                 {StepKind::kDeferred, "deferred"}}};

}  // namespace

std::string HandlerKey(const Guards& guards, const Lease& lease) {
  if (guards.stable_key) return lease.job.EffectKey();
  LAB_MARK(kExecutionScopedKey);
  return fmt::format("exec:{}", lease.execution_id);
}

void ApplyOutsideCommit(EffectSink& sink, const Lease& lease, const std::string& key,
                        const std::string& effect, TimeMs now_ms) {
  LAB_MARK(kEffectOutsideCommit);
  sink.Apply(AppliedEffect{.job_id = lease.job.id,
                           .key = key,
                           .execution_id = lease.execution_id,
                           .token = lease.token,
                           .payload = effect,
                           .at_ms = now_ms});
}

std::optional<TimeMs> RetryAt(const RetryPolicy& policy, const Lease& lease, bool permanent,
                              TimeMs now_ms, Rng& rng) {
  const int used = lease.token - lease.job.attempts_at_redrive;
  return policy.Decide(used, lease.job.max_attempts, permanent, now_ms, rng);
}

CallGates GatesFor(const WorkerOptions& options) {
  CallGates gates{.retry = options.retry_gate, .breaker = options.breaker};
  if (!gates.retry) gates.retry = std::make_shared<RetryGate>(options.retry_budget);
  if (!gates.breaker && options.breaker_options) {
    gates.breaker = std::make_shared<BreakerGate>(*options.breaker_options);
  }
  return gates;
}

std::optional<DeferRequest> HeldBack(const Guards& guards, const CallGates& gates,
                                     const Lease& lease, TimeMs now_ms) {
  BreakerGate* breaker = guards.circuit_breaker ? gates.breaker.get() : nullptr;
  if (breaker != nullptr) {
    if (const auto ask_again = breaker->Admit(now_ms)) {
      LAB_MARK(kBreakerHeld);
      return DeferRequest{
          .run_at_ms = *ask_again,
          .why = fmt::format("circuit breaker open; back in {}ms", *ask_again - now_ms)};
    }
  }
  if (!guards.retry_budget) return std::nullopt;
  const auto ask_again = gates.retry->Admit(lease.job.AttemptsUsed() > 1, now_ms);
  if (!ask_again) return std::nullopt;
  if (breaker != nullptr) breaker->Cancel(now_ms);  // The call it admitted will not be made.
  LAB_MARK(kRetryHeld);
  return DeferRequest{.run_at_ms = *ask_again,
                      .why = fmt::format("retry budget spent; back in {}ms", *ask_again - now_ms)};
}

void RecordCall(const Guards& guards, const CallGates& gates, const HandlerResult& result,
                TimeMs now_ms) {
  if (!guards.circuit_breaker || !gates.breaker) return;
  gates.breaker->Record(now_ms, result.status != HandlerResult::Status::kTransientError,
                        result.answered_at_ms);
}

ClaimRequest ClaimFor(const WorkerOptions& options, Queue& queue, int max_jobs, bool begin) {
  Clock& own = options.own_clock != nullptr ? *options.own_clock : queue.clock();
  return {.queue = options.queue,
          .worker = options.name,
          .max_jobs = max_jobs,
          .lease_ms = options.lease_ms,
          .client_now_ms = own.NowMs(),
          .begin = begin};
}

Result<void> ExtendLease(Queue& queue, const WorkerOptions& options, Lease& lease) {
  const TimeMs sent_at = queue.clock().NowMs();
  auto beat = queue.store().Heartbeat({lease.execution_id, lease.token}, options.lease_ms);
  if (beat) lease.expires_at_ms = std::max(lease.expires_at_ms, AddMs(sent_at, options.lease_ms));
  return beat;
}

std::string_view ToString(WorkerPhase phase) { return NameOf(kPhases, phase); }
std::string_view ToString(StepKind kind) { return NameOf(kStepKinds, kind); }

Worker::Worker(Queue& queue, Handler handler, WorkerOptions options, EffectSink* sink)
    : queue_(queue),
      handler_(std::move(handler)),
      options_(std::move(options)),
      sink_(sink),
      rng_(options_.seed),
      gates_(GatesFor(options_)) {
  LAB_ASSERT(handler_ != nullptr);
  LAB_ASSERT(options_.lease_ms > 0);
  // Without the commit boundary the effect goes straight to the outside.
  LAB_ASSERT(queue_.guards().commit_boundary || sink_ != nullptr);
}

Result<StepResult> Worker::Step() {
  switch (phase_) {
    case WorkerPhase::kIdle:
      return Claim();
    case WorkerPhase::kLeased:
      return Begin();
    case WorkerPhase::kInProgress:
      return RunHandler();
    case WorkerPhase::kRan:
      // The handler's result is held until the store has it: a commit, or
      // a failed attempt, retried as is after a transient store error.
      return result_->status == HandlerResult::Status::kOk ? Commit() : FailAttempt();
    case WorkerPhase::kCommitted:
      return Finish();
  }
  LAB_UNREACHABLE("unknown worker phase");
}

Result<bool> Worker::ProcessOne() {
  LAB_ASSERT(phase_ == WorkerPhase::kIdle);
  LAB_ASSIGN_OR_RETURN(StepResult first, Step());
  if (first.kind == StepKind::kNoJob) return false;
  while (phase_ != WorkerPhase::kIdle) LAB_RETURN_IF_ERROR(Step());
  return true;
}

Result<void> Worker::Heartbeat() {
  if (!lease_) return {};
  auto beat = ExtendLease();
  // Fenced: drop the job rather than keep working on a lost lease.
  if (!beat && beat.error().code == ErrorCode::kAborted) {
    fenced_.push_back(lease_->execution_id);
    DropJob();
  }
  return beat;
}

Result<void> Worker::ExtendLease() {
  LAB_ASSERT(lease_);
  auto beat = lab::ExtendLease(queue_, options_, *lease_);
  Trace("heartbeat", beat ? "lease extended" : beat.error().ToString());
  return beat;
}

void Worker::Crash() {
  Trace("crash", fmt::format("process dies in phase {}", ToString(phase_)));
  DropJob();
  // A budget and a breaker of its own die with the process.
  gates_ = GatesFor(options_);
}

void Worker::Abandon(std::string_view why) {
  if (!lease_) return;
  Trace("abandon", fmt::format("in phase {}: {}; the lease will expire", ToString(phase_), why));
  DropJob();
}

Result<void> Worker::GiveUp(std::string_view why) {
  if (!lease_) return {};
  Result<void> released;
  if (phase_ != WorkerPhase::kCommitted) {
    released = queue_.store().Release(Ref(), why);
    Trace("release", released ? fmt::format("gave the job up: {}", why)
                              : fmt::format("could not release ({}); the lease will expire",
                                            released.error().ToString()));
  }
  Abandon(why);
  return released;
}

void Worker::DropJob() {
  lease_.reset();
  result_.reset();
  phase_ = WorkerPhase::kIdle;
}

StepResult Worker::EndJob(StepKind kind) {
  StepResult r = Done(kind);
  DropJob();
  return r;
}

Result<StepResult> Worker::Claim() {
  LAB_ASSERT(!lease_);
  LAB_ASSIGN_OR_RETURN(auto leases,
                       queue_.store().Claim(ClaimFor(options_, queue_, 1, options_.fused)));
  if (leases.empty()) return StepResult{StepKind::kNoJob, 0, 0};
  LAB_ASSERT(leases.size() == 1);
  lease_ = std::move(leases.front());
  phase_ = options_.fused ? WorkerPhase::kInProgress : WorkerPhase::kLeased;
  Trace("claim", fmt::format("ok{}, lease until +{}ms", options_.fused ? " and begun" : "",
                             lease_->expires_at_ms - queue_.clock().NowMs()));
  return Done(StepKind::kClaimed);
}

Result<StepResult> Worker::Begin() {
  LAB_ASSERT(lease_);
  if (auto begun = queue_.store().Begin(Ref()); !begun) return OnError(begun.error(), "begin");
  phase_ = WorkerPhase::kInProgress;
  Trace("begin", "ok");
  return Done(StepKind::kBegan);
}

Result<StepResult> Worker::RunHandler() {
  LAB_ASSERT(lease_ && !result_);
  if (auto held = HeldBack(queue_.guards(), gates_, *lease_, queue_.clock().NowMs())) {
    if (auto deferred = queue_.store().Defer(Ref(), *held); !deferred) {
      return OnError(deferred.error(), "defer");
    }
    Trace("defer", held->why);
    return EndJob(StepKind::kDeferred);
  }
  const Job& job = lease_->job;
  const std::string key = HandlerKey(queue_.guards(), *lease_);
  HandlerResult result = handler_(JobContext{.job_id = job.id,
                                             .key = key,
                                             .payload = job.payload,
                                             .attempt = lease_->token,
                                             .execution_id = lease_->execution_id,
                                             .timeout_ms = job.timeout_ms,
                                             .enqueued_at_ms = job.created_at_ms,
                                             .keep_alive = [this] { return ExtendLease(); }});
  RecordCall(queue_.guards(), gates_, result, queue_.clock().NowMs());
  if (result.status != HandlerResult::Status::kOk) {
    result_ = std::move(result);
    phase_ = WorkerPhase::kRan;
    return FailAttempt();
  }
  if (!result.has_effect) {
    Trace("handler", fmt::format("ok; it made its own downstream call under key '{}'", key));
  } else if (!queue_.guards().commit_boundary) {
    // No commit boundary: the effect happens now, whatever becomes of the lease.
    ApplyOutsideCommit(*sink_, *lease_, key, result.effect, queue_.clock().NowMs());
    Trace("handler", fmt::format("ok; effect '{}' applied outside the commit", result.effect));
  } else {
    Trace("handler", fmt::format("ok; effect '{}' held for the commit", result.effect));
  }
  result_ = std::move(result);
  phase_ = WorkerPhase::kRan;
  return Done(StepKind::kRan);
}

Result<StepResult> Worker::FailAttempt() {
  LAB_ASSERT(lease_ && result_ && result_->status != HandlerResult::Status::kOk);
  const HandlerResult& result = *result_;
  const bool permanent = result.status == HandlerResult::Status::kPermanentError;
  const auto retry_at = RetryAt(options_.retry, *lease_, permanent, queue_.clock().NowMs(), rng_);
  auto failed = queue_.store().Fail(Ref(), {.error = result.error, .retry_at_ms = retry_at});
  if (!failed) return OnError(failed.error(), "fail");
  Trace("fail", retry_at ? fmt::format("{}; retry at +{}ms", result.error,
                                       *retry_at - queue_.clock().NowMs())
                         : fmt::format("{}; dead-lettered", result.error));
  StepResult ended = EndJob(StepKind::kFailed);
  ended.dead_lettered = *failed == FailOutcome::kDeadLettered;
  return ended;
}

Result<StepResult> Worker::Commit() {
  LAB_ASSERT(lease_ && result_);
  std::optional<Effect> effect;
  if (queue_.guards().commit_boundary && result_->has_effect) {
    effect = Effect{result_->effect, options_.outbox};
  }
  const CommitThen then = options_.fused ? CommitThen::kFinish : CommitThen::kStay;
  auto outcome = queue_.store().Commit(Ref(), effect, then);
  // A commit refused before anything was written keeps the handler's result,
  // so the commit can be retried within the lease (OnError drops it otherwise).
  if (!outcome) return OnError(outcome.error(), "commit");
  result_.reset();
  if (*outcome == CommitOutcome::kAlreadyCommitted) {
    Trace("commit", "duplicate: job already committed; short-circuited, no effect");
    return EndJob(StepKind::kDuplicate);
  }
  Trace("commit", fmt::format("ok{}{}", effect ? "; effect recorded with COMMITTED" : "",
                              then == CommitThen::kFinish ? "; finished, job succeeded" : ""));
  if (then == CommitThen::kFinish) return EndJob(StepKind::kFinished);
  phase_ = WorkerPhase::kCommitted;
  return Done(StepKind::kCommitted);
}

Result<StepResult> Worker::Finish() {
  LAB_ASSERT(lease_);
  if (auto finished = queue_.store().Finish(Ref()); !finished) {
    return OnError(finished.error(), "finish");
  }
  Trace("finish", "ok; job succeeded");
  return EndJob(StepKind::kFinished);
}

Result<StepResult> Worker::OnError(const Error& error, std::string_view step) {
  Trace(step, error.ToString());
  // Fenced (lease taken over) and unknown outcome both end this worker's
  // hold on the job: the store, the reaper and the reconciler own it now.
  if (error.code == ErrorCode::kAborted) {
    fenced_.push_back(lease_->execution_id);
    return EndJob(StepKind::kFenced);
  }
  if (error.code == ErrorCode::kUnknownOutcome) DropJob();
  return std::unexpected(error);
}

StepResult Worker::Done(StepKind kind) {
  return StepResult{kind, lease_ ? lease_->job.id : 0, lease_ ? lease_->execution_id : 0};
}

void Worker::Trace(std::string_view event, std::string result) {
  TraceSink* sink = queue_.trace();
  if (sink == nullptr) return;
  sink->Emit({.time_ms = queue_.clock().NowMs(),
              .actor = options_.name,
              .event = std::string(event),
              .job = lease_ ? lease_->job.id : 0,
              .execution = lease_ ? lease_->execution_id : 0,
              .token = lease_ ? lease_->token : 0,
              .result = std::move(result)});
}

}  // namespace lab
