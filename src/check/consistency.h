// The whole-state consistency check: what must be true of a store's records
// after any sequence of calls, whatever the guards (unlike the invariants,
// which a switched-off guard is expected to break).
//
// Ids are unique and every record points at one that exists; the audit
// sequence increases; an execution's attempt is within its job's count;
// the ledger holds at most one effect per job while the commit boundary is
// on; and while fencing is on, every state change is a legal transition
// (INV_003 holds). Expensive (it reads everything): the simulator runs it
// every N events under a debug-build assertion (SimOptions). Each problem
// is one sentence. Thread-safety: pure function.
#pragma once

#include <string>
#include <vector>

#include "queue/guards.h"
#include "store/types.h"

namespace lab {

std::vector<std::string> FindInconsistencies(const Snapshot& snapshot, const Guards& guards);

}  // namespace lab
