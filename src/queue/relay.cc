#include "queue/relay.h"

namespace lab {

Result<RelayTally> RelayOnce(
    Store& store, const Deliver& deliver, int batch,
    const std::function<void(const EffectRecord&, const Error&)>& failures) {
  LAB_ASSIGN_OR_RETURN(std::vector<EffectRecord> pending, store.Outbox(batch));
  RelayTally tally;
  for (const EffectRecord& effect : pending) {
    if (auto sent = deliver(effect); !sent) {
      ++tally.failed;
      if (failures) failures(effect, sent.error());
      continue;
    }
    // Marked only after the acknowledgement: at least once, never at most.
    LAB_RETURN_IF_ERROR(store.MarkDelivered(effect.id));
    ++tally.delivered;
  }
  return tally;
}

}  // namespace lab
