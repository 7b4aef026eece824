// FM_004: the worker holding a lease dies and nothing reclaims the lease.
//
// See spec.md beside this file. Worker A claims a job and begins it; its
// machine loses power. Worker B polls for work every 30 s for ten minutes
// while the sweeps run. Without the reaper the job stays RUNNING on an
// expired lease, and B never sees it.
#include <fmt/core.h>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"

namespace lab::bundle {
namespace {

constexpr DurationMs kLeaseMs = 30'000;

HandlerResult Render(const JobContext& ctx) {
  return HandlerResult::Ok(fmt::format("monthly report {}", ctx.key));
}

Result<void> Scenario(ScenarioEnv& env) {
  LAB_ASSIGN_OR_RETURN(JobId job, env.Enqueue({.key = "report-7", .payload = "march"}));
  Worker& a = env.AddWorker("worker-A", Render, kLeaseMs);
  LAB_RETURN_IF_ERROR(env.Steps(a, 2));  // Claim, begin.
  a.Crash();
  env.Note("worker-A's machine loses power while it holds the lease");

  Worker& b = env.AddWorker("worker-B", Render, kLeaseMs);
  LAB_RETURN_IF_ERROR(env.Settle(b, 20, kLeaseMs));
  return env.NoteJob(job);
}

}  // namespace

FailureMode FM_004() {
  return {.id = "FM_004",
          .title = "Stuck queue: lease holder dies, lease never reclaimed",
          .invariants = {Invariant::kLiveness},
          .baseline_guards = Guards::AllExcept(&Guards::reaper),
          .guard = "leases expire and the reaper re-queues their jobs",
          .scenario = Scenario};
}

}  // namespace lab::bundle
