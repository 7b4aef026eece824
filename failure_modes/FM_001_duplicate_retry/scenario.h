// FM_001: duplicate execution after a lease timeout (retry duplication).
//
// See spec.md beside this file. The main scenario: worker A leases a job,
// runs its handler, then stalls (a GC pause) past its lease; the reaper
// re-queues the job; worker B runs it to completion; A wakes and tries to
// commit. Without the commit boundary both executions apply the effect. The
// recovery scenario: a worker crashes after COMMITTED and before DONE; after
// a restart the reconciler finalizes the job, still with one effect.
#pragma once

#include "core/status.h"
#include "fm/failure_mode.h"
#include "fm/scenario_env.h"

namespace lab {

inline constexpr DurationMs kFm001LeaseMs = 30'000;

FailureMode Fm001DuplicateRetry();
Result<void> Fm001Scenario(ScenarioEnv& env);
Result<void> Fm001RecoverScenario(ScenarioEnv& env);

}  // namespace lab
