// Rendering of failure-mode runs for the terminal: the catalogue listing,
// one run's timeline and verdict, and the --all table. Pure formatting; the
// commands decide exit codes. Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "fm/failure_mode.h"

namespace lab {

std::string FormatCatalogue(const std::vector<FailureMode>& catalogue);
// Timeline, violations with evidence, one verdict line per checked invariant,
// and a closing line saying whether the run matched the FM's claim.
std::string FormatRun(const FailureMode& fm, const RunReport& report, const std::string& store);

struct AllRow {
  const FailureMode* fm;
  // By mode (baseline, guarded, recover): the verdict (a baseline's with the
  // invariants it violated), "error", or "-" when the FM has no such mode.
  std::string cells[3];
};
// The runs' figures side by side, one column a mode, rows in the first
// run's order; empty when no run measured any.
std::string FormatFigures(const std::vector<RunReport>& reports);
std::string FormatAllTable(const std::vector<AllRow>& rows);

}  // namespace lab
