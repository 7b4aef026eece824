// Running failure modes: one scenario in one mode on a store of its own.
//
// Store URLs for runs: "memory:"; "sqlite:" (a fresh file in a private temp
// directory, removed afterwards); "sqlite:DIR" (a fresh file DIR/FM-mode.db
// kept for inspection; refused if it already exists, so nothing is
// overwritten); "postgresql://..." (a fresh schema per run, named after the
// URL's schema= or "lab", the FM, the mode and the process, created for the
// run and dropped after it, whether the run passed, failed or erred).
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

// Checks a `lab run` store URL without running anything.
Result<void> ValidateRunStoreUrl(const std::string& store_url);

}  // namespace lab
