// FM_002: partial write; the process dies between the effect and its
// commit record.
//
// See spec.md beside this file. A worker that writes the job's result and
// the execution's COMMITTED record in two transactions leaves, when it
// dies between them, a result that no commit owns. The queue sees an
// execution that never committed: the reaper aborts it and queues the job
// again, while the ledger says the points were credited.
#include <fmt/core.h>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"

namespace lab::bundle {
namespace {

constexpr DurationMs kLeaseMs = 30'000;

HandlerResult Credit(const JobContext& ctx) {
  return HandlerResult::Ok(fmt::format("credit loyalty points for {}", ctx.key));
}

Result<void> Scenario(ScenarioEnv& env) {
  LAB_ASSIGN_OR_RETURN(JobId job, env.Enqueue({.key = "order-20", .payload = "200 points"}));
  Worker& a = env.AddWorker("worker-A", Credit, kLeaseMs);
  LAB_RETURN_IF_ERROR(env.Steps(a, 3));  // Claim, begin, handler.
  env.Note("worker-A's process will die just after its next transaction commits");
  env.DieAfterNextCommit();
  auto commit = a.Step();
  env.Note(commit ? fmt::format("worker-A's commit returned {}", ToString(commit->kind))
                  : fmt::format("worker-A's commit failed: {}", commit.error().ToString()));
  LAB_RETURN_IF_ERROR(env.Restart());
  LAB_RETURN_IF_ERROR(env.NoteJob(job));
  env.Advance(kLeaseMs, "the dead worker's lease runs out");
  LAB_RETURN_IF_ERROR(env.queue().Reap());
  LAB_RETURN_IF_ERROR(env.queue().Reconcile());
  env.MarkRecovered();
  return env.NoteJob(job);
}

}  // namespace

FailureMode FM_002() {
  return {.id = "FM_002",
          .title = "Partial write: crash between effect and commit record",
          .invariants = {Invariant::kNoEffectWithoutCommit},
          .baseline_guards = Guards::AllExcept(&Guards::one_transaction),
          .guard = "the effect and its COMMITTED record in one transaction",
          .scenario = Scenario};
}

}  // namespace lab::bundle
