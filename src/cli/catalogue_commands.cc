// lab list, lab run: the failure-mode catalogue.
#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/html_report.h"
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
  std::string html;    // One FM's page.
  std::string report;  // --all: a directory of pages, with index.html.
};

// A failure mode's page: what it is, then each mode's verdict per invariant,
// its figures and its timeline, one above the other.
std::string FailureModePage(const FailureMode& fm, const std::vector<RunReport>& reports,
                            const std::string& store) {
  std::string body = fmt::format(
      "<div class=\"summary\">claims {} violated with <code>{}</code> off; guard: {}</div>\n"
      "<div class=\"summary\">spec: <code>{}/spec.md</code>; store {}; reproduce: <code>lab run "
      "{} --store {}</code></div>\n",
      JoinInvariants(fm.invariants), HtmlEscape(fm.GuardsOff()), HtmlEscape(fm.guard),
      HtmlEscape(fm.dir), HtmlEscape(store), fm.id, HtmlEscape(store));
  for (const RunReport& r : reports) {
    body += fmt::format("<h2>{}: {}</h2>\n<table>", ToString(r.mode), ToString(r.verdict()));
    for (Invariant inv : r.judged) {
      body += fmt::format("<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>", ToString(inv),
                          r.Violated(inv) ? "bad" : "ok", r.Violated(inv) ? "violated" : "holds",
                          HtmlEscape(InvariantStatement(inv)));
    }
    body += "</table>\n";
    if (!r.figures.empty()) {
      body += "<table class=\"figures\">";
      for (const Figure& f : r.figures) {
        body +=
            fmt::format("<tr><td>{}</td><td>{}</td></tr>", HtmlEscape(f.name), HtmlEscape(f.value));
      }
      body += "</table>\n";
    }
    body += RenderTimelineSection(ToString(r.mode), r.trace, r.violations);
  }
  return RenderPage(fmt::format("{}: {}", fm.id, fm.title), body);
}

int RunOne(const FailureMode& fm, std::optional<Mode> mode, const std::string& store,
           const std::string& html) {
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
  if (!html.empty()) {
    if (auto w = WriteFile(html, FailureModePage(fm, reports, store)); !w)
      return FailWith(w.error());
    fmt::print("report: {}\n", html);
  }
  return all_matched ? kExitOk : kExitFailure;
}

int RunAll(const std::string& store, StoreKind kind, const std::string& report_dir) {
  if (!report_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(report_dir, ec);
    if (ec) {
      return FailWith({ErrorCode::kFailedPrecondition,
                       fmt::format("cannot make --report {}: {}", report_dir, ec.message())});
    }
  }
  std::string index;
  std::vector<AllRow> rows;
  std::vector<std::string> not_run;
  bool all_matched = true;
  for (const FailureMode* fm : ImplementedCatalogue()) {
    if (!fm->RunsOn(kind)) {
      not_run.push_back(fm->NotOn(store));
      continue;
    }
    AllRow row{fm, {"-", "-", "-"}};
    std::vector<RunReport> reports;
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
      reports.push_back(std::move(*report));
    }
    if (!report_dir.empty()) {
      const std::string page = fmt::format("{}/{}.html", report_dir, fm->id);
      if (auto w = WriteFile(page, FailureModePage(*fm, reports, store)); !w) {
        return FailWith(w.error());
      }
      index += fmt::format("<tr><td><a href=\"{}.html\">{}</a></td><td>{}</td><td>{}</td>", fm->id,
                           fm->id, HtmlEscape(fm->title), JoinInvariants(fm->invariants));
      for (const std::string& cell : row.cells) index += "<td>" + HtmlEscape(cell) + "</td>";
      index += "</tr>\n";
    }
    rows.push_back(row);
  }
  fmt::print("{}", FormatAllTable(rows));
  const std::string_view outcome =
      all_matched ? "each one reproduced with its guard off, held with every guard on"
                  : "SOME DID NOT MATCH their claim";
  fmt::print("{} failure modes [store {}]: {}\n", rows.size(), store, outcome);
  for (const std::string& why : not_run) fmt::print("not run: {}\n", why);
  if (!report_dir.empty()) {
    std::string body = fmt::format(
        "<div class=\"summary\">store {}: {}</div>\n<table><tr><th>FM</th><th>failure</th>"
        "<th>claims</th><th>baseline</th><th>guarded</th><th>recover</th></tr>\n{}</table>\n",
        HtmlEscape(store), outcome, index);
    for (const std::string& why : not_run) body += "<p>not run: " + HtmlEscape(why) + "</p>\n";
    const std::string path = report_dir + "/index.html";
    if (auto w = WriteFile(path, RenderPage("The failure-mode catalogue", body)); !w) {
      return FailWith(w.error());
    }
    fmt::print("report: {}\n", path);
  }
  return all_matched ? kExitOk : kExitFailure;
}

int Run(const RunArgs& a) {
  auto kind = RunStoreKind(a.store);
  if (!kind) return FailWith(kind.error());
  if (a.all == !a.fm_id.empty()) return UsageError("run: give exactly one of FM or --all");
  if (a.all) {
    if (!a.mode.empty()) return UsageError("run: --all runs every mode; --mode applies to one FM");
    if (!a.html.empty())
      return UsageError("run: --html writes one FM's page; with --all, --report DIR");
    return RunAll(a.store, *kind, a.report);
  }
  if (!a.report.empty())
    return UsageError("run: --report DIR goes with --all; one FM: --html FILE");
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
  return RunOne(*fm, mode, a.store, a.html);
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
  run->add_option("--html", args->html,
                  "Write the failure mode as one self-contained page: each mode's verdict per "
                  "invariant, its figures and its timeline");
  run->add_option("--report", args->report,
                  "With --all: write DIR/index.html (the catalogue) and a page per failure mode");
  table.emplace_back(run, [args] { return Run(*args); });
}

}  // namespace lab
