// Invariant checkers over a store snapshot, the external effect log and the
// list of acknowledged enqueues.
//
// Each checker returns every violation it finds; a Violation names its
// INV_XXX, the job, what is wrong, and the evidence (audit entries, effect
// records) that proves it. Checkers read only; they never repair.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "queue/effect_sink.h"
#include "store/types.h"

namespace lab {

// INV_001..INV_008 (docs/invariants.md): a closed set. Every checker, test
// and report names an invariant through this enum; "INV_001" is only its
// printed form.
enum class Invariant : uint8_t {
  kOneEffect = 1,          // INV_001
  kNoEffectWithoutCommit,  // INV_002
  kAuditedTransitions,     // INV_003
  kRecovery,               // INV_004
  kDetectable,             // INV_005
  kLiveness,               // INV_006
  kBoundedAmplification,   // INV_007
  kBoundedLatency,         // INV_008
};
inline constexpr Invariant kAllInvariants[] = {Invariant::kOneEffect,
                                               Invariant::kNoEffectWithoutCommit,
                                               Invariant::kAuditedTransitions,
                                               Invariant::kRecovery,
                                               Invariant::kDetectable,
                                               Invariant::kLiveness,
                                               Invariant::kBoundedAmplification,
                                               Invariant::kBoundedLatency};

// "INV_001".
std::string_view ToString(Invariant invariant);
// "INV_001" (or "inv_001"); kInvalidArgument names the known ones.
Result<Invariant> ParseInvariant(std::string_view text);
// The statement, as docs/invariants.md words it.
std::string_view InvariantStatement(Invariant invariant);
inline std::ostream& operator<<(std::ostream& os, Invariant invariant) {
  return os << ToString(invariant);
}
// "INV_001,INV_004": sorted, distinct.
std::string JoinInvariants(const std::vector<Invariant>& invariants);

struct Violation {
  Invariant invariant = Invariant::kOneEffect;
  JobId job_id = 0;
  std::string message;
  std::vector<std::string> evidence;

  std::string ToString() const;
};

// One enqueue a producer made, and the job it created, whether or not the
// producer heard back (a lost reply): what the producer meant, for INV_001.
struct ProducerRequest {
  std::string id;  // The producer's own name for the request, e.g. its order number.
  JobId job_id = 0;
};

struct CheckInput {
  const Snapshot& snapshot;
  // Effects applied outside the store (commit boundary off, external calls,
  // or an outbox relay's deliveries: the ledger's intents are not effects).
  const std::vector<AppliedEffect>& external;
  // Jobs whose enqueue returned success to the producer.
  std::vector<JobId> acknowledged;
  // Set when the run ended with a recovery pass (reap + reconcile) at this
  // time: nothing expired may still be held after it.
  std::optional<TimeMs> recovered_at_ms;
  // Every enqueue call that created or found a job, by producer request.
  std::vector<ProducerRequest> requests = {};
  // Executions whose calls a worker saw refused as fenced.
  std::vector<ExecutionId> fenced = {};
};

// Executions their worker put back unrun (audited "defer", Store::Defer):
// ended ABORTED by choice, never having called the handler.
std::set<ExecutionId> DeferredExecutions(const Snapshot& snapshot);

std::vector<Violation> CheckInv001(const CheckInput& in);
std::vector<Violation> CheckInv002(const CheckInput& in);
std::vector<Violation> CheckInv003(const CheckInput& in);
std::vector<Violation> CheckInv004(const CheckInput& in);
std::vector<Violation> CheckInv005(const CheckInput& in);
// INV_001..INV_005, in that order.
std::vector<Violation> CheckAll(const CheckInput& in);

// The invariants CheckAll checks.
const std::vector<Invariant>& CheckedInvariants();
// The distinct invariants `violations` name, sorted.
std::vector<Invariant> ViolatedInvariants(const std::vector<Violation>& violations);

}  // namespace lab
