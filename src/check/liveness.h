// INV_006 liveness: once faults have stopped and the bound has passed,
// every job must be terminal (SUCCEEDED or DEAD).
//
// The simulator calls this when its fault-free phase overruns the bound it
// computed from the lease and retry settings. Each violation names the job
// and says why it is stuck (an expired lease nobody reaped, a commit nobody
// finalized, a retry still waiting). Thread-safety: pure function.
#pragma once

#include <vector>

#include "check/invariants.h"
#include "store/types.h"

namespace lab {

std::vector<Violation> CheckLiveness(const Snapshot& snapshot, TimeMs now_ms);

}  // namespace lab
