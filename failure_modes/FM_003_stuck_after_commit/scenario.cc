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
  for (int i = 0; i < 4; ++i) LAB_RETURN_IF_ERROR(a.Step());
  env.Note("worker-A is killed (a deploy, the OOM killer) after COMMITTED, before DONE");
  LAB_RETURN_IF_ERROR(env.Restart());
  env.Advance(kLeaseMs, "the dead worker's lease runs out");
  LAB_RETURN_IF_ERROR(env.queue().Reap());
  LAB_RETURN_IF_ERROR(env.queue().Reconcile());
  env.MarkRecovered();

  // A fresh worker must find nothing to redo; ten minutes later the job
  // must be finished, or it never will be.
  Worker& b = env.AddWorker("worker-B", Ship, kLeaseMs);
  LAB_ASSIGN_OR_RETURN(bool ran, b.ProcessOne());
  env.Note(ran ? "worker-B ran the job again" : "worker-B finds nothing to do");
  env.Advance(600'000, "no more faults; every sweep has had its chance");
  LAB_RETURN_IF_ERROR(env.queue().Reap());
  LAB_RETURN_IF_ERROR(env.queue().Reconcile());
  env.MarkSettled();
  LAB_ASSIGN_OR_RETURN(Job final_job, env.queue().store().GetJob(job));
  env.Note(fmt::format("job {} is {}", job, ToString(final_job.state)));
  return {};
}

}  // namespace

FailureMode FM_003() {
  Guards baseline = Guards::All();
  baseline.reconcile = false;
  return {.id = "FM_003",
          .title = "Crash after COMMITTED, before DONE: job stuck",
          .invariants = {Invariant::kRecovery, Invariant::kLiveness},
          .baseline_guards = baseline,
          .guard = "the reconciler finalizes committed executions of dead workers",
          .scenario = Scenario};
}

}  // namespace lab::bundle
