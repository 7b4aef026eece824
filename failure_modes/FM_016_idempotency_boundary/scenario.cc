// FM_016: the handler's call to a downstream system is keyed by the
// execution, so the downstream's deduplication cannot see the retry.
//
// See spec.md beside this file. The handler charges a card through a
// payment API that honours idempotency keys (as Stripe's does): a request
// under a key it has seen is answered, not applied again. Worker A calls
// the API, then stalls past its lease; worker B runs the job again and
// calls the API again. Under the job's stable key the second call is a
// no-op; under a key made per execution it is a second charge.
#include <fmt/core.h>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"

namespace lab::bundle {
namespace {

constexpr DurationMs kLeaseMs = 30'000;

Result<void> Scenario(ScenarioEnv& env) {
  LAB_ASSIGN_OR_RETURN(JobId job, env.Enqueue({.key = "order-16", .payload = "$16.00"}));
  const Handler charge = env.CallsApi("charge");
  Worker& a = env.AddWorker("worker-A", charge, kLeaseMs);
  Worker& b = env.AddWorker("worker-B", charge, kLeaseMs);
  LAB_RETURN_IF_ERROR(env.Steps(a, 3));  // Claim, begin, handler.
  env.Advance(kLeaseMs + 1'000, "worker-A stalls after its API call, past its lease");
  LAB_RETURN_IF_ERROR(env.queue().Reap());
  LAB_ASSIGN_OR_RETURN(bool ran, b.ProcessOne());
  if (!ran) return MakeError(ErrorCode::kInternal, "FM_016: worker-B found no job");
  LAB_ASSIGN_OR_RETURN(StepResult late, a.Step());
  env.Note(fmt::format("worker-A's late commit ended as: {}", ToString(late.kind)));
  return env.NoteJob(job);
}

}  // namespace

FailureMode FM_016() {
  return {.id = "FM_016",
          .title = "Idempotency boundary violation: downstream call keyed by execution, not job",
          .invariants = {Invariant::kOneEffect, Invariant::kRecovery},
          .baseline_guards = Guards::AllExcept(&Guards::stable_key),
          .guard = "the job's stable key at the boundary (JobContext::key)",
          .scenario = Scenario};
}

}  // namespace lab::bundle
