// Running failure modes: one scenario in one mode on one store.
//
// Store URLs for runs: "memory:"; "sqlite:" (a fresh file in a private temp
// directory, removed afterwards); "sqlite:DIR" (a fresh file DIR/FM-mode.db
// kept for inspection; refused if it already exists, so nothing is
// overwritten). Thread-safety: none needed; runs are sequential.
#pragma once

#include <string>

#include "fm/failure_mode.h"

namespace lab {

Result<RunReport> RunFailureMode(const FailureMode& fm, Mode mode, const std::string& store_url);

// Checks a `lab run` store URL without running anything.
Result<void> ValidateRunStoreUrl(const std::string& store_url);

}  // namespace lab
