// The failure-mode catalogue: every FM_XXX, implemented or planned.
//
// Implemented entries carry a scenario and are run by `lab run`; planned
// entries are listed so the plan (docs/failure_mode_index.md) stays visible in `lab list`.
// Thread-safety: immutable after first use.
#pragma once

#include <string_view>
#include <vector>

#include "fm/failure_mode.h"

namespace lab {

const std::vector<FailureMode>& Catalogue();
// nullptr when `id` is not in the catalogue. Accepts "FM_001" or "fm_001".
const FailureMode* FindFailureMode(std::string_view id);

}  // namespace lab
