// FM_013: job work starves the control plane.
//
// See spec.md beside this file. One worker process runs two job threads.
// `pool/0` claims render-42, a handler that computes for four minutes
// without ever calling keep_alive; 45 s in, another machine's worker claims
// thumb-7 and dies holding it. For twenty minutes the process runs as
// WorkerPool does. Without a control plane an idle job thread runs the
// sweeps and nobody beats a computing thread's lease: idle `pool/1` reaps
// the live render lease and runs the job again, nothing reaps the dead
// worker's lease while both threads compute, and from then on the threads
// take the render from each other for ever. With the control plane (the
// engine's ControlPlane, with capacity of its own) the render keeps its
// lease and finishes at four minutes, and the dead worker's lease is
// reaped once it expires.
#include <fmt/core.h>

#include <optional>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"
#include "queue/control_plane.h"

namespace lab::bundle {
namespace {

constexpr DurationMs kLeaseMs = 30'000;
constexpr DurationMs kRenderMs = 4 * 60'000;
constexpr DurationMs kThumbnailMs = 2'000;
constexpr DurationMs kTickMs = 5'000;  // How often each job thread looks around.
constexpr TimeMs kThumbAtMs = 45'000;  // When worker-B claims thumb-7 and dies.
constexpr DurationMs kRunForMs = 20 * 60'000;

HandlerResult Work(const JobContext& ctx) {
  return HandlerResult::Ok(fmt::format("{} rendered", ctx.key));
}

Result<void> Scenario(ScenarioEnv& env) {
  const bool control_plane = env.guards().control_plane;
  const Cadence cadence = CadenceFor(kLeaseMs);
  LAB_ASSIGN_OR_RETURN(
      JobId render,
      env.Enqueue({.key = "render-42", .payload = "four minutes of frames", .max_attempts = 20}));
  std::vector<JobId> jobs = {render};
  env.Note(control_plane
               ? "the process: job threads pool/0 and pool/1, and a control plane of its own"
               : "the process: job threads pool/0 and pool/1; an idle one runs the sweeps");
  LeaseBook book;
  ControlPlane plane(env.queue(), book, cadence, std::nullopt);
  std::vector<JobThread> threads = {{&env.AddWorker("pool/0", Work, kLeaseMs)},
                                    {&env.AddWorker("pool/1", Work, kLeaseMs)}};
  TimeMs next_sweep = env.clock().NowMs();
  const TimeMs end = env.clock().NowMs() + kRunForMs;
  std::optional<JobId> thumb;
  for (; env.clock().NowMs() < end; env.clock().AdvanceMs(kTickMs)) {
    const TimeMs now = env.clock().NowMs();
    if (!thumb && now >= kThumbAtMs) {
      LAB_ASSIGN_OR_RETURN(thumb, env.Enqueue({.key = "thumb-7", .payload = "thumbnail"}));
      jobs.push_back(*thumb);
      Worker& gone = env.AddWorker("worker-B", Work, kLeaseMs);
      LAB_RETURN_IF_ERROR(env.Steps(gone, 2));  // Claim, begin.
      gone.Crash();
      env.Note("worker-B (another machine) claimed thumb-7, then its machine lost power");
    }
    if (control_plane) {
      const SweepTally before = plane.tally().swept;
      plane.Tick();
      if (plane.tally().swept.reaped > before.reaped) {
        env.Note(fmt::format("control plane: reaped {} expired lease(s)",
                             plane.tally().swept.reaped - before.reaped));
      }
    }
    for (size_t i = 0; i < threads.size(); ++i) {
      JobThread& t = threads[i];
      Worker& w = *t.worker;
      if (w.phase() == WorkerPhase::kInProgress && now < t.busy_until) continue;  // Computing.
      if (w.phase() == WorkerPhase::kIdle) {
        if (!control_plane && now >= next_sweep) {
          next_sweep = now + cadence.sweep_ms;
          const SweepTally swept = RunSweeps(env.queue(), std::nullopt, {});
          if (swept.reaped > 0) {
            env.Note(fmt::format("{} is idle and runs the sweeps: reaped {} expired lease(s)",
                                 w.name(), swept.reaped));
          }
        }
        LAB_ASSIGN_OR_RETURN(StepResult claimed, w.Step());
        if (claimed.kind == StepKind::kNoJob) continue;
        LAB_RETURN_IF_ERROR(w.Step());  // Begin.
        const bool thumbnail = w.lease()->job.id == thumb;
        t.busy_until = now + (thumbnail ? kThumbnailMs : kRenderMs);
        env.Note(fmt::format("{} computes {} (attempt {}) for {}s, never calling keep_alive",
                             w.name(), w.lease()->job.key.value_or(""), w.lease()->token,
                             (t.busy_until - now) / 1000));
      } else {
        // The handler returns: record it (commit, finish), or find it fenced.
        LAB_RETURN_IF_ERROR(t.Finish());
      }
      book.Publish(static_cast<int>(i), LeasesOf(w, kLeaseMs));
    }
  }
  env.Note(
      fmt::format("twenty minutes on; control plane heartbeats: {}", plane.tally().heartbeats));
  for (JobId job : jobs) LAB_RETURN_IF_ERROR(env.NoteJob(job));
  env.MarkSettled();
  return {};
}

}  // namespace

FailureMode FM_013() {
  return {.id = "FM_013",
          .title = "Control-plane starvation: job work starves heartbeats and the reaper",
          .invariants = {Invariant::kLiveness},
          .baseline_guards = Guards::AllExcept(&Guards::control_plane),
          .guard = "heartbeats and sweeps run on a control plane of their own",
          .scenario = Scenario};
}

}  // namespace lab::bundle
