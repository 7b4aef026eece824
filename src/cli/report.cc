#include "cli/report.h"

#include <fmt/core.h>

#include <algorithm>

#include "check/invariants.h"

namespace lab {
namespace {

std::string Join(const std::vector<Invariant>& items, std::string_view sep) {
  std::string out;
  for (Invariant item : items) out += fmt::format("{}{}", out.empty() ? "" : sep, ToString(item));
  return out;
}

}  // namespace

std::string FormatCatalogue(const std::vector<FailureMode>& catalogue) {
  std::string out = fmt::format("{:<7} {:<12} {:<26} {}\n", "FM", "status", "invariants", "title");
  for (const auto& fm : catalogue) {
    out +=
        fmt::format("{:<7} {:<12} {:<26} {}\n", fm.id, fm.implemented() ? "implemented" : "planned",
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
  for (Invariant inv : report.judged) {
    out += fmt::format("  {} {:<8}  {}\n", ToString(inv),
                       report.Violated(inv) ? "violated" : "holds", InvariantStatement(inv));
  }
  if (report.mode == Mode::kBaseline) {
    out += fmt::format("{} baseline: {} (the failure mode claims exactly {} violated without {})\n",
                       fm.id, ToString(report.verdict()), Join(fm.invariants, ", "), fm.guard);
    if (!report.Unexpected().empty())
      out += fmt::format("  also violated, not claimed: {}\n", Join(report.Unexpected(), ", "));
    if (!report.Missing().empty())
      out += fmt::format("  claimed, but held: {}\n", Join(report.Missing(), ", "));
  } else {
    out += fmt::format("{} {}: {} (every invariant must hold with every guard on)\n", fm.id,
                       ToString(report.mode), ToString(report.verdict()));
  }
  return out;
}

std::string FormatFigures(const std::vector<RunReport>& reports) {
  std::vector<std::string> names;
  for (const RunReport& r : reports) {
    for (const Figure& f : r.figures) {
      if (std::find(names.begin(), names.end(), f.name) == names.end()) names.push_back(f.name);
    }
  }
  if (names.empty()) return "";
  size_t name_width = 7, value_width = 8;
  for (const std::string& n : names) name_width = std::max(name_width, n.size());
  for (const RunReport& r : reports) {
    for (const Figure& f : r.figures) value_width = std::max(value_width, f.value.size());
  }
  // One line: the label, then a cell a run, without trailing blanks.
  const auto row = [&](std::string_view label, const std::vector<std::string_view>& cells) {
    std::string line = fmt::format("{:<{}}", label, name_width);
    for (std::string_view cell : cells) line += fmt::format("  {:<{}}", cell, value_width);
    line.erase(line.find_last_not_of(' ') + 1);
    return line + "\n";
  };
  std::vector<std::string_view> modes;
  for (const RunReport& r : reports) modes.push_back(ToString(r.mode));
  std::string out = row("figures", modes);
  for (const std::string& n : names) {
    std::vector<std::string_view> values;
    for (const RunReport& r : reports) {
      auto it = std::find_if(r.figures.begin(), r.figures.end(),
                             [&](const Figure& f) { return f.name == n; });
      values.push_back(it == r.figures.end() ? "-" : std::string_view(it->value));
    }
    out += row(n, values);
  }
  return out;
}

std::string FormatAllTable(const std::vector<AllRow>& rows) {
  // The guards column as wide as its widest entry (a baseline may turn
  // off more than one).
  size_t guards = std::string_view("guard off").size();
  for (const auto& r : rows) guards = std::max(guards, r.fm->GuardsOff().size());
  const auto line = [&](std::string_view fm, std::string_view off, std::string_view baseline,
                        std::string_view guarded, std::string_view recover,
                        std::string_view title) {
    return fmt::format("{:<7} {:<{}} {:<40} {:<9} {:<9} {}\n", fm, off, guards, baseline, guarded,
                       recover, title);
  };
  std::string out = line("FM", "guard off", "baseline: violated", "guarded", "recover", "failure");
  for (const auto& r : rows) {
    out += line(r.fm->id, r.fm->GuardsOff(), r.cells[0], r.cells[1], r.cells[2], r.fm->title);
  }
  return out;
}

}  // namespace lab
