// Worker: claim -> begin -> run handler -> commit -> finish, one explicit
// step at a time.
//
// Step() performs exactly the next step and returns what happened, so a
// thread can loop over steps in production while a test or the simulator
// interleaves several workers' steps deterministically. Crash() forgets all
// in-memory state, as a killed process would; the store's lease then expires
// and the reaper (or reconciler) takes over. The handler must be safe to run
// twice up to the commit; its effect is applied at COMMITTED (commit_boundary
// guard on) or, with the guard off, by the worker right after the handler
// returns. Thread-safety: one thread at a time.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/status.h"
#include "queue/circuit_breaker.h"
#include "queue/effect_sink.h"
#include "queue/queue.h"
#include "queue/retry_budget.h"
#include "queue/retry_policy.h"

namespace lab {

struct JobContext {
  JobId job_id = 0;
  // The effect key to give downstream systems: the job's, the same on every
  // attempt (stable_key guard); off: one per execution.
  std::string key;
  std::string payload;
  int attempt = 0;  // Also the fencing token.
  ExecutionId execution_id = 0;
  DurationMs timeout_ms = 0;  // The job's own limit on one attempt; 0: the handler's default.
  TimeMs enqueued_at_ms = 0;  // The job's enqueue, by the store's clock.
  // A long-running handler calls this now and then to extend its lease. An
  // error with kAborted means the lease was taken over: stop and return
  // (the worker then drops the job); other errors may pass (try again).
  std::function<Result<void>()> keep_alive;
};

struct HandlerResult {
  enum class Status { kOk, kTransientError, kPermanentError };
  Status status = Status::kOk;
  std::string effect;  // The effect to apply (kOk).
  std::string error;   // Why it failed (errors).
  // False: the handler made its effect itself (a call to a downstream
  // system, under JobContext::key); nothing is recorded for it.
  bool has_effect = true;
  // When its downstream call was answered, if after the handler returned:
  // a simulated handler returns at once with an answer that is due later
  // (the circuit breaker hears it then). 0: when it returned.
  TimeMs answered_at_ms = 0;

  static HandlerResult Ok(std::string effect) { return {Status::kOk, std::move(effect), ""}; }
  static HandlerResult OkCalledOut() { return {Status::kOk, "", "", false}; }
  static HandlerResult Transient(std::string error) {
    return {Status::kTransientError, "", std::move(error)};
  }
  static HandlerResult Permanent(std::string error) {
    return {Status::kPermanentError, "", std::move(error)};
  }
};

using Handler = std::function<HandlerResult(const JobContext&)>;

struct WorkerOptions {
  std::string name = "worker";
  std::string queue = "default";
  DurationMs lease_ms = 30'000;
  RetryPolicy retry;
  uint64_t seed = 1;  // For retry jitter.
  // The worker's own clock, if not the queue's (a machine whose clock is
  // off). It is sent with each claim; the store uses it only with the
  // store_clock guard off.
  Clock* own_clock = nullptr;
  // Claim+begin and commit+finish each in one store call: two durable
  // transactions a job instead of four, every transition still audited.
  // Off: each transition its own call, the split path whose crash window
  // between commit and finish the reconciler closes (FM_003).
  bool fused = false;
  // The handler's effects are intents for the outbox (Effect::outbox): the
  // commit records each pending, and a relay delivers it (queue/relay.h).
  bool outbox = false;
  // The retry budget (retry_budget guard) this worker shares with the
  // other job threads of its process; none: a budget of its own, made from
  // `retry_budget`, forgotten when the worker crashes.
  std::shared_ptr<RetryGate> retry_gate;
  RetryBudgetOptions retry_budget;
  // The circuit breaker (circuit_breaker guard) on the downstream system
  // the handler calls: the process's, shared by its job threads; else, with
  // `breaker_options`, one of its own, forgotten when the worker crashes;
  // with neither, no breaker.
  std::shared_ptr<BreakerGate> breaker;
  std::optional<BreakerOptions> breaker_options;
};

// kRan: the handler returned; its result (success or error) is held until
// the store has recorded it.
enum class WorkerPhase { kIdle, kLeased, kInProgress, kRan, kCommitted };

enum class StepKind {
  kNoJob,      // Claim found nothing ready.
  kClaimed,    // Now LEASED.
  kBegan,      // Now IN_PROGRESS.
  kRan,        // Handler succeeded; commit next.
  kFailed,     // Handler failed; retry scheduled or dead-lettered. Idle.
  kCommitted,  // Crossed COMMITTED; finish next.
  kDuplicate,  // Another execution had committed; this one short-circuited. Idle.
  kFinished,   // DONE. Idle.
  kFenced,     // The lease was taken over; the job was dropped. Idle.
  kDeferred,   // A guard (retry budget, circuit breaker) held the call back; put back unrun. Idle.
};

// What Worker and BatchWorker share. The key a handler gives downstream
// systems: the job's (stable_key guard) or, off, one per execution.
std::string HandlerKey(const Guards& guards, const Lease& lease);
// Without the commit boundary: the handler's effect goes out at once.
void ApplyOutsideCommit(EffectSink& sink, const Lease& lease, const std::string& key,
                        const std::string& effect, TimeMs now_ms);
// When a failed attempt runs again (nullopt: dead-letter it).
std::optional<TimeMs> RetryAt(const RetryPolicy& policy, const Lease& lease, bool permanent,
                              TimeMs now_ms, Rng& rng);
// What a worker asks just before each handler call: its process's retry
// budget and, if it has one, its circuit breaker.
struct CallGates {
  std::shared_ptr<RetryGate> retry;
  std::shared_ptr<BreakerGate> breaker;  // None: no breaker.
};
// The gates a worker built with `options` uses: the process's shared ones
// (options.retry_gate, options.breaker), else new ones of its own, as a
// restarted process starts with.
CallGates GatesFor(const WorkerOptions& options);
// Asked just before `lease`'s handler runs: nullopt, run it (and, with a
// breaker, record its outcome: RecordCall); otherwise the deferral to make
// instead (Store::Defer), at the time the gate that held it gives: the
// breaker (circuit_breaker guard) first, then the retry budget
// (retry_budget guard).
std::optional<DeferRequest> HeldBack(const Guards& guards, const CallGates& gates,
                                     const Lease& lease, TimeMs now_ms);
// A handler call's outcome, for the breaker: a transient failure counts
// against the downstream system; success and a permanent failure (the
// job's own) do not.
void RecordCall(const Guards& guards, const CallGates& gates, const HandlerResult& result,
                TimeMs now_ms);
// A claim of up to `max_jobs` as `options` asks it, with the worker's own
// clock reading sent along.
ClaimRequest ClaimFor(const WorkerOptions& options, Queue& queue, int max_jobs, bool begin);
// Extends `lease` in the store; on success moves its expiry on as the
// worker knows it: from the time the heartbeat was sent (the store read its
// clock after that).
Result<void> ExtendLease(Queue& queue, const WorkerOptions& options, Lease& lease);

std::string_view ToString(WorkerPhase phase);
std::string_view ToString(StepKind kind);

struct StepResult {
  StepKind kind = StepKind::kNoJob;
  JobId job_id = 0;
  ExecutionId execution_id = 0;
  bool dead_lettered = false;  // kFailed: the attempt was the job's last (DEAD).
};

class Worker {
 public:
  Worker(Queue& queue, Handler handler, WorkerOptions options, EffectSink* sink = nullptr);

