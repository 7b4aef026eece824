// FailureMode: one entry of the catalogue, and the report of running it.
//
// A failure mode is a scenario (a deterministic script on the manual clock)
// plus the guards its baseline turns off and the invariants that baseline
// must be seen to violate, exactly: run in baseline mode, the scenario must
// violate those invariants and no others; run guarded (every guard on),
// every invariant must hold. A bundle may add a recovery scenario, which
// must leave every invariant holding with every guard on.
// See docs/architecture.md, "Adding a failure mode".
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
#include "queue/queue.h"

namespace lab {

class ScenarioEnv;

enum class Mode { kBaseline, kGuarded, kRecover };
inline constexpr Mode kAllModes[] = {Mode::kBaseline, Mode::kGuarded, Mode::kRecover};
std::string_view ToString(Mode mode);
Result<Mode> ParseMode(std::string_view text);

enum class Verdict { kReproduced, kNotReproduced, kHeld, kViolated };
std::string_view ToString(Verdict verdict);

using Scenario = std::function<Result<void>(ScenarioEnv&)>;

struct FailureMode {
  std::string id;                     // "FM_001"
  std::string title;                  // "Duplicate execution after lease timeout"
  std::string dir;                    // "failure_modes/FM_001_duplicate_retry"; planned: empty
  std::vector<Invariant> invariants;  // Violated in baseline (exactly), held when guarded.
  Guards baseline_guards;             // Guards in force for the baseline run.
  std::string guard;                  // The prevention mechanism, in words.
  Scenario scenario;                  // Empty: planned, not implemented yet.
  Scenario recover;                   // Optional: a recovery drill, every guard on.
  // A failure of the disk itself (a lost sync, a power loss): it runs on
  // sqlite: only, on the simulated disk (store/sim_disk.h), whose power the
  // scenario can cut. A memory store has no disk, and a PostgreSQL server's
  // disk is the server's, not the lab's to fail.
  bool sim_disk = false;

  bool implemented() const { return static_cast<bool>(scenario); }
  bool Has(Mode mode) const { return mode == Mode::kRecover ? bool(recover) : implemented(); }
  bool RunsOn(StoreKind kind) const { return !sim_disk || kind == StoreKind::kSqlite; }
  // Why it does not run on `kind` (RunsOn is false): one sentence.
  std::string NotOn(std::string_view store_url) const;
  // The guards the baseline turns off, by name: "commit_boundary".
  std::string GuardsOff() const;
  // The guards a run in `mode` uses.
  Guards GuardsFor(Mode mode) const {
    return mode == Mode::kBaseline ? baseline_guards : Guards::All();
  }
};

// One figure a scenario measured (calls per job, goodput, drain time), in
// the same words in every mode, so that modes can be set side by side.
struct Figure {
  std::string name;
  std::string value;
};

struct RunReport {
  std::string fm_id;
  Mode mode = Mode::kGuarded;
  Guards guards;
  std::string store_url;  // The run's own store (removed after it, unless sqlite:DIR).
  std::vector<TraceEvent> trace;
  std::vector<Violation> violations;
  std::vector<Invariant> claimed;  // What a baseline run must violate; empty otherwise.
  // What the run judged: INV_001..INV_005 always, INV_006 when the
  // scenario marked itself settled, INV_007 when it logged downstream calls.
  std::vector<Invariant> judged;
  std::vector<Figure> figures;  // In the order the scenario measured them.

  bool Violated(Invariant invariant) const;
  // Invariants violated that the run did not claim, and claimed ones that held.
  std::vector<Invariant> Unexpected() const;
  std::vector<Invariant> Missing() const;
  // Baseline: exactly the claimed invariants violated. Otherwise: nothing violated.
  bool Matched() const { return Unexpected().empty() && Missing().empty(); }
  Verdict verdict() const;
};

}  // namespace lab
