// FM_012: backpressure collapse.
//
// See spec.md beside this file. A report service renders reports on four
// job threads, half a second each: eight a second at most. People ask for
// twelve a second for a minute and wait five seconds for their report
// before giving up (each job's deadline). Without admission control the
// queue takes every request: it grows by four a second, after ten seconds
// every report waits past its deadline, and the threads, busy all the
// while, render only reports nobody is waiting for. With it, the queue is
// held to the depth it can serve in time (32 unfinished jobs: four
// seconds of work) and the excess is refused at the door, so the people
// who are told "busy, try later" know it at once, and every accepted
// report is rendered in time.
#include <fmt/core.h>

#include <algorithm>
#include <optional>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"

namespace lab::bundle {
namespace {

constexpr int kThreads = 4;
constexpr DurationMs kRenderMs = 500;  // Four threads: eight reports a second.
constexpr DurationMs kTickMs = 50;
constexpr DurationMs kEveryRequestMs = 250;  // Four requests a second ...
constexpr int kRequestsATick = 3;            // ... three at a time: twelve a second ...
constexpr TimeMs kRequestsUntilMs = 60'000;  // ... for a minute.
constexpr TimeMs kCollapsedFromMs = 10'000;  // Unguarded, every report is late from about here.
constexpr TimeMs kEndMs = 120'000;
constexpr DurationMs kPatienceMs = 5'000;  // Each job's deadline: five seconds after asking.
// What the threads can serve within the deadline: four seconds of work.
constexpr QueueLimit kLimit{.queue = "default", .max_depth = 32};

std::string PerSecond(int64_t n, TimeMs from, TimeMs to) {
  return fmt::format("{:.1f}/s", static_cast<double>(n) * 1'000 / static_cast<double>(to - from));
}

Result<void> Scenario(ScenarioEnv& env) {
  LAB_RETURN_IF_ERROR(env.queue().store().SetQueueLimit(kLimit));
  env.Note(env.guards().admission_control
               ? "four job threads render 8 reports/s; the queue admits at most 32 unfinished "
                 "jobs and expires a job whose 5 s deadline passed before it started"
               : "four job threads render 8 reports/s; the queue admits every request and runs "
                 "every job, however late");
  const Handler render = [](const JobContext& ctx) {
    return HandlerResult::Ok("rendered " + ctx.payload);
  };
  std::vector<JobThread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.push_back({&env.AddWorker(
        render, {.name = fmt::format("render/{}", i), .lease_ms = 30'000, .fused = true})});
  }
  int offered = 0, refused = 0;
  int64_t busy_ms = 0, deepest = 0;
  TimeMs deepest_at = 0;
  for (; env.clock().NowMs() < kEndMs; env.clock().AdvanceMs(kTickMs)) {
    const TimeMs now = env.clock().NowMs();
    if (now % kEveryRequestMs == 0 && now < kRequestsUntilMs) {
      for (int i = 0; i < kRequestsATick; ++i, ++offered) {
        auto r = env.Enqueue({.key = fmt::format("report-{}", offered),
                              .payload = fmt::format("report {}", offered),
                              .deadline_ms = now + kPatienceMs});
        if (r) continue;
        if (r.error().code != ErrorCode::kOverloaded) return std::unexpected(r.error());
        if (refused++ == 0)
          env.Note("the queue is full: a request is refused, " + r.error().message);
      }
    }
    if (now == kRequestsUntilMs) env.Note("the requests stop");
    for (JobThread& t : threads) {
      if (now >= t.busy_until) {
        // The report it was rendering is done: record it, then render the next.
        LAB_ASSIGN_OR_RETURN(bool took, t.TakeNext());
        if (!took) continue;
        t.busy_until = now + kRenderMs;
      }
      busy_ms += now < kRequestsUntilMs ? kTickMs : 0;
    }
    LAB_ASSIGN_OR_RETURN(auto counts, env.queue().store().CountJobs());
    int64_t open = 0;
    for (const StateCount& c : counts) {
      open += c.state == JobState::kPending || c.state == JobState::kRunning ? c.count : 0;
    }
    if (open > deepest) {
      deepest = open;
      deepest_at = now;
    }
    if (now % 10'000 == 0 && now > 0 && now <= kRequestsUntilMs) {
      env.Note(fmt::format("{} unfinished jobs in the queue; {} requests refused so far", open,
                           refused));
    }
  }
  // Every thread records its last report.
  for (JobThread& t : threads) LAB_RETURN_IF_ERROR(t.Finish());
  LAB_ASSIGN_OR_RETURN(Snapshot s, env.queue().store().ReadSnapshot());
  int64_t in_time = 0, late = 0, expired = 0, open = 0;
  int64_t in_time_early = 0, in_time_later = 0;  // Rendered in time in [0, 10 s), [10 s, 60 s).
  DurationMs longest_wait = 0;
  std::map<JobId, TimeMs> started;
  for (const Execution& e : s.executions) started.emplace(e.job_id, e.leased_at_ms);
  for (const Job& j : s.jobs) {
    if (auto it = started.find(j.id); it != started.end()) {
      longest_wait = std::max(longest_wait, it->second - j.created_at_ms);
    }
    switch (j.state) {
      case JobState::kSucceeded:
        if (j.finished_at_ms > j.deadline_at_ms) {
          ++late;
          break;
        }
        ++in_time;
        if (j.finished_at_ms < kCollapsedFromMs) ++in_time_early;
        if (j.finished_at_ms >= kCollapsedFromMs && j.finished_at_ms < kRequestsUntilMs) {
          ++in_time_later;
        }
        break;
      case JobState::kExpired:
        ++expired;
        break;
      default:
        ++open;
    }
  }
  env.AddFigure("reports asked for", fmt::format("{} (12/s for a minute)", offered));
  env.AddFigure("refused at the door, explicitly", fmt::format("{}", refused));
  env.AddFigure("rendered in time", fmt::format("{}", in_time));
  env.AddFigure("goodput, the first 10 s", PerSecond(in_time_early, 0, kCollapsedFromMs));
  env.AddFigure("goodput, 0:10-1:00", PerSecond(in_time_later, kCollapsedFromMs, kRequestsUntilMs));
  env.AddFigure("rendered too late, for nobody", fmt::format("{}", late));
  env.AddFigure("expired unrun, with the reason", fmt::format("{}", expired));
  env.AddFigure("longest wait to start", fmt::format("{:.1f}s", longest_wait / 1'000.0));
  env.AddFigure("deepest queue",
                fmt::format("{} unfinished jobs ({})", deepest, RunTime(deepest_at)));
  env.AddFigure("threads busy, 0:00-1:00",
                fmt::format("{:.0f}%", 100.0 * static_cast<double>(busy_ms) /
                                           static_cast<double>(kThreads * kRequestsUntilMs)));
  env.AddFigure("still open at the end", fmt::format("{}", open));
  env.JudgeLatency();
  env.MarkSettled();
  return {};
}

}  // namespace

FailureMode FM_012() {
  return {.id = "FM_012",
          .title = "Backpressure collapse: an overloaded queue serves only work nobody waits for",
          .invariants = {Invariant::kBoundedLatency},
          .baseline_guards = Guards::AllExcept(&Guards::admission_control),
          .guard =
              "admission control: a depth limit refuses excess explicitly; a job past its "
              "deadline expires unrun",
          .scenario = Scenario};
}

}  // namespace lab::bundle
