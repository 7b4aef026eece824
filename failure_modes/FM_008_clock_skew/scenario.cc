// FM_008: a worker's clock is wrong, and the lease is timed by it.
//
// See spec.md beside this file. Worker A runs on a machine whose clock is
// two hours ahead (a bad NTP step, a VM restored from a snapshot). It
// claims a job and dies. If the store takes the lease's expiry from the
// worker's clock, the lease runs for two hours and thirty seconds instead
// of thirty seconds, and the job waits all that time.
#include <fmt/core.h>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"

namespace lab::bundle {
namespace {

constexpr DurationMs kLeaseMs = 30'000;
constexpr DurationMs kAheadMs = 2 * 3'600'000;

HandlerResult Invoice(const JobContext& ctx) {
  return HandlerResult::Ok(fmt::format("invoice {}", ctx.key));
}

Result<void> Scenario(ScenarioEnv& env) {
  LAB_ASSIGN_OR_RETURN(JobId job, env.Enqueue({.key = "invoice-9", .payload = "april"}));
  Worker& a = env.AddWorker("worker-A", Invoice, kLeaseMs, &env.MachineClock(kAheadMs));
  env.Note("worker-A's machine clock reads two hours ahead");
  LAB_RETURN_IF_ERROR(env.Steps(a, 2));  // Claim, begin.
  a.Crash();
  env.Note("worker-A crashes while holding the lease");

  Worker& b = env.AddWorker("worker-B", Invoice, kLeaseMs);
  LAB_RETURN_IF_ERROR(env.Settle(b, 20, kLeaseMs));
  return env.NoteJob(job);
}

}  // namespace

FailureMode FM_008() {
  return {.id = "FM_008",
          .title = "Clock skew: lease expiry timed by a worker's wrong clock",
          .invariants = {Invariant::kLiveness},
          .baseline_guards = Guards::AllExcept(&Guards::store_clock),
          .guard = "leases are timed by the store's clock only",
          .scenario = Scenario};
}

}  // namespace lab::bundle
