// FM_007: a zombie worker goes on with a job whose lease was taken over.
//
// See spec.md beside this file. Worker A runs its handler and stalls past
// its lease; the reaper aborts A's execution and re-queues the job; worker
// B claims it and runs its handler. A wakes up and commits and finishes,
// as if nothing had happened; then B commits. Without fencing the store
// takes A's calls on an execution it had already ended.
#include <fmt/core.h>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"

namespace lab::bundle {
namespace {

constexpr DurationMs kLeaseMs = 30'000;

HandlerResult Refund(const JobContext& ctx) {
  return HandlerResult::Ok(fmt::format("refund {} for {}", ctx.payload, ctx.key));
}

Result<void> Scenario(ScenarioEnv& env) {
  LAB_ASSIGN_OR_RETURN(JobId job, env.Enqueue({.key = "refund-88", .payload = "$88.00"}));
  Worker& a = env.AddWorker("worker-A", Refund, kLeaseMs);
  Worker& b = env.AddWorker("worker-B", Refund, kLeaseMs);
  LAB_RETURN_IF_ERROR(env.Steps(a, 3));  // Claim, begin, handler.
  env.Advance(kLeaseMs + 5'000, "worker-A's VM is suspended for live migration");
  LAB_RETURN_IF_ERROR(env.queue().Reap());
  LAB_RETURN_IF_ERROR(env.Steps(b, 3));  // Claim, begin, handler.

  env.Note("worker-A resumes, unaware that its lease was taken over");
  while (a.phase() != WorkerPhase::kIdle) {
    LAB_ASSIGN_OR_RETURN(StepResult r, a.Step());
    env.Note(fmt::format("worker-A: {}", ToString(r.kind)));
  }
  while (b.phase() != WorkerPhase::kIdle) {
    LAB_ASSIGN_OR_RETURN(StepResult r, b.Step());
    env.Note(fmt::format("worker-B: {}", ToString(r.kind)));
  }
  return env.NoteJob(job);
}

}  // namespace

FailureMode FM_007() {
  return {.id = "FM_007",
          .title = "Zombie worker commits after its lease was taken over",
          .invariants = {Invariant::kAuditedTransitions},
          .baseline_guards = Guards::AllExcept(&Guards::fencing),
          .guard = "the fencing token, checked by the store on every call after the claim",
          .scenario = Scenario};
}

}  // namespace lab::bundle
