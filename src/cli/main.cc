// lab: the Software Correctness Lab's command line.
//
//   lab list                          the failure-mode catalogue
//   lab run FM_XXX [--mode M] [--store URL]
//   lab run --all [--store URL]
//
// Exit codes: 0 success (the run matched the failure mode's claim), 1 a
// failure (a claim not matched, an I/O error), 2 a usage error (unknown
// command, option, FM or store URL). Errors go to stderr.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>

#include "cli/report.h"
#include "failure_modes/catalogue.h"
#include "fm/runner.h"

namespace lab {
namespace {

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;

int ExitFor(const Error& error) {
  return error.code == ErrorCode::kInvalidArgument ? kUsage : kFailure;
}

int Fail(const Error& error) {
  fmt::print(stderr, "lab: {}\n", error.message);
  return ExitFor(error);
}

int RunOne(const FailureMode& fm, std::optional<Mode> mode, const std::string& store) {
  bool all_matched = true;
  for (Mode m : {Mode::kBaseline, Mode::kGuarded}) {
    if (mode && *mode != m) continue;
    auto report = RunFailureMode(fm, m, store);
    if (!report) return Fail(report.error());
    fmt::print("{}\n", FormatRun(fm, *report, store));
    all_matched = all_matched && report->Matched();
  }
  return all_matched ? kOk : kFailure;
}

int RunAll(const std::string& store) {
  std::vector<AllRow> rows;
  bool all_matched = true;
  for (const FailureMode& fm : Catalogue()) {
    if (!fm.implemented) continue;
    AllRow row{&fm, "", ""};
    for (Mode m : {Mode::kBaseline, Mode::kGuarded}) {
      auto report = RunFailureMode(fm, m, store);
      std::string& cell = m == Mode::kBaseline ? row.baseline : row.guarded;
      if (!report) {
        fmt::print(stderr, "lab: {} {}: {}\n", fm.id, ToString(m), report.error().ToString());
        cell = "error";
        all_matched = false;
        continue;
      }
      cell = report->Verdict();
      all_matched = all_matched && report->Matched();
    }
    rows.push_back(row);
  }
  fmt::print("{}", FormatAllTable(rows));
  fmt::print("{} failure mode(s) [store {}]: {}\n", rows.size(), store,
             all_matched ? "every one reproduces in baseline and holds when guarded"
                         : "SOME DID NOT MATCH their claim");
  return all_matched ? kOk : kFailure;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "Software Correctness Lab: reproduce, detect, prevent and prove job-queue failure "
      "modes"};
  app.require_subcommand(1);

  auto* list = app.add_subcommand("list", "List the failure-mode catalogue");

  auto* run = app.add_subcommand("run", "Run failure modes in baseline and/or guarded mode");
  std::string fm_id;
  std::string mode_text;
  std::string store = "sqlite:";
  bool all = false;
  run->add_option("FM", fm_id, "Failure mode to run, e.g. FM_001");
  run->add_flag("--all", all, "Run every implemented failure mode in both modes");
  run->add_option("--mode", mode_text,
                  "baseline (guard off) or guarded (all guards on); "
                  "default: both")
      ->check(CLI::IsMember({"baseline", "guarded"}));
  run->add_option("--store", store,
                  "sqlite: (default: a fresh temp file per run), sqlite:DIR (keep each run's "
                  "database in DIR) or memory:");

  if (argc >= 2 && argv[1][0] != '-') {
    const std::string command = argv[1];
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      known = known || sub->get_name() == command;
    }
    if (!known) {
      fmt::print(stderr, "lab: unknown command '{}' (commands: list, run; see lab --help)\n",
                 command);
      return kUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }

  if (list->parsed()) {
    fmt::print("{}", FormatCatalogue(Catalogue()));
    return kOk;
  }
  if (auto valid = ValidateRunStoreUrl(store); !valid) return Fail(valid.error());
  if (all == !fm_id.empty()) {
    fmt::print(stderr, "lab run: give exactly one of FM or --all (see lab run --help)\n");
    return kUsage;
  }
  if (all) {
    if (!mode_text.empty()) {
      fmt::print(stderr, "lab run: --all runs both modes; --mode applies to one FM\n");
      return kUsage;
    }
    return RunAll(store);
  }
  const FailureMode* fm = FindFailureMode(fm_id);
  if (fm == nullptr) {
    fmt::print(stderr, "lab run: unknown failure mode '{}' (see lab list)\n", fm_id);
    return kUsage;
  }
  if (!fm->implemented) {
    fmt::print(stderr, "lab run: {} is planned but has no scenario yet (see lab list)\n", fm->id);
    return kUsage;
  }
  std::optional<Mode> mode;
  if (!mode_text.empty()) mode = *ParseMode(mode_text);
  return RunOne(*fm, mode, store);
}

}  // namespace
}  // namespace lab

int main(int argc, char** argv) { return lab::Main(argc, argv); }
