#include "queue/relay.h"

namespace lab {

Deliver DeliverWith(Handler send) {
  return [send = std::move(send)](const EffectRecord& e) -> Result<void> {
    const HandlerResult r =
        send(JobContext{.job_id = e.job_id, .key = e.key, .payload = e.payload});
    if (r.status == HandlerResult::Status::kOk) return {};
    return MakeError(ErrorCode::kUnavailable, r.error);
  };
}

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
