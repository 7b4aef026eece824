// FailureMode: one entry of the catalogue, and the report of running it.
//
// A failure mode is a scenario (a deterministic script on the manual clock)
// plus the guards its baseline turns off and the invariants that baseline
// must be seen to violate. Run in baseline mode, the scenario must reproduce
// the violation; run guarded (every guard on), every invariant must hold.
// Thread-safety: plain values; the catalogue is immutable.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "check/invariants.h"
#include "core/status.h"
#include "core/trace.h"
#include "queue/guards.h"

namespace lab {

class ScenarioEnv;

enum class Mode { kBaseline, kGuarded };
std::string_view ToString(Mode mode);
Result<Mode> ParseMode(std::string_view text);

struct FailureMode {
  std::string id;                       // "FM_001"
  std::string title;                    // "Duplicate execution after lease timeout"
  std::string dir;                      // "failure_modes/FM_001_duplicate_retry"
  std::vector<std::string> invariants;  // Violated in baseline, held when guarded.
  Guards baseline_guards;               // Guards in force for the baseline run.
  std::string guard;                    // The prevention mechanism, in words.
  bool implemented = false;             // Planned entries have no scenario yet.
  std::function<Result<void>(ScenarioEnv&)> scenario;
};

struct RunReport {
  std::string fm_id;
  Mode mode = Mode::kGuarded;
  Guards guards;
  std::vector<TraceEvent> trace;
  std::vector<Violation> violations;
  std::vector<std::string> claimed;  // The FM's invariants.

  bool Violated(std::string_view invariant) const;
  // Baseline: every claimed invariant violated. Guarded: nothing violated.
  bool Matched() const;
  // "reproduced", "not reproduced", "held", "violated".
  std::string Verdict() const;
};

}  // namespace lab
