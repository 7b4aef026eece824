// FM_014: heartbeats flow, work never completes.
//
// See spec.md beside this file. Two worker processes on two machines, each
// with a control plane of its own that beats the leases its job thread
// holds and runs the sweeps. worker-A's machine reaches the store but not
// the payments API (a partial partition that lasts the whole run);
// worker-B's reaches both. worker-A claims invoice-7 (a job whose own
// timeout is one minute) and calls the API: no answer ever comes, so its
// handler never returns, and its control plane keeps renewing its lease.
// Without a lease cap the job stays with worker-A for ever while worker-B
// idles beside it. With the cap the store extends that lease no further
// than the job's timeout and one lease, refuses the next heartbeat, the
// lease runs out, the reaper gives the job back and worker-B charges it.
#include <fmt/core.h>

#include <optional>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"
#include "queue/control_plane.h"

namespace lab::bundle {
namespace {

constexpr DurationMs kLeaseMs = 30'000;
constexpr DurationMs kTimeoutMs = 60'000;  // invoice-7's own limit on one attempt.
constexpr DurationMs kTickMs = 1'000;
constexpr TimeMs kWorkerBStartsMs = 5'000;
constexpr DurationMs kRunForMs = 10 * 60'000;

HandlerResult Charge(const JobContext& ctx) { return HandlerResult::Ok("charged " + ctx.payload); }

Result<void> Scenario(ScenarioEnv& env) {
  const Cadence cadence = CadenceFor(kLeaseMs);
  LAB_ASSIGN_OR_RETURN(JobId invoice, env.Enqueue({.key = "invoice-7",
                                                   .payload = "invoice 7",
                                                   .max_attempts = 5,
                                                   .timeout_ms = kTimeoutMs}));
  env.Note(
      "worker-A's machine reaches the store but not the payments API (a partial partition, for "
      "the whole run); worker-B's reaches both. Each process has a control plane of its own");
  LeaseBook book_a, book_b;
  ControlPlane plane_a(env.queue(), book_a, cadence, std::nullopt,
                       [&](const std::string& line) { env.Note("worker-A's " + line); });
  ControlPlane plane_b(env.queue(), book_b, cadence, std::nullopt);
  Worker& a = env.AddWorker("worker-A", Charge, kLeaseMs);
  LAB_RETURN_IF_ERROR(env.Steps(a, 2));  // Claim, begin; its handler's call never comes back.
  book_a.Publish(0, LeasesOf(a, kLeaseMs));
  env.Note("worker-A claims invoice-7 and calls the payments API: no answer will ever come");
  std::optional<JobThread> b;
  std::optional<TimeMs> charged_at;
  int64_t reaped = 0;
  int empty_polls = 0;  // worker-B's, while invoice-7 waited.
  const TimeMs end = env.clock().NowMs() + kRunForMs;
  for (; env.clock().NowMs() < end; env.clock().AdvanceMs(kTickMs)) {
    const TimeMs now = env.clock().NowMs();
    if (!b && now >= kWorkerBStartsMs) {
      b = JobThread{&env.AddWorker("worker-B", Charge, kLeaseMs)};
      env.Note("worker-B starts, and polls for work every second");
    }
    for (ControlPlane* plane : {&plane_a, &plane_b}) {
      plane->Tick();
      if (plane->tally().swept.reaped > reaped) {
        reaped = plane->tally().swept.reaped;
        env.Note(fmt::format("{}'s control plane reaps worker-A's lease: it ran out",
                             plane == &plane_a ? "worker-A" : "worker-B"));
      }
    }
    if (!b) continue;
    LAB_ASSIGN_OR_RETURN(bool took, b->TakeNext());
    if (!took) {
      empty_polls += charged_at ? 0 : 1;
      continue;
    }
    LAB_RETURN_IF_ERROR(b->Finish());  // The API answers worker-B at once.
    charged_at = now;
    book_b.Publish(0, LeasesOf(*b->worker, kLeaseMs));
  }
  LAB_RETURN_IF_ERROR(env.NoteJob(invoice));
  // The figures, the same in both modes.
  LAB_ASSIGN_OR_RETURN(Job job, env.queue().store().GetJob(invoice));
  env.AddFigure("invoice-7 at 10:00",
                charged_at ? fmt::format("{}, charged by worker-B at {}", ToString(job.state),
                                         RunTime(*charged_at))
                           : fmt::format("{}, held by worker-A since 0:00", ToString(job.state)));
  env.AddFigure("worker-A's lease",
                plane_a.tally().fenced > 0
                    ? fmt::format("renewed {} times, then refused at its cap (1:00 + a lease)",
                                  plane_a.tally().heartbeats)
                    : fmt::format("renewed {} times, and still held", plane_a.tally().heartbeats));
  env.AddFigure("worker-B's polls that found nothing", fmt::format("{}", empty_polls));
  env.MarkSettled();
  return {};
}

}  // namespace

FailureMode FM_014() {
  return {.id = "FM_014",
          .title = "Liveness under partial partition: heartbeats flow, work never completes",
          .invariants = {Invariant::kLiveness},
          .baseline_guards = Guards::AllExcept(&Guards::lease_cap),
          .guard =
              "an attempt's lease capped at the job's timeout and one lease; past it the "
              "job moves to a worker that can finish it",
          .scenario = Scenario};
}

}  // namespace lab::bundle
