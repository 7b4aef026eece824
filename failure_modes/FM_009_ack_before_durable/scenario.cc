// FM_009: acknowledged before durable; a power loss takes the work back.
//
// See spec.md beside this file. With SQLite's synchronous=NORMAL (chosen
// for speed in many deployments) a commit is acknowledged once it is in
// the log, before the log is synced. A process crash loses nothing, since
// the kernel still has the pages; a power loss loses every commit since the
// last sync: jobs the producers were told are queued, and a result the
// queue reported done.
#include <fmt/core.h>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"

namespace lab::bundle {
namespace {

constexpr DurationMs kLeaseMs = 30'000;

HandlerResult Invoice(const JobContext& ctx) {
  return HandlerResult::Ok(fmt::format("invoice sent for {}", ctx.key));
}

Result<void> Scenario(ScenarioEnv& env) {
  LAB_ASSIGN_OR_RETURN(JobId first, env.Enqueue({.key = "order-90", .payload = "invoice"}));
  Worker& a = env.AddWorker("worker-A", Invoice, kLeaseMs);
  LAB_ASSIGN_OR_RETURN(bool ran, a.ProcessOne());
  if (!ran) return MakeError(ErrorCode::kInternal, "FM_009: worker-A found no job");
  LAB_RETURN_IF_ERROR(env.NoteJob(first));
  LAB_ASSIGN_OR_RETURN(JobId second, env.Enqueue({.key = "order-91", .payload = "invoice"}));
  LAB_RETURN_IF_ERROR(env.NoteJob(second));
  LAB_RETURN_IF_ERROR(env.PowerLoss());
  LAB_RETURN_IF_ERROR(env.queue().Reap());
  LAB_RETURN_IF_ERROR(env.queue().Reconcile());
  env.MarkRecovered();
  return {};
}

}  // namespace

FailureMode FM_009() {
  return {.id = "FM_009",
          .title = "Acknowledged before durable: crash loses acked work",
          .invariants = {Invariant::kRecovery},
          .baseline_guards = Guards::AllExcept(&Guards::sync_before_ack),
          .guard = "sync before acknowledging: every commit synced first (SQLite synchronous=FULL)",
          .scenario = Scenario,
          .sim_disk = true};
}

}  // namespace lab::bundle
