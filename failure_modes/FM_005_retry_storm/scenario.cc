// FM_005: a retry storm outlives its trigger.
//
// See spec.md beside this file. A payment API serves ten requests a second
// (four at a time, 400 ms each); callers give up after one second, but a
// request they gave up on stays in its line and is served for nobody. One
// worker process of sixteen job threads charges two orders a second
// through it. From 0:10 to 0:30 the API browns out (each request takes ten
// times as long). Without a retry budget every timed-out attempt retries
// on its backoff: the threads fill the API's line faster than it can empty
// it, every answer comes after its caller gave up, and the storm goes on
// long after the brownout ended. Guarded, the threads share the engine's
// retry budget (RetryGate: retries held to a floor plus a fifth of the
// first attempts) and circuit breaker (BreakerGate: once half the calls in
// a window fail, jobs wait unrun until a probe gets through); held jobs
// wait, their attempts given back, and the backlog drains once the API is
// back.
#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"
#include "sim/downstream.h"

namespace lab::bundle {
namespace {

constexpr int kThreads = 16;
constexpr DurationMs kLeaseMs = 30'000;
constexpr DurationMs kTickMs = 50;
constexpr DurationMs kEveryOrderMs = 500;  // Two orders a second arrive ...
constexpr TimeMs kOrdersUntilMs = 90'000;  // ... for a minute and a half.
constexpr TimeWindow kBrownout{10'000, 30'000};
constexpr TimeMs kEndMs = 120'000;
constexpr int kMaxAttempts = 25;
// Backoff with equal jitter from 2 s: the first retry waits at least the
// callers' one-second timeout, so no attempt overlaps the one before it
// (a worker records a timed-out attempt when it sends the call).
constexpr RetryPolicy kRetry{.base_delay_ms = 2'000, .max_delay_ms = 8'000};
constexpr RetryBudgetOptions kBudget{};  // 20% of first attempts plus 10, per 10 s.
// Opens when half of at least 20 calls in 10 s failed; after 5 s, three probes.
constexpr BreakerOptions kBreaker{};
const DownstreamCapacity kApi{.concurrency = 4,
                              .service_ms = 400,
                              .timeout_ms = 1'000,
                              .brownouts = {kBrownout},
                              .slow_factor = 10};

// How many of `field` a second the API saw over [from, to).
double PerSecond(const Downstream& api, TimeMs from, TimeMs to, int64_t DownstreamSecond::*field) {
  int64_t n = 0;
  for (TimeMs sec = from / 1'000; sec < to / 1'000 && sec < std::ssize(api.seconds()); ++sec) {
    n += api.seconds()[static_cast<size_t>(sec)].*field;
  }
  return static_cast<double>(n) * 1'000 / static_cast<double>(to - from);
}

// What the API did in [from, to): calls, answers in time, work for nobody.
std::string Period(const Downstream& api, TimeMs from, TimeMs to) {
  return fmt::format("{:.1f} calls/s, {:.1f} answered in time/s, {:.1f} served for nobody/s",
                     PerSecond(api, from, to, &DownstreamSecond::calls),
                     PerSecond(api, from, to, &DownstreamSecond::ok),
                     PerSecond(api, from, to, &DownstreamSecond::wasted));
}

Result<void> Scenario(ScenarioEnv& env) {
  Downstream api({.capacity = kApi});
  std::optional<CallReply> reply;  // The last call's, for the thread that made it.
  const Handler charge = [&](const JobContext& ctx) {
    reply = api.Call(env.clock().NowMs(), ctx.job_id, ctx.execution_id, "pool");
    HandlerResult result = HandlerResult::Transient("connection refused");
    if (reply->outcome == CallOutcome::kOk) result = HandlerResult::Ok("charged " + ctx.payload);
    if (reply->outcome == CallOutcome::kTimedOut) {
      result = HandlerResult::Transient("no answer in 1 s (the request stays in the API's line)");
    }
    // The thread waits for it (JobThread::busy_until); the breaker hears it then.
    result.answered_at_ms = reply->reply_at_ms;
    return result;
  };
  env.Note(env.guards().retry_budget
               ? "one process, 16 job threads sharing one retry budget (10 + 20% of first "
                 "attempts per 10 s) and one circuit breaker; the API serves 10 requests/s, "
                 "callers wait 1 s"
               : "one process, 16 job threads, retries on backoff alone; the API serves 10 "
                 "requests/s, callers wait 1 s");
  const auto gate = std::make_shared<RetryGate>(kBudget);
  const auto breaker = std::make_shared<BreakerGate>(kBreaker);
  std::vector<JobThread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.push_back({&env.AddWorker(charge, {.name = fmt::format("pool/{}", i),
                                               .lease_ms = kLeaseMs,
                                               .retry = kRetry,
                                               .fused = true,
                                               .retry_gate = gate,
                                               .breaker = breaker})});
  }
  int orders = 0;
  std::optional<TimeMs> drained_at;
  for (; env.clock().NowMs() < kEndMs; env.clock().AdvanceMs(kTickMs)) {
    const TimeMs now = env.clock().NowMs();
    for (; orders * kEveryOrderMs <= now && orders * kEveryOrderMs < kOrdersUntilMs; ++orders) {
      LAB_RETURN_IF_ERROR(env.Enqueue({.key = fmt::format("order-{}", orders),
                                       .payload = fmt::format("order {}", orders),
                                       .max_attempts = kMaxAttempts}));
    }
    if (now == kBrownout.from_ms) env.Note("the payment API browns out: 4 s a request");
    if (now == kBrownout.to_ms) env.Note("the payment API is back: 400 ms a request");
    for (JobThread& t : threads) {
      if (now < t.busy_until) continue;  // Waiting for the API.
      // Its answer came (or its wait ran out): record it, and make the
      // next job's call (or hold its retry back).
      reply.reset();
      LAB_ASSIGN_OR_RETURN(bool took, t.TakeNext());
      if (took && reply) t.busy_until = reply->reply_at_ms;  // The thread waits for its answer.
    }
    if (now % 1'000 != 0) continue;
    if (now % 10'000 == 0 && now > 0) {
      env.Note(fmt::format("{}-{}s: {}; the API's line: {}", now / 1'000 - 10, now / 1'000,
                           Period(api, now - 10'000, now), api.Backlog(now)));
    }
    if (now > kBrownout.to_ms && !drained_at) {
      // Drained: nothing older than two seconds is waiting, and the API's line is short.
      LAB_ASSIGN_OR_RETURN(auto open, env.queue().store().ListJobs({.state = JobState::kPending}));
      LAB_ASSIGN_OR_RETURN(auto running,
                           env.queue().store().ListJobs({.state = JobState::kRunning}));
      open.insert(open.end(), running.begin(), running.end());
      const bool old = std::any_of(open.begin(), open.end(),
                                   [&](const Job& j) { return j.created_at_ms < now - 2'000; });
      if (!old && api.Backlog(now) <= kApi.concurrency) drained_at = now;
    }
  }
  const TimeMs end = env.clock().NowMs();
  // The figures, the same in both modes.
  LAB_ASSIGN_OR_RETURN(Snapshot s, env.queue().store().ReadSnapshot());
  int64_t charged = 0;
  for (const Job& j : s.jobs) charged += j.state == JobState::kSucceeded ? 1 : 0;
  const auto calls = static_cast<double>(api.calls().size());
  env.AddFigure("orders charged", fmt::format("{} of {}", charged, orders));
  env.AddFigure("calls to the API",
                fmt::format("{} ({:.1f} an order)", api.calls().size(), calls / orders));
  int64_t peak_calls = 0;
  for (const DownstreamSecond& second : api.seconds()) {
    peak_calls = std::max(peak_calls, second.calls);
  }
  env.AddFigure("most calls in a second", fmt::format("{}", peak_calls));
  env.AddFigure("retries held back by the budget", fmt::format("{}", gate->held()));
  env.AddFigure("calls held back by the breaker",
                fmt::format("{} (opened {} times)", breaker->held(), breaker->opened()));
  const auto rate = [&](TimeMs from, TimeMs to, int64_t DownstreamSecond::*field) {
    return fmt::format("{:.1f}/s", PerSecond(api, from, to, field));
  };
  env.AddFigure("answered in time, before the brownout",
                rate(0, kBrownout.from_ms, &DownstreamSecond::ok));
  env.AddFigure("answered in time, after it (0:30-1:30)",
                rate(kBrownout.to_ms, kOrdersUntilMs, &DownstreamSecond::ok));
  env.AddFigure("served for nobody, after it",
                rate(kBrownout.to_ms, kOrdersUntilMs, &DownstreamSecond::wasted));
  env.AddFigure("the API's line at the end", fmt::format("{}", api.Backlog(end)));
  env.AddFigure("recovered",
                drained_at ? fmt::format("yes: the backlog drained {:.0f}s after the brownout",
                                         static_cast<double>(*drained_at - kBrownout.to_ms) / 1'000)
                           : fmt::format("no: not drained {:.0f}s after the brownout",
                                         static_cast<double>(end - kBrownout.to_ms) / 1'000));
  env.JudgeAmplification(api.calls(), kBudget, kBreaker);
  env.MarkSettled();
  return {};
}

}  // namespace

FailureMode FM_005() {
  return {.id = "FM_005",
          .title = "Retry storm: retries keep a downstream system down after its trigger ends",
          .invariants = {Invariant::kLiveness, Invariant::kBoundedAmplification},
          .baseline_guards = Guards::AllExcept(&Guards::retry_budget, &Guards::circuit_breaker),
          .guard =
              "retries within a budget (a share of first attempts per window) and a circuit "
              "breaker on the API's failures; held jobs wait, their attempts given back",
          .scenario = Scenario};
}

}  // namespace lab::bundle
