// FM_011: a failed fsync treated as success ("fsyncgate").
//
// See spec.md beside this file. On the simulated disk, a sync of SQLite's
// log fails. As Linux does after a write-back error, the kernel forgets
// the pages it could not write; they stay readable, so nothing looks
// wrong. The store answers that call "outcome unknown" and fail-stops; the
// process reopens it and carries on: later calls are synced and
// acknowledged. But the log now has a hole that only the power knows
// about, and after a power loss SQLite's recovery stops at it: every
// acknowledged commit after it is gone, among them a job whose payment was
// already made.
#include <fmt/core.h>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"

namespace lab::bundle {
namespace {

constexpr DurationMs kLeaseMs = 30'000;

Result<void> Scenario(ScenarioEnv& env) {
  LAB_ASSIGN_OR_RETURN(JobId first, env.Enqueue({.key = "order-110", .payload = "$11.00"}));
  env.FailNextSync();
  auto lost = env.Enqueue({.key = "order-111", .payload = "$11.10"});
  if (lost) return MakeError(ErrorCode::kInternal, "FM_011: the enqueue survived a failed sync");
  env.Note(fmt::format("the enqueue of 'order-111' failed: {}", lost.error().ToString()));
  LAB_RETURN_IF_ERROR(env.ReopenStore());
  LAB_ASSIGN_OR_RETURN(JobId second, env.Enqueue({.key = "order-112", .payload = "$11.20"}));
  const Handler charge = env.CallsApi("charge");
  Worker& a = env.AddWorker("worker-A", charge, kLeaseMs);
  for (int i = 0; i < 2; ++i) {
    LAB_ASSIGN_OR_RETURN(bool ran, a.ProcessOne());
    if (!ran) return MakeError(ErrorCode::kInternal, "FM_011: worker-A found no job");
  }
  LAB_RETURN_IF_ERROR(env.NoteJob(first));
  LAB_RETURN_IF_ERROR(env.NoteJob(second));
  LAB_RETURN_IF_ERROR(env.PowerLoss());
  LAB_RETURN_IF_ERROR(env.queue().Reap());
  LAB_RETURN_IF_ERROR(env.queue().Reconcile());
  env.MarkRecovered();
  return env.NoteJob(first);
}

}  // namespace

FailureMode FM_011() {
  return {.id = "FM_011",
          .title = "fsync failure treated as success (fsyncgate)",
          .invariants = {Invariant::kNoEffectWithoutCommit, Invariant::kRecovery},
          .baseline_guards = Guards::AllExcept(&Guards::log_recovery),
          .guard = "fail-stop on a failed sync; reopening folds the log into the database",
          .scenario = Scenario,
          .sim_disk = true};
}

}  // namespace lab::bundle
