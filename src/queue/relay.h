// The outbox's relay (DESIGN's third effect shape): delivers the ledger's
// outbox effects to their receiver, at least once, under the job's key.
//
// A handler whose effect is an outbox's hands it to the commit as an intent
// (Effect::outbox): the store records it pending in the COMMITTED
// transaction. The relay reads the pending effects, oldest first, sends
// each under its key (EffectRecord::key, the job's, never the
// execution's), and marks it delivered only once the receiver has
// acknowledged it. A send that failed, or whose answer was lost, leaves the
// effect pending, and a later pass sends it again under the same key: the
// receiver must deduplicate by key, and then it holds each effect exactly
// once. A drill that finds a delivered effect missing downstream marks it
// pending again (queue/drill.h), and the relay delivers it once more.
// Thread-safety: a pass is one caller's; `deliver` is called from it.
#pragma once

#include <cstdint>
#include <functional>

#include "core/status.h"
#include "queue/worker.h"
#include "store/store.h"

namespace lab {

// Sends one effect to its receiver under effect.key: ok once the receiver
// acknowledged it; an error (its words kept for the log) otherwise.
using Deliver = std::function<Result<void>(const EffectRecord& effect)>;

struct RelayTally {
  int64_t delivered = 0;  // Acknowledged and marked delivered.
  int64_t failed = 0;     // Sent and not acknowledged: still pending.
  RelayTally& operator+=(const RelayTally& o) {
    delivered += o.delivered;
    failed += o.failed;
    return *this;
  }
};

// A handler as the receiver's end (an ExecHandler running the command that
// delivers, say): run with the effect's job, key and payload (attempt 0);
// its success is the acknowledgement, its error the reason there was none.
Deliver DeliverWith(Handler send);

// One pass: up to `batch` pending effects, each sent once. A store error
// ends the pass and is returned (what was acknowledged and not yet marked
// is sent again by a later pass). `failures`, when set, hears each failed
// send: the effect and why.
Result<RelayTally> RelayOnce(
    Store& store, const Deliver& deliver, int batch = 100,
    const std::function<void(const EffectRecord&, const Error&)>& failures = {});

}  // namespace lab
