// The failure-mode catalogue: every FM_NNN, implemented or planned.
//
// Implemented entries come from the bundle folders (failure_modes/FM_NNN_*/,
// registered by a generated file, see CMakeLists.txt here) and are run by
// `lab run`; planned entries are a table in catalogue.cc, so the plan stays
// visible in `lab list` and docs/failure_mode_index.md, which is generated
// from this catalogue (FormatIndexMarkdown) and checked by a test.
// Thread-safety: immutable after first use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fm/failure_mode.h"

namespace lab {

// By id: implemented bundles and planned entries together.
const std::vector<FailureMode>& Catalogue();
// The implemented ones only, by id.
std::vector<const FailureMode*> ImplementedCatalogue();
// nullptr when `id` is not in the catalogue. Accepts "FM_001" or "fm_001".
const FailureMode* FindFailureMode(std::string_view id);
// Entries of the plan table that a bundle also implements: must be none
// (a bundle's arrival deletes its planned line).
std::vector<std::string> PlannedAndImplemented();

// docs/failure_mode_index.md, as the catalogue says it.
std::string FormatIndexMarkdown();

}  // namespace lab