  // Performs the next step for the current phase.
  Result<StepResult> Step();
  // Runs steps until the worker is idle again. Returns false when no job
  // was ready.
  Result<bool> ProcessOne();
  // Extends the current lease; no-op when idle.
  Result<void> Heartbeat();
  // Forgets everything in memory, as a killed process would.
  void Crash();
  // Lets go of the current job after an error it cannot step past: the
  // lease expires and the reaper or reconciler takes the job over.
  void Abandon(std::string_view why);
  // Gives the current job up: first asks the store to release the lease
  // (the job is re-queued at once, with `why` in its audit trail), then
  // abandons it whatever the store answered. A COMMITTED job is only
  // abandoned: the reconciler finishes it. Returns the release's outcome.
  Result<void> GiveUp(std::string_view why);
  // When the current lease ends, as this worker knows it: the claim's
  // expiry, moved on by each heartbeat from the time the heartbeat was sent.
  TimeMs lease_expires_at_ms() const { return lease_ ? lease_->expires_at_ms : 0; }

  WorkerPhase phase() const { return phase_; }
  const std::string& name() const { return options_.name; }
  const std::optional<Lease>& lease() const { return lease_; }
  // Every execution whose call the store refused as fenced, in order: what
  // this worker saw, for a checker to hold against the durable record.
  const std::vector<ExecutionId>& fenced_executions() const { return fenced_; }

 private:
  Result<StepResult> Claim();
  Result<StepResult> Begin();
  Result<StepResult> RunHandler();
  Result<StepResult> Commit();
  Result<StepResult> Finish();
  // Records the held failed result_: a retry or a dead letter.
  Result<StepResult> FailAttempt();
  // Extends the lease without changing the worker's phase.
  Result<void> ExtendLease();
  // Maps a refused call: fenced -> drop the job and go idle; else the error.
  Result<StepResult> OnError(const Error& error, std::string_view step);
  StepResult Done(StepKind kind);
  // Forgets the current job (lease, held result) and goes idle.
  void DropJob();
  // The step's result for the current job, then DropJob().
  StepResult EndJob(StepKind kind);
  LeaseRef Ref() const { return {lease_->execution_id, lease_->token}; }
  void Trace(std::string_view event, std::string result);

  Queue& queue_;
  Handler handler_;
  WorkerOptions options_;
  EffectSink* sink_;
  Rng rng_;
  CallGates gates_;
  WorkerPhase phase_ = WorkerPhase::kIdle;
  std::optional<Lease> lease_;
  std::optional<HandlerResult> result_;
  std::vector<ExecutionId> fenced_;
};

}  // namespace lab
