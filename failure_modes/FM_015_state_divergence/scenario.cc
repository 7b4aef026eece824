// FM_015: the queue and the downstream system disagree, and nobody knows.
//
// See spec.md beside this file. One worker charges invoice-7 through a
// payments API that honours idempotency keys. For the first half minute
// the network between them drops every reply: the API applies the charge
// (once: the retry's call under the same key is deduplicated), but the
// worker sees "connection reset" twice and the job, with two attempts, is
// dead-lettered. The queue says the invoice failed; the API says it is
// paid. Without a drill that stays so, silently. With the reconciliation
// drill (run by the operator at 2:00, as after any incident), the
// difference is found by the job's key, recorded in the job's audit
// trail, and repaired: the redriven job calls again under its key, the
// API answers from its record, and the job ends SUCCEEDED, one charge.
//
// The other way round, through the outbox: a mailer worker commits the
// receipt for invoice-7 as an intent, and the relay delivers it to the same
// provider, which acknowledges it. At 1:00 the provider restores its mail
// store from a backup taken before: the receipt is gone, and the queue
// still says delivered. The drill finds it missing and has it delivered
// again, under the same key.
#include <fmt/core.h>

#include <algorithm>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"
#include "queue/drill.h"
#include "queue/relay.h"

namespace lab::bundle {
namespace {

constexpr DurationMs kLeaseMs = 30'000;
constexpr DurationMs kTickMs = 1'000;
constexpr TimeMs kRepliesBackAtMs = 30'000;  // The network stops dropping replies.
constexpr TimeMs kRestoreAtMs = 60'000;  // The provider restores its mail store.
constexpr TimeMs kDrillAtMs = 2 * 60'000;
constexpr DurationMs kRunForMs = 5 * 60'000;

Result<void> Scenario(ScenarioEnv& env) {
  const Handler call = env.CallsApi("charge");  // Under the job's key.
  const Handler charge = [&env, call](const JobContext& ctx) {
    HandlerResult applied = call(ctx);
    if (env.clock().NowMs() < kRepliesBackAtMs) {
      return HandlerResult::Transient("connection reset before the reply: charged or not?");
    }
    return applied;
  };
  LAB_ASSIGN_OR_RETURN(
      JobId invoice,
      env.Enqueue({.key = "invoice-7", .payload = "invoice 7: 120.00", .max_attempts = 2}));
  LAB_ASSIGN_OR_RETURN(
      JobId receipt,
      env.Enqueue({.queue = "receipts", .key = "receipt-7", .payload = "receipt for invoice 7"}));
  env.Note(
      "until 0:30 the network between the worker and the payments API drops every reply; the "
      "API honours idempotency keys");
  JobThread worker{&env.AddWorker("worker", charge, kLeaseMs)};
  // The mailer writes the receipt and commits it as an outbox intent; the
  // relay delivers it to the provider under the job's key.
  JobThread mailer{&env.AddWorker(
      [](const JobContext& ctx) { return HandlerResult::Ok("mail: " + ctx.payload); },
      {.name = "mailer", .queue = "receipts", .lease_ms = kLeaseMs, .outbox = true})};
  const Deliver deliver = [&env](const EffectRecord& e) -> Result<void> {
    env.api().Apply({.job_id = e.job_id,
                     .key = e.key,
                     .execution_id = e.execution_id,
                     .payload = e.payload,
                     .at_ms = env.clock().NowMs(),
                     .from_handler = true});
    return {};
  };
  std::optional<DrillReport> drilled;
  const TimeMs end = env.clock().NowMs() + kRunForMs;
  for (; env.clock().NowMs() < end; env.clock().AdvanceMs(kTickMs)) {
    const TimeMs now = env.clock().NowMs();
    if (now == kRepliesBackAtMs) env.Note("the network is whole again");
    if (now == kRestoreAtMs) {
      env.Note("the provider restores its mail store from an older backup: receipt-7 is gone");
      env.api().Lose(Job{.queue = "receipts", .key = "receipt-7"}.EffectKey(), now);
    }
    if (now == kDrillAtMs && env.guards().drill) {
      // The operator's drill: the API's own report of what it holds.
      LAB_ASSIGN_OR_RETURN(drilled, RunDrill(env.queue().store(), HeldEffects(env.api().log())));
      env.Note("the operator runs the reconciliation drill");
      for (const DrillFinding& f : drilled->findings) {
        env.Note(fmt::format("job {}: {}", f.job, f.detail));
      }
    }
    for (JobThread* t : {&worker, &mailer}) {
      LAB_ASSIGN_OR_RETURN(bool took, t->TakeNext());
      if (took) LAB_RETURN_IF_ERROR(t->Finish());
    }
    LAB_ASSIGN_OR_RETURN(RelayTally relayed, RelayOnce(env.queue().store(), deliver));
    if (relayed.delivered > 0) {
      env.Note(fmt::format("the relay delivered {} intent(s), acknowledged", relayed.delivered));
    }
  }
  LAB_RETURN_IF_ERROR(env.NoteJob(invoice));
  LAB_RETURN_IF_ERROR(env.NoteJob(receipt));
  LAB_ASSIGN_OR_RETURN(Job job, env.queue().store().GetJob(invoice));
  env.AddFigure("invoice-7 in the queue",
                job.state == JobState::kDead
                    ? fmt::format("DEAD: {}", job.last_error)
                    : fmt::format("{}, redriven by the drill", ToString(job.state)));
  const auto at_provider = [&env](JobId job) {
    return std::count_if(env.api().log().applied().begin(), env.api().log().applied().end(),
                         [job](const AppliedEffect& e) { return e.job_id == job; });
  };
  env.AddFigure("charges at the payments API", fmt::format("{}", at_provider(invoice)));
  env.AddFigure("receipt-7 at the provider", at_provider(receipt) == 1
                                                 ? std::string("1, delivered again by the relay")
                                                 : std::string("none: lost in the 1:00 restore"));
  env.AddFigure("divergences found and recorded",
                drilled
                    ? fmt::format("{}, {} repaired", drilled->findings.size(),
                                  std::count_if(drilled->findings.begin(), drilled->findings.end(),
                                                [](const DrillFinding& f) { return f.repaired; }))
                    : std::string("none: no drill ran"));
  env.MarkSettled();
  return {};
}

}  // namespace

FailureMode FM_015() {
  return {.id = "FM_015",
          .title = "State divergence between queue and external system",
          .invariants = {Invariant::kRecovery, Invariant::kDetectable},
          .baseline_guards = Guards::AllExcept(&Guards::drill),
          .guard =
              "a reconciliation drill: the queue compared with what the system holds, by job "
              "key; every difference recorded, a dead letter the system holds redriven, an "
              "outbox effect it lost delivered again",
          .scenario = Scenario};
}

}  // namespace lab::bundle
