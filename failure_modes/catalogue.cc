#include "failure_modes/catalogue.h"

#include <cctype>

#include "failure_modes/FM_001_duplicate_retry/scenario.h"

namespace lab {
namespace {

FailureMode Planned(std::string id, std::string title, std::vector<std::string> invariants,
                    std::string guard) {
  return FailureMode{.id = std::move(id),
                     .title = std::move(title),
                     .invariants = std::move(invariants),
                     .guard = std::move(guard)};
}

std::vector<FailureMode> Build() {
  return {
      Fm001DuplicateRetry(),
      Planned("FM_002", "Partial write: crash between effect and commit record",
              {"INV_002", "INV_004"}, "effect and commit in one transaction"),
      Planned("FM_003", "Crash after COMMITTED, before DONE: job stuck", {"INV_004", "INV_006"},
              "reconciler finalizes"),
      Planned("FM_004", "Stuck queue: lease holder dies, lease never reclaimed", {"INV_006"},
              "lease expiry + reaper"),
      Planned("FM_005", "Retry amplification loops / retry storm", {"INV_007", "INV_005"},
              "backoff + jitter + retry budget + breaker"),
      Planned("FM_006", "Poison job loops forever / blocks the queue", {"INV_006", "INV_005"},
              "max attempts + dead letter"),
      Planned("FM_007", "Zombie worker commits after its lease was taken over",
              {"INV_001", "INV_003"}, "fencing token checked at commit"),
      Planned("FM_008", "Clock skew: worker-side lease math expires leases early",
              {"INV_001", "INV_006"}, "store-side time for leases"),
      Planned("FM_009", "Acknowledged before durable: crash loses acked work", {"INV_004"},
              "sync before ack"),
      Planned("FM_010", "Duplicate enqueue when a client retries a timed-out enqueue", {"INV_001"},
              "idempotency key on enqueue"),
      Planned("FM_011", "fsync failure treated as success (fsyncgate)", {"INV_002", "INV_004"},
              "fail-stop on fsync error, recover from log"),
      Planned("FM_012", "Backpressure collapse under overload", {"INV_008"},
              "admission control / load shedding"),
      Planned("FM_013", "Control-plane starvation: reaper/heartbeats starved by job work",
              {"INV_001", "INV_006"}, "separate control-plane capacity"),
      Planned("FM_014", "Liveness under partial partition: heartbeats flow, work never completes",
              {"INV_006"}, "lease cap / progress-based heartbeat"),
      Planned("FM_015", "State divergence between queue and external system",
              {"INV_004", "INV_005"}, "reconciliation drill"),
      Planned("FM_016", "Idempotency boundary violation: effect keyed by execution, not job",
              {"INV_001"}, "stable job key at the boundary"),
  };
}

}  // namespace

const std::vector<FailureMode>& Catalogue() {
  static const std::vector<FailureMode> kCatalogue = Build();
  return kCatalogue;
}

const FailureMode* FindFailureMode(std::string_view id) {
  std::string upper(id);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const FailureMode& fm : Catalogue()) {
    if (fm.id == upper) return &fm;
  }
  return nullptr;
}

}  // namespace lab
