// lab list, lab run: the failure-mode catalogue.
#include <fmt/core.h>

#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/report.h"
#include "failure_modes/catalogue.h"
#include "fm/runner.h"

namespace lab {
namespace {

struct RunArgs {
  std::string fm_id;
  std::string mode;
  std::string store = "sqlite:";
  bool all = false;
};

int RunOne(const FailureMode& fm, std::optional<Mode> mode, const std::string& store) {
  bool all_matched = true;
  std::vector<RunReport> reports;
  for (Mode m : kAllModes) {
    if ((mode && *mode != m) || !fm.Has(m)) continue;
    auto report = RunFailureMode(fm, m, store);
    if (!report) return FailWith(report.error());
    fmt::print("{}\n", FormatRun(fm, *report, store));
    all_matched = all_matched && report->Matched();
    reports.push_back(std::move(*report));
  }
  if (const std::string figures = FormatFigures(reports); !figures.empty()) {
    fmt::print("{}", figures);
  }
  return all_matched ? kExitOk : kExitFailure;
}

int RunAll(const std::string& store, StoreKind kind) {
  std::vector<AllRow> rows;
  std::vector<std::string> not_run;
  bool all_matched = true;
  for (const FailureMode* fm : ImplementedCatalogue()) {
    if (!fm->RunsOn(kind)) {
      not_run.push_back(fm->NotOn(store));
      continue;
    }
    AllRow row{fm, {"-", "-", "-"}};
    for (Mode m : kAllModes) {
      if (!fm->Has(m)) continue;
      auto report = RunFailureMode(*fm, m, store);
      std::string& cell = row.cells[static_cast<size_t>(m)];
      if (!report) {
        fmt::print(stderr, "lab: {} {}: {}\n", fm->id, ToString(m), report.error().ToString());
        cell = "error";
        all_matched = false;
        continue;
      }
      cell = std::string(ToString(report->verdict()));
      if (m == Mode::kBaseline) {
        cell += ": " + JoinInvariants(ViolatedInvariants(report->violations));
      }
      all_matched = all_matched && report->Matched();
    }
    rows.push_back(row);
  }
  fmt::print("{}", FormatAllTable(rows));
  fmt::print("{} failure modes [store {}]: {}\n", rows.size(), store,
             all_matched ? "each one reproduced with its guard off, held with every guard on"
                         : "SOME DID NOT MATCH their claim");
  for (const std::string& why : not_run) fmt::print("not run: {}\n", why);
  return all_matched ? kExitOk : kExitFailure;
}

int Run(const RunArgs& a) {
  auto kind = RunStoreKind(a.store);
  if (!kind) return FailWith(kind.error());
  if (a.all == !a.fm_id.empty()) return UsageError("run: give exactly one of FM or --all");
  if (a.all) {
    if (!a.mode.empty()) return UsageError("run: --all runs every mode; --mode applies to one FM");
    return RunAll(a.store, *kind);
  }
  const FailureMode* fm = FindFailureMode(a.fm_id);
  if (fm == nullptr) {
    return UsageError(fmt::format("run: unknown failure mode '{}' (see lab list)", a.fm_id));
  }
  if (!fm->implemented()) {
    return UsageError(
        fmt::format("run: {} is planned but has no scenario yet (see lab list)", fm->id));
  }
  if (!fm->RunsOn(*kind)) return UsageError("run: " + fm->NotOn(a.store));
  std::optional<Mode> mode;
  if (!a.mode.empty()) mode = *ParseMode(a.mode);
  if (mode && !fm->Has(*mode)) {
    return UsageError(fmt::format("run: {} has no {} scenario", fm->id, a.mode));
  }
  return RunOne(*fm, mode, a.store);
}

}  // namespace

void AddCatalogueCommands(CLI::App& app, CommandTable& table) {
  auto markdown = std::make_shared<bool>(false);
  auto* list = app.add_subcommand("list", "List the failure-mode catalogue");
  list->add_flag("--markdown", *markdown,
                 "Print docs/failure_mode_index.md as the catalogue says it");
  table.emplace_back(list, [markdown] {
    fmt::print("{}", *markdown ? FormatIndexMarkdown() : FormatCatalogue(Catalogue()));
    return kExitOk;
  });

  auto args = std::make_shared<RunArgs>();
  auto* run = app.add_subcommand("run", "Run failure modes: baseline, guarded and recover");
  run->add_option("FM", args->fm_id, "Failure mode to run, e.g. FM_001");
  run->add_flag("--all", args->all, "Run every implemented failure mode in every mode it has");
  run->add_option("--mode", args->mode,
                  "baseline (its guard off), guarded (every guard on) or recover (its recovery "
                  "drill, every guard on); default: every mode it has")
      ->check(CLI::IsMember({"baseline", "guarded", "recover"}));
  run->add_option("--store", args->store,
                  "sqlite: (default: a fresh temp file per run), sqlite:DIR (keep each run's "
                  "database in DIR), memory:, or postgresql://... (a fresh schema per run, "
                  "dropped afterwards)");
  table.emplace_back(run, [args] { return Run(*args); });
}

}  // namespace lab
