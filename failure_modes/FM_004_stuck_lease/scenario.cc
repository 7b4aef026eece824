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
  LAB_RETURN_IF_ERROR(a.Step());  // Claim.
  LAB_RETURN_IF_ERROR(a.Step());  // Begin.
  a.Crash();
  env.Note("worker-A's machine loses power while it holds the lease");

  Worker& b = env.AddWorker("worker-B", Render, kLeaseMs);
  for (int poll = 0; poll < 20; ++poll) {
    env.Advance(kLeaseMs, "worker-B polls again; the sweeps run");
    LAB_RETURN_IF_ERROR(env.queue().Reap());
    LAB_RETURN_IF_ERROR(env.queue().Reconcile());
    LAB_ASSIGN_OR_RETURN(bool ran, b.ProcessOne());
    if (ran) env.Note("worker-B ran the job");
  }
  env.MarkSettled();
  LAB_ASSIGN_OR_RETURN(Job final_job, env.queue().store().GetJob(job));
  env.Note(fmt::format("after ten minutes job {} is {}", job, ToString(final_job.state)));
  return {};
}

}  // namespace

FailureMode FM_004() {
  Guards baseline = Guards::All();
  baseline.reaper = false;
  return {.id = "FM_004",
          .title = "Stuck queue: lease holder dies, lease never reclaimed",
          .invariants = {Invariant::kLiveness},
          .baseline_guards = baseline,
          .guard = "leases expire and the reaper re-queues their jobs",
          .scenario = Scenario};
}

}  // namespace lab::bundle
