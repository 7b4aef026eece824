#include "fm/failure_mode.h"

#include <fmt/core.h>

#include <algorithm>

#include "core/enum_names.h"

namespace lab {
namespace {

constexpr EnumNames<Mode, 3> kModes = {
    {{Mode::kBaseline, "baseline"}, {Mode::kGuarded, "guarded"}, {Mode::kRecover, "recover"}}};
constexpr EnumNames<Verdict, 4> kVerdicts = {{{Verdict::kReproduced, "reproduced"},
                                              {Verdict::kNotReproduced, "not reproduced"},
                                              {Verdict::kHeld, "held"},
                                              {Verdict::kViolated, "violated"}}};

bool Contains(const std::vector<Invariant>& list, Invariant inv) {
  return std::find(list.begin(), list.end(), inv) != list.end();
}

}  // namespace

std::string_view ToString(Mode mode) { return NameOf(kModes, mode); }

std::string FailureMode::GuardsOff() const {
  std::string out;
  for (const GuardInfo& g : Guards::Table()) {
    if (!(baseline_guards.*g.member))
      out += std::string(out.empty() ? "" : ",") + std::string(g.name);
  }
  return out;
}
std::string FailureMode::NotOn(std::string_view store_url) const {
  return fmt::format(
      "{} is a failure of the disk itself and runs on sqlite: only (on the simulated disk, "
      "whose power the lab can cut), not on {}",
      id, store_url);
}

std::string_view ToString(Verdict verdict) { return NameOf(kVerdicts, verdict); }

Result<Mode> ParseMode(std::string_view text) {
  if (auto mode = ValueOf(kModes, text)) return *mode;
  return MakeError(ErrorCode::kInvalidArgument,
                   "mode must be baseline, guarded or recover, got '" + std::string(text) + "'");
}

bool RunReport::Violated(Invariant invariant) const {
  return std::any_of(violations.begin(), violations.end(),
                     [&](const Violation& v) { return v.invariant == invariant; });
}

std::vector<Invariant> RunReport::Unexpected() const {
  std::vector<Invariant> out;
  for (Invariant inv : ViolatedInvariants(violations)) {
    if (!Contains(claimed, inv)) out.push_back(inv);
  }
  return out;
}

std::vector<Invariant> RunReport::Missing() const {
  std::vector<Invariant> out;
  for (Invariant inv : claimed) {
    if (!Violated(inv)) out.push_back(inv);
  }
  return out;
}

Verdict RunReport::verdict() const {
  if (mode == Mode::kBaseline) return Matched() ? Verdict::kReproduced : Verdict::kNotReproduced;
  return Matched() ? Verdict::kHeld : Verdict::kViolated;
}

}  // namespace lab
