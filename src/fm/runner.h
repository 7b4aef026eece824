// Running failure modes: one scenario in one mode on a store of its own
// (queue/scratch_store.h: memory:, sqlite:, sqlite:DIR, or a fresh
// PostgreSQL schema dropped after the run, whatever its outcome).
// Thread-safety: none needed; runs are sequential.
#pragma once

#include <functional>
#include <string>

#include "fm/failure_mode.h"

namespace lab {

// `inspect`, when given, sees the run's environment after the checks and
// before the store is removed (a test's own assertions).
Result<RunReport> RunFailureMode(const FailureMode& fm, Mode mode, const std::string& store_url,
                                 const std::function<void(ScenarioEnv&)>& inspect = {});

// Checks a `lab run` store URL without running anything: its kind.
Result<StoreKind> RunStoreKind(const std::string& store_url);

}  // namespace lab
