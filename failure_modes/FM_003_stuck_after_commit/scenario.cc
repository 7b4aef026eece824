// FM_003: a worker crashes after COMMITTED and before DONE; the job is stuck.
//
// See spec.md beside this file. The effect is durable with the execution's
// COMMITTED marker, but the worker dies before recording DONE. The reaper
// must not abort a committed execution (that would run the job again), so
// without the reconciler nothing ever finishes the job.
#include <fmt/core.h>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"

namespace lab::bundle {
namespace {

constexpr DurationMs kLeaseMs = 30'000;

HandlerResult Ship(const JobContext& ctx) {
  return HandlerResult::Ok(fmt::format("ship parcel for {}", ctx.key));
}

Result<void> Scenario(ScenarioEnv& env) {
  LAB_ASSIGN_OR_RETURN(JobId job, env.Enqueue({.key = "order-43", .payload = "parcel"}));
  Worker& a = env.AddWorker("worker-A", Ship, kLeaseMs);
  // Claim, begin, handler, commit: the effect is durable with COMMITTED.
  LAB_RETURN_IF_ERROR(env.Steps(a, 4));
  env.Note("worker-A is killed (a deploy, the OOM killer) after COMMITTED, before DONE");
  LAB_RETURN_IF_ERROR(env.Restart());
  env.Advance(kLeaseMs, "the dead worker's lease runs out");
  LAB_RETURN_IF_ERROR(env.queue().Reap());
  LAB_RETURN_IF_ERROR(env.queue().Reconcile());
  env.MarkRecovered();

  // A fresh worker must find nothing to redo; ten minutes later the job
  // must be finished, or it never will be.
  Worker& b = env.AddWorker("worker-B", Ship, kLeaseMs);
  LAB_RETURN_IF_ERROR(env.Settle(b, 20, kLeaseMs));
  return env.NoteJob(job);
}

}  // namespace

FailureMode FM_003() {
  return {.id = "FM_003",
          .title = "Crash after COMMITTED, before DONE: job stuck",
          .invariants = {Invariant::kRecovery, Invariant::kLiveness},
          .baseline_guards = Guards::AllExcept(&Guards::reconcile),
          .guard = "the reconciler finalizes committed executions of dead workers",
          .scenario = Scenario};
}

}  // namespace lab::bundle
