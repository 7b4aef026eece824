// FM_001: duplicate execution after a lease timeout (retry duplication).
//
// See spec.md beside this file. Worker A leases a job, runs its handler,
// then stalls (a GC pause) past its lease; the reaper re-queues the job;
// worker B runs it to completion; A wakes and tries to commit. Without the
// commit boundary both executions apply the effect.
#include <fmt/core.h>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"

namespace lab::bundle {
namespace {

constexpr DurationMs kLeaseMs = 30'000;

// The handler charges a customer: the effect must happen once per order.
HandlerResult Charge(const JobContext& ctx) {
  return HandlerResult::Ok(fmt::format("charge {} for {}", ctx.payload, ctx.key));
}

Result<void> Scenario(ScenarioEnv& env) {
  LAB_ASSIGN_OR_RETURN(JobId job, env.Enqueue({.key = "order-42", .payload = "$42.00"}));
  Worker& a = env.AddWorker("worker-A", Charge, kLeaseMs);
  Worker& b = env.AddWorker("worker-B", Charge, kLeaseMs);

  // A claims, begins and runs the handler, then stalls before committing.
  LAB_RETURN_IF_ERROR(env.Steps(a, 3));
  env.Advance(kLeaseMs + 1'000, "worker-A stalls in a GC pause, longer than its lease");
  LAB_ASSIGN_OR_RETURN(int reaped, env.queue().Reap());
  if (reaped != 1) return MakeError(ErrorCode::kInternal, "FM_001: expected one expired lease");

  // B picks the re-queued job up and runs it to completion.
  LAB_ASSIGN_OR_RETURN(bool ran, b.ProcessOne());
  if (!ran) return MakeError(ErrorCode::kInternal, "FM_001: worker-B found no job");

  // A wakes up and carries on where it was: the commit.
  env.Note("worker-A wakes up and carries on with its commit");
  LAB_ASSIGN_OR_RETURN(StepResult late, a.Step());
  env.Note(fmt::format("worker-A's late commit ended as: {}", ToString(late.kind)));
  return env.NoteJob(job);
}

}  // namespace

FailureMode FM_001() {
  return {.id = "FM_001",
          .title = "Duplicate execution after lease timeout (retry duplication)",
          .invariants = {Invariant::kOneEffect, Invariant::kNoEffectWithoutCommit,
                         Invariant::kRecovery},
          .baseline_guards = Guards::AllExcept(&Guards::commit_boundary),
          .guard = "commit boundary (effect ledger)",
          .scenario = Scenario};
}

}  // namespace lab::bundle
