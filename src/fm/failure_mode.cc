#include "fm/failure_mode.h"

#include <algorithm>

namespace lab {

std::string_view ToString(Mode mode) { return mode == Mode::kBaseline ? "baseline" : "guarded"; }

Result<Mode> ParseMode(std::string_view text) {
  if (text == "baseline") return Mode::kBaseline;
  if (text == "guarded") return Mode::kGuarded;
  return MakeError(ErrorCode::kInvalidArgument,
                   "mode must be baseline or guarded, got '" + std::string(text) + "'");
}

bool RunReport::Violated(std::string_view invariant) const {
  return std::any_of(violations.begin(), violations.end(),
                     [&](const Violation& v) { return v.invariant == invariant; });
}

bool RunReport::Matched() const {
  if (mode == Mode::kGuarded) return violations.empty();
  return !claimed.empty() && std::all_of(claimed.begin(), claimed.end(),
                                         [&](const auto& inv) { return Violated(inv); });
}

std::string RunReport::Verdict() const {
  if (mode == Mode::kBaseline) return Matched() ? "reproduced" : "not reproduced";
  return Matched() ? "held" : "violated";
}

}  // namespace lab
