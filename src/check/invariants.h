// Invariant checkers over a store snapshot, the external effect log and the
// list of acknowledged enqueues.
//
// Each checker returns every violation it finds; a Violation names its
// INV_XXX, the job, what is wrong, and the evidence (audit entries, effect
// records) that proves it. Checkers read only; they never repair.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/effect_sink.h"
#include "store/types.h"

namespace lab {

struct Violation {
  std::string invariant;  // "INV_001"
  JobId job_id = 0;
  std::string message;
  std::vector<std::string> evidence;

  std::string ToString() const;
};

struct CheckInput {
  const Snapshot& snapshot;
  // Effects applied outside the store (commit boundary off, or external calls).
  const std::vector<AppliedEffect>& external;
  // Jobs whose enqueue returned success to the producer.
  std::vector<JobId> acknowledged;
  // Set when the run ended with a recovery pass (reap + reconcile) at this
  // time: nothing expired may still be held after it.
  std::optional<TimeMs> recovered_at_ms;
};

struct InvariantInfo {
  std::string_view id;
  std::string_view statement;
};

// INV_001..INV_008 with their statements (docs/invariants.md).
const std::vector<InvariantInfo>& Invariants();
std::string_view InvariantStatement(std::string_view id);

std::vector<Violation> CheckInv001(const CheckInput& in);
std::vector<Violation> CheckInv002(const CheckInput& in);
std::vector<Violation> CheckInv003(const CheckInput& in);
std::vector<Violation> CheckInv004(const CheckInput& in);
// INV_001..INV_004, in that order.
std::vector<Violation> CheckAll(const CheckInput& in);

// The ids checked by CheckAll.
const std::vector<std::string_view>& CheckedInvariants();

}  // namespace lab
