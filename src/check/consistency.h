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

// Audit completeness, one call at a time (INV_003 from the engine's side):
// `before` and `after` are a store's records around one call made at
// `now_ms`. Every state change the call made (a new job or execution, a
// job's or execution's state) is in the audit entries the call appended,
// as a chain of legal moves each recorded by one of its events
// (store/state_machine.h), at now_ms; no entry records a move that did not
// happen; a ledger effect comes with its execution's commit entry; a job
// deleted comes with a prune entry. A `refused` call changed nothing (its
// only entries are refusal signals). Each problem is one sentence.
std::vector<std::string> FindUnauditedChanges(const Snapshot& before, const Snapshot& after,
                                              TimeMs now_ms, bool refused);

}  // namespace lab
