// FM_010: an enqueue is retried after its reply was lost, and the job
// happens twice.
//
// See spec.md beside this file. The checkout service enqueues "charge
// order 7". The queue commits the job, but the reply is lost (a timeout,
// a dropped connection after COMMIT). The service cannot tell that from a
// failed enqueue, so it retries the same request. Without an idempotency
// key the retry is a second job, and the customer is charged twice.
#include <fmt/core.h>

#include "fm/failure_mode.h"
#include "fm/scenario_env.h"

namespace lab::bundle {
namespace {

constexpr DurationMs kLeaseMs = 30'000;

HandlerResult Charge(const JobContext& ctx) {
  return HandlerResult::Ok(fmt::format("charge {}", ctx.payload));
}

Result<void> Scenario(ScenarioEnv& env) {
  const NewJob request{.key = "order-7", .payload = "order 7: $70.00"};
  env.LoseNextReply(StoreOp::kEnqueue);
  auto first = env.Enqueue(request);
  if (first) return MakeError(ErrorCode::kInternal, "FM_010: the first reply was not lost");
  env.Note(fmt::format("the checkout service saw '{}' and retries the same request",
                       first.error().ToString()));
  LAB_RETURN_IF_ERROR(env.Enqueue(request));

  Worker& w = env.AddWorker("worker-A", Charge, kLeaseMs);
  for (;;) {
    LAB_ASSIGN_OR_RETURN(bool ran, w.ProcessOne());
    if (!ran) break;
  }
  return {};
}

}  // namespace

FailureMode FM_010() {
  return {.id = "FM_010",
          .title = "Duplicate enqueue when a client retries an enqueue whose reply was lost",
          .invariants = {Invariant::kOneEffect},
          .baseline_guards = Guards::AllExcept(&Guards::enqueue_key),
          .guard = "the idempotency key on enqueue",
          .scenario = Scenario};
}

}  // namespace lab::bundle
