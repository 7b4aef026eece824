// The reconciliation drill: what the queue says happened against what a
// downstream system says it holds, job key by job key (FM_015).
//
// A queue and the system its handlers call can disagree without either
// noticing: a call took effect and its reply was lost, so the job failed
// and was dead-lettered while the customer was charged; or the queue
// recorded an effect the system never received. The drill reads the store
// (jobs, the effect ledger) and the system's report of what it holds (by
// the key the engine gave each call, Job::EffectKey), classifies every
// difference, repairs what the job's key can repair, and records every
// finding in the job's audit trail (`drill`), so the divergence is a
// durable fact instead of a silent one:
// - extra: the system holds an effect for a job the queue has given up
//   (DEAD or EXPIRED). A DEAD job is redriven: its next attempt calls under
//   the same key, which the system deduplicates, and the job ends
//   SUCCEEDED, agreeing with it (unless its queue is at its depth limit:
//   the refusal is recorded, and a later drill tries again). An EXPIRED
//   job cannot run again: recorded.
// - missing: the ledger holds an effect the system lacks. An outbox effect
//   its receiver acknowledged (Delivery::kDelivered) is always checked, and
//   repaired by a redelivery (Store::Redeliver): pending again, the relay
//   sends it under the same key, which the receiver deduplicates. One still
//   pending is in flight, not judged. A plain ledger effect is checked only
//   when the ledger is delivered to the system by other means
//   (DrillOptions::ledger_delivered): recorded.
// - mismatched: both hold the key with different payloads (the system
//   reporting one): recorded.
// A job still in flight (PENDING, RUNNING) is not judged. Thread-safety:
// none; a drill is one pass by one caller.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "queue/effect_sink.h"
#include "store/store.h"

namespace lab {

enum class Divergence { kExtra, kMissing, kMismatched };
std::string_view ToString(Divergence d);

// One effect the downstream system reports holding.
struct HeldEffect {
  std::string key;  // The key it was made under (JobContext::key).
  // What it holds; none: the system reports only the key, and no
  // mismatch can be judged.
  std::optional<std::string> payload;
};

// What a downstream system's own log says it holds: the effects handlers
// made there under their keys.
std::vector<HeldEffect> HeldEffects(const EffectLog& log);

struct DrillOptions {
  // The ledger's plain effects are delivered to the system by other means.
  bool ledger_delivered = false;
  bool repair = true;  // Redrive, or deliver again, what that repairs.
};

struct DrillFinding {
  JobId job = 0;
  std::string key;
  Divergence kind = Divergence::kExtra;
  bool repaired = false;  // Redriven (extra) or to be delivered again (missing).
  std::string detail;     // As recorded in the audit trail.
  int64_t effect = 0;     // The ledger effect, for a missing one.
};

struct DrillReport {
  int64_t jobs = 0;     // Jobs in the store.
  int64_t held = 0;     // Effects the system reported.
  int64_t unknown = 0;  // Held under a key no job of the store has (pruned, or never ours).
  std::vector<DrillFinding> findings;

  // One line a finding, and a summary line.
  std::string ToString() const;
};

Result<DrillReport> RunDrill(Store& store, std::span<const HeldEffect> held,
                             const DrillOptions& options = {});

}  // namespace lab
