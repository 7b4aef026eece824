#include "cli/report.h"

#include <fmt/core.h>

#include "check/invariants.h"

namespace lab {
namespace {

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(sep)) + item;
  return out;
}

}  // namespace

std::string FormatCatalogue(const std::vector<FailureMode>& catalogue) {
  std::string out = fmt::format("{:<7} {:<12} {:<26} {}\n", "FM", "status", "invariants", "title");
  for (const auto& fm : catalogue) {
    out +=
        fmt::format("{:<7} {:<12} {:<26} {}\n", fm.id, fm.implemented ? "implemented" : "planned",
                    Join(fm.invariants, ","), fm.title);
  }
  return out;
}

std::string FormatRun(const FailureMode& fm, const RunReport& report, const std::string& store) {
  std::string out = fmt::format("{}  {}\nmode: {} (guards: {})   store: {}\n\ntimeline\n", fm.id,
                                fm.title, ToString(report.mode), report.guards.ToString(), store);
  out += FormatTimeline(report.trace);
  if (!report.violations.empty()) {
    out += fmt::format("\nviolations ({})\n", report.violations.size());
    for (const auto& v : report.violations) out += "  " + v.ToString() + "\n";
  }
  out += "\nverdict\n";
  for (std::string_view inv : CheckedInvariants()) {
    out += fmt::format("  {} {:<8}  {}\n", inv, report.Violated(inv) ? "violated" : "holds",
                       InvariantStatement(inv));
  }
  const std::string claim = Join(fm.invariants, ", ");
  if (report.mode == Mode::kBaseline) {
    out += fmt::format("{} baseline: {} (the failure mode claims {} violated without {})\n", fm.id,
                       report.Verdict(), claim, fm.guard);
  } else {
    out += fmt::format("{} guarded: {} (every invariant must hold with {})\n", fm.id,
                       report.Verdict(), fm.guard);
  }
  return out;
}

std::string FormatAllTable(const std::vector<AllRow>& rows) {
  std::string out = fmt::format("{:<7} {:<16} {:<16} {}\n", "FM", "baseline", "guarded", "title");
  for (const auto& r : rows) {
    out += fmt::format("{:<7} {:<16} {:<16} {}\n", r.fm->id, r.baseline, r.guarded, r.fm->title);
  }
  return out;
}

}  // namespace lab
