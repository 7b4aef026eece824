#include "failure_modes/FM_001_duplicate_retry/scenario.h"

#include <fmt/core.h>

namespace lab {
namespace {

// The handler charges a customer: the effect must happen once per order.
HandlerResult Charge(const JobContext& ctx) {
  return HandlerResult::Ok(fmt::format("charge {} for {}", ctx.payload, ctx.key));
}

// Runs `n` steps of `w`, failing the scenario on an unexpected error.
Result<void> Steps(Worker& w, int n) {
  for (int i = 0; i < n; ++i) LAB_RETURN_IF_ERROR(w.Step());
  return {};
}

}  // namespace

FailureMode Fm001DuplicateRetry() {
  Guards baseline = Guards::All();
  baseline.commit_boundary = false;
  return FailureMode{.id = "FM_001",
                     .title = "Duplicate execution after lease timeout (retry duplication)",
                     .dir = "failure_modes/FM_001_duplicate_retry",
                     .invariants = {"INV_001", "INV_002", "INV_004"},
                     .baseline_guards = baseline,
                     .guard = "commit boundary (effect ledger)",
                     .implemented = true,
                     .scenario = Fm001Scenario};
}

Result<void> Fm001Scenario(ScenarioEnv& env) {
  LAB_ASSIGN_OR_RETURN(JobId job, env.Enqueue({.key = "order-42", .payload = "$42.00"}));
  Worker& a = env.AddWorker("worker-A", Charge, kFm001LeaseMs);
  Worker& b = env.AddWorker("worker-B", Charge, kFm001LeaseMs);

  // A claims, begins and runs the handler, then stalls before committing.
  LAB_RETURN_IF_ERROR(Steps(a, 3));
  env.Advance(kFm001LeaseMs + 1'000, "worker-A stalls in a GC pause, longer than its lease");
  LAB_ASSIGN_OR_RETURN(int reaped, env.queue().Reap());
  if (reaped != 1) return MakeError(ErrorCode::kInternal, "FM_001: expected one expired lease");

  // B picks the re-queued job up and runs it to completion.
  LAB_ASSIGN_OR_RETURN(bool ran, b.ProcessOne());
  if (!ran) return MakeError(ErrorCode::kInternal, "FM_001: worker-B found no job");

  // A wakes up and carries on where it was: the commit.
  env.Note("worker-A wakes up and carries on with its commit");
  LAB_ASSIGN_OR_RETURN(StepResult late, a.Step());
  env.Note(fmt::format("worker-A's late commit ended as: {}", ToString(late.kind)));
  LAB_ASSIGN_OR_RETURN(Job final_job, env.queue().store().GetJob(job));
  env.Note(fmt::format("job {} is {}", job, ToString(final_job.state)));
  return {};
}

Result<void> Fm001RecoverScenario(ScenarioEnv& env) {
  LAB_ASSIGN_OR_RETURN(JobId job, env.Enqueue({.key = "order-43", .payload = "$43.00"}));
  Worker& a = env.AddWorker("worker-A", Charge, kFm001LeaseMs);
  // Claim, begin, handler, commit: the effect is durable with COMMITTED.
  LAB_RETURN_IF_ERROR(Steps(a, 4));
  env.Note("worker-A crashes after COMMITTED, before DONE");
  LAB_RETURN_IF_ERROR(env.Restart());
  env.Advance(kFm001LeaseMs, "the dead worker's lease runs out");
  LAB_RETURN_IF_ERROR(env.queue().Reap());
  LAB_RETURN_IF_ERROR(env.queue().Reconcile());
  env.MarkRecovered();

  // A fresh worker must find nothing to redo.
  Worker& b = env.AddWorker("worker-B", Charge, kFm001LeaseMs);
  LAB_ASSIGN_OR_RETURN(bool ran, b.ProcessOne());
  env.Note(ran ? "worker-B ran the job again" : "worker-B finds nothing to do");
  LAB_ASSIGN_OR_RETURN(Job final_job, env.queue().store().GetJob(job));
  env.Note(fmt::format("job {} is {}", job, ToString(final_job.state)));
  return {};
}

}  // namespace lab
