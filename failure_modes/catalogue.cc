#include "failure_modes/catalogue.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>

namespace lab {

// Generated from the bundle folders (bundles.cc.in).
std::vector<FailureMode> ImplementedFailureModes();

namespace {

// The failure modes the lab plans but has no bundle for yet. A new bundle
// replaces its line here.
struct PlannedEntry {
  std::string_view id;
  std::string_view title;
  std::vector<Invariant> invariants;
  std::string_view guard;
};

const std::vector<PlannedEntry>& PlannedEntries() {
  using enum Invariant;
  static const std::vector<PlannedEntry> kPlan = {
  };
  return kPlan;
}

std::vector<FailureMode> Build() {
  std::vector<FailureMode> all = ImplementedFailureModes();
  for (const PlannedEntry& p : PlannedEntries()) {
    if (std::any_of(all.begin(), all.end(), [&](const FailureMode& fm) { return fm.id == p.id; }))
      continue;  // Reported by PlannedAndImplemented().
    all.push_back(FailureMode{.id = std::string(p.id),
                              .title = std::string(p.title),
                              .invariants = p.invariants,
                              .guard = std::string(p.guard)});
  }
  std::sort(all.begin(), all.end(),
            [](const FailureMode& a, const FailureMode& b) { return a.id < b.id; });
  return all;
}

std::string JoinIds(const std::vector<Invariant>& invariants) {
  std::string out;
  for (Invariant inv : invariants)
    out += fmt::format("{}{}", out.empty() ? "" : ", ", ToString(inv));
  return out;
}

}  // namespace

const std::vector<FailureMode>& Catalogue() {
  static const std::vector<FailureMode> kCatalogue = Build();
  return kCatalogue;
}

std::vector<const FailureMode*> ImplementedCatalogue() {
  std::vector<const FailureMode*> out;
  for (const FailureMode& fm : Catalogue()) {
    if (fm.implemented()) out.push_back(&fm);
  }
  return out;
}

const FailureMode* FindFailureMode(std::string_view id) {
  std::string upper(id);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const FailureMode& fm : Catalogue()) {
    if (fm.id == upper) return &fm;
  }
  return nullptr;
}

std::vector<std::string> PlannedAndImplemented() {
  std::vector<std::string> out;
  for (const FailureMode& fm : ImplementedFailureModes()) {
    for (const PlannedEntry& p : PlannedEntries()) {
      if (p.id == fm.id) out.push_back(fm.id);
    }
  }
  return out;
}

std::string FormatIndexMarkdown() {
  std::string out =
      "# Failure-mode index\n\n"
      "<!-- Generated from the catalogue: `lab list --markdown > docs/failure_mode_index.md`.\n"
      "     A test fails when this page and the catalogue disagree. -->\n\n"
      "Every failure mode the lab catalogues. An implemented one is a bundle folder\n"
      "`failure_modes/FM_NNN_name/` with `spec.md` and a deterministic scenario; the\n"
      "catalogue suite runs it on the memory, SQLite and PostgreSQL stores in **baseline**\n"
      "(its guard off: the checkers must report exactly the invariants listed here),\n"
      "**guarded** (every guard on: every invariant must hold) and, where the bundle has\n"
      "one, **recover** (a recovery drill, every guard on: every invariant must hold).\n"
      "A failure of the disk itself runs on SQLite only, on the simulated disk\n"
      "(`src/store/sim_disk.h`), whose syncs can fail and whose power can be cut.\n"
      "`lab run FM_NNN` runs one; `lab run --all` runs every implemented one.\n\n"
      "| FM | Failure | Invariants (baseline) | Guard that prevents it | Status |\n"
      "|---|---|---|---|---|\n";
  for (const FailureMode& fm : Catalogue()) {
    const std::string name =
        fm.implemented() ? fmt::format("[{}](../{}/spec.md)", fm.id, fm.dir) : fm.id;
    const std::string guard =
        fm.implemented() ? fmt::format("`{}`: {}", fm.GuardsOff(), fm.guard) : fm.guard;
    const std::string status =
        !fm.implemented()
            ? "planned"
            : fmt::format("implemented: baseline, guarded{}{}", fm.recover ? ", recover" : "",
                          fm.sim_disk ? " (SQLite, simulated disk)" : "");
    out += fmt::format("| {} | {} | {} | {} | {} |\n", name, fm.title, JoinIds(fm.invariants),
                       guard, status);
  }
  out +=
      "\nThe invariants are described in [invariants.md](invariants.md); the states\n"
      "and transitions they refer to in [state_model.md](state_model.md); how a failure\n"
      "mode is added in [architecture.md](architecture.md).\n";
  return out;
}

}  // namespace lab
