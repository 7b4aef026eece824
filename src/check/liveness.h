// INV_006 liveness: once faults have stopped and the bound has passed,
// every job must be terminal (SUCCEEDED or DEAD).
//
// The simulator calls this when its fault-free phase overruns the bound it
// computed from the lease and retry settings. Each violation names the job
// and says why it is stuck (an expired lease nobody reaped, a commit nobody
// finalized, a retry still waiting). Thread-safety: pure function.
#pragma once

#include <set>
#include <vector>

#include "check/invariants.h"
#include "store/types.h"

namespace lab {

std::vector<Violation> CheckLiveness(const Snapshot& snapshot, TimeMs now_ms);

// INV_006's other half, progress: once faults (and their tails) are over,
// a worker that is alive keeps the lease it holds, so a job claimed then
// finishes on that attempt. Every execution claimed at or after
// `quiet_from_ms` that ended ABORTED is a lease taken from a live worker
// (its heartbeats starved, FM_013), except those its worker deferred
// (audited "defer": put back unrun by the retry budget), those held to
// their lease cap (audited "capped": a worker cut off from what its handler
// calls, FM_014) and those in `died`: executions whose worker process died
// holding them (a poison job kills its worker on every attempt, and the
// rest of its batch with it).
std::vector<Violation> CheckLeasesKeptOnceQuiet(const Snapshot& snapshot, TimeMs quiet_from_ms,
                                                const std::set<ExecutionId>& died);

}  // namespace lab
