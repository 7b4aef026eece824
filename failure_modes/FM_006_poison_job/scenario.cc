// FM_006: a poison job kills every worker that runs it, for ever.
//
// See spec.md beside this file. An urgent job (priority 10) carries an
// input that crashes its handler's process (a decoder segfault, an
// out-of-memory kill); a routine job waits behind it. Every round a fresh
// worker process claims the most urgent job; if it is the poison one, the
// process dies, its lease runs out, and the reaper re-queues the job.
// Without counting those lost attempts the poison job never runs out of
// attempts, is claimed first every time, and the routine job starves.
#include <fmt/core.h>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"

namespace lab::bundle {
namespace {

constexpr DurationMs kLeaseMs = 30'000;
constexpr int kRounds = 12;
constexpr std::string_view kPoison = "poison.tiff";

HandlerResult Resize(const JobContext& ctx) {
  return HandlerResult::Ok(fmt::format("thumbnail of {}", ctx.payload));
}

// One worker process per round, as a supervisor restarts a crashed one.
// Returns false when there was nothing to run.
Result<bool> Round(ScenarioEnv& env, int round) {
  Worker& w = env.AddWorker(fmt::format("worker-{}", round), Resize, kLeaseMs);
  LAB_ASSIGN_OR_RETURN(StepResult claimed, w.Step());
  if (claimed.kind == StepKind::kNoJob) return false;
  if (w.lease()->job.payload != kPoison) {
    while (w.phase() != WorkerPhase::kIdle) LAB_RETURN_IF_ERROR(w.Step());
    return true;
  }
  LAB_RETURN_IF_ERROR(w.Step());  // Begin; the handler then takes the process down.
  w.Crash();
  env.Note(fmt::format("{} dies decoding {}", w.name(), kPoison));
  env.Advance(kLeaseMs + 1'000, "the dead worker's lease runs out");
  LAB_RETURN_IF_ERROR(env.queue().Reap());
  return true;
}

Result<JobId> EnqueueBoth(ScenarioEnv& env) {
  LAB_ASSIGN_OR_RETURN(
      JobId poison,
      env.Enqueue(
          {.key = "upload-1", .payload = std::string(kPoison), .priority = 10, .max_attempts = 3}));
  LAB_RETURN_IF_ERROR(env.Enqueue({.key = "upload-2", .payload = "cat.jpg", .max_attempts = 3}));
  return poison;
}

Result<void> Scenario(ScenarioEnv& env) {
  LAB_RETURN_IF_ERROR(EnqueueBoth(env));
  for (int round = 1; round <= kRounds; ++round) {
    LAB_ASSIGN_OR_RETURN(bool ran, Round(env, round));
    if (!ran) break;
  }
  env.MarkSettled();
  return {};
}

// The drill after the fact: the poison job is in the dead-letter queue;
// the decoder is fixed and an operator redrives the job, which now runs.
Result<void> Recover(ScenarioEnv& env) {
  LAB_ASSIGN_OR_RETURN(JobId poison, EnqueueBoth(env));
  for (int round = 1; round <= kRounds; ++round) {
    LAB_ASSIGN_OR_RETURN(bool ran, Round(env, round));
    if (!ran) break;
  }
  LAB_ASSIGN_OR_RETURN(Job dead, env.queue().store().GetJob(poison));
  env.Note(fmt::format("job {} is {}: {}", poison, ToString(dead.state), dead.last_error));
  LAB_RETURN_IF_ERROR(env.queue().store().Redrive(poison));
  env.Note("the decoder is fixed; an operator redrives the dead job");
  Worker& fixed = env.AddWorker("worker-fixed", Resize, kLeaseMs);
  LAB_ASSIGN_OR_RETURN(bool ran, fixed.ProcessOne());
  if (!ran) return MakeError(ErrorCode::kInternal, "FM_006: the redriven job was not ready");
  env.MarkSettled();
  return {};
}

}  // namespace

FailureMode FM_006() {
  return {.id = "FM_006",
          .title = "Poison job loops forever and starves the queue",
          .invariants = {Invariant::kDetectable, Invariant::kLiveness},
          .baseline_guards = Guards::AllExcept(&Guards::lost_attempts),
          .guard = "attempts lost with their worker count; max attempts -> dead letter",
          .scenario = Scenario,
          .recover = Recover};
}

}  // namespace lab::bundle
