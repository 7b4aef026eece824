// lab explore, lab replay, lab shrink: the deterministic simulator.
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/html_report.h"
#include "cli/stop_signals.h"
#include "sim/explore.h"

namespace lab {
namespace {

// The flags that shape a simulation, shared by the three commands.
struct SimFlags {
  std::string store = "memory:";
  std::string guards = "all";
  std::string jobs;
  std::string workers;
  bool no_swarm = false;
  bool external_keys = false;
  bool outbox = false;
  bool store_faults = false;
  bool disk_faults = false;
  CLI::Option* store_opt = nullptr;
  CLI::Option* guards_opt = nullptr;
  CLI::Option* keys_opt = nullptr;
  CLI::Option* outbox_opt = nullptr;

  void Add(CLI::App* cmd) {
    store_opt =
        cmd->add_option("--store", store, "memory: (default) or sqlite: (a fresh file per seed)")
            ->check(CLI::IsMember({"memory:", "sqlite:"}));
    guards_opt = cmd->add_option("--guards", guards, Guards::Help());
    cmd->add_option("--jobs", jobs, "Fix the number of jobs, 1..10000 (default: drawn per seed)");
    cmd->add_option("--workers", workers,
                    "Fix the number of workers, 1..256 (default: drawn per seed)");
    cmd->add_flag("--no-swarm", no_swarm,
                  "Use the fixed default configuration instead of drawing one per seed");
    keys_opt = cmd->add_flag("--external-keys", external_keys,
                             "The handler makes its effect as a call to a downstream system that "
                             "deduplicates by the key the engine gives it (JobContext::key)");
    outbox_opt = cmd->add_flag("--outbox", outbox,
                               "The handler commits its effect as an intent and calls nothing; "
                               "the control plane's relay delivers each intent at least once to "
                               "a downstream system that deduplicates by key");
    cmd->add_flag("--store-faults", store_faults,
                  "Draw storage faults too: busy files, serialization failures, lost "
                  "connections, I/O errors, a full disk and lost commit replies, on every "
                  "worker's store handle and the sweeper's");
    cmd->add_flag("--disk-faults", disk_faults,
                  "Draw disk faults too (with --store sqlite:, whose file is on a simulated "
                  "disk): I/O errors, a full disk, failed syncs and power losses, after each of "
                  "which the store must recover and pass PRAGMA integrity_check");
  }
  Result<SimOptions> Sim() const {
    LAB_ASSIGN_OR_RETURN(Guards g, Guards::Parse(guards));
    return SimOptions{
        .guards = g, .store = store, .external_honours_keys = external_keys, .outbox = outbox};
  }
  Result<DrawOptions> Draw() const {
    if (disk_faults && store != "sqlite:") {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--disk-faults needs --store sqlite: (the simulated disk is SQLite's)");
    }
    DrawOptions d{.swarm = !no_swarm,
                  .store_faults = store_faults,
                  .disk_faults = disk_faults,
                  .outbox = outbox};
    if (!jobs.empty()) {
      LAB_ASSIGN_OR_RETURN(d.jobs, ParseInteger(jobs, "--jobs", 1, kMaxSimJobs));
    }
    if (!workers.empty()) {
      LAB_ASSIGN_OR_RETURN(d.workers, ParseInteger(workers, "--workers", 1, kMaxSimWorkers));
    }
    return d;
  }
  // The flags again, for printing a command that reproduces a run.
  std::string Repeat() const {
    std::string s = fmt::format("--store {} --guards {}", store, guards);
    if (!jobs.empty()) s += fmt::format(" --jobs {}", jobs);
    if (!workers.empty()) s += fmt::format(" --workers {}", workers);
    if (no_swarm) s += " --no-swarm";
    if (external_keys) s += " --external-keys";
    if (outbox) s += " --outbox";
    if (store_faults) s += " --store-faults";
    if (disk_faults) s += " --disk-faults";
    return s;
  }
  // Records the run's flags in a schedule written out.
  void RecordIn(Schedule& schedule) const {
    schedule.guards = guards;
    schedule.store = store;
    schedule.external_keys = external_keys;
    schedule.outbox = outbox;
  }
  // Takes a schedule file's recorded flags where the command line gave none;
  // a flag given on the command line wins, and says so.
  void TakeFrom(const Schedule& schedule) {
    auto take = [](auto& flag, const auto& recorded, const CLI::Option* opt, const char* name) {
      if (!recorded) return;
      if (opt != nullptr && opt->count() > 0) {
        if (flag != *recorded) {
          fmt::print("note: {} {} overrides the schedule file's {}\n", name, flag, *recorded);
        }
        return;
      }
      flag = *recorded;
    };
    take(guards, schedule.guards, guards_opt, "--guards");
    take(store, schedule.store, store_opt, "--store");
    take(external_keys, schedule.external_keys, keys_opt, "--external-keys");
    take(outbox, schedule.outbox, outbox_opt, "--outbox");
  }
};

std::string Rate(double per_s) {
  if (per_s >= 1e6) return fmt::format("{:.2f}M", per_s / 1e6);
  if (per_s >= 1e3) return fmt::format("{:.1f}k", per_s / 1e3);
  return fmt::format("{:.0f}", per_s);
}

void PrintViolations(const SimResult& r, size_t limit) {
  for (size_t i = 0; i < r.violations.size() && i < limit; ++i) {
    fmt::print("  {}\n", r.violations[i].ToString());
  }
  if (r.violations.size() > limit) fmt::print("  ... {} more\n", r.violations.size() - limit);
}

struct ExploreArgs {
  SimFlags flags;
  std::string seeds;
  std::string time;
  std::string seed_start = "0";
};

// SIGINT/SIGTERM during explore: finish the seed in hand, then print the
// summary with where to resume.
std::atomic<bool> g_explore_stop{false};
void OnExploreSignal(int) { g_explore_stop.store(true); }

int Explore(const ExploreArgs& a) {
  if (a.seeds.empty() == a.time.empty()) {
    return UsageError("explore: give exactly one of --seeds N or --time SECONDS");
  }
  auto sim = a.flags.Sim();
  if (!sim) return FailWith(sim.error());
  auto draw = a.flags.Draw();
  if (!draw) return FailWith(draw.error());
  auto start_seed = ParseInteger(a.seed_start, "--seed-start", 0, INT64_MAX);
  if (!start_seed) return FailWith(start_seed.error());
  ExploreOptions options{.seed_start = static_cast<uint64_t>(*start_seed),
                         .draw = *draw,
                         .sim = *sim,
                         .stop = &g_explore_stop};
  if (!a.seeds.empty()) {
    auto n = ParseInteger(a.seeds, "--seeds", 1, INT64_MAX);
    if (!n) return FailWith(n.error());
    options.seeds = static_cast<uint64_t>(*n);
  } else {
    auto budget = ParseDuration(a.time, "--time", 1, kMaxDurationMs);
    if (!budget) return FailWith(budget.error());
    options.budget_ms = *budget;
  }
  SystemClock wall;
  const bool tty = isatty(STDERR_FILENO) != 0;
  const TimeMs start = wall.NowMs();
  TimeMs last_line = start;
  auto progress = [&](uint64_t seeds, uint64_t events) {
    const TimeMs now = wall.NowMs();
    if (tty) {
      const double done =
          options.seeds
              ? static_cast<double>(seeds) / static_cast<double>(*options.seeds)
              : static_cast<double>(now - start) / static_cast<double>(*options.budget_ms);
      const int filled = static_cast<int>(std::min(1.0, done) * 30);
      fmt::print(stderr, "\r[{:#<{}}{:.<{}}] {} seeds, {} events", "", filled, "", 30 - filled,
                 seeds, events);
    } else if (now - last_line >= 5'000) {
      fmt::print(stderr, "explore: {} seeds, {} events\n", seeds, events);
      last_line = now;
    }
  };
  const StopSignalScope signals(OnExploreSignal);
  fmt::print(stderr, "explore: from seed {}; Ctrl-C stops after the current seed, with a summary\n",
             options.seed_start);
  auto result = lab::Explore(options, wall, progress);
  if (tty) fmt::print(stderr, "\n");
  if (!result) return FailWith(result.error());
  const double secs = std::max<double>(1, static_cast<double>(result->elapsed_ms)) / 1000.0;
  int code = kExitOk;
  if (result->failure) {
    const SimResult& f = *result->failure;
    fmt::print("VIOLATION at seed {}: {}\n  config: {}\n", f.seed, f.ViolatedList(),
               result->failure_config.ToString());
    PrintViolations(f, 5);
    fmt::print("replay: lab replay --seed {} {}\n", f.seed, a.flags.Repeat());
    fmt::print("report: lab replay --seed {} {} --html seed-{}.html\n", f.seed, a.flags.Repeat(),
               f.seed);
    fmt::print("shrink: lab shrink --seed {} {} --out seed-{}.json\n", f.seed, a.flags.Repeat(),
               f.seed);
    code = kExitFailure;
  } else if (result->interrupted) {
    fmt::print("interrupted: no violation in seeds {} to {}; resume with --seed-start {}\n",
               options.seed_start, result->next_seed - (result->seeds_run > 0 ? 1 : 0),
               result->next_seed);
    code = kExitInterrupted;
  } else {
    fmt::print("no violation found (guards {}, store {})\n", a.flags.guards, a.flags.store);
  }
  fmt::print("summary: {} seeds, {} events in {:.2f}s: {} seeds/s, {} events/s\n",
             result->seeds_run, result->events, secs,
             Rate(static_cast<double>(result->seeds_run) / secs),
             Rate(static_cast<double>(result->events) / secs));
  if (a.flags.store_faults || a.flags.disk_faults) {
    fmt::print("storage: {}\n", result->storage.ToString());
  }
  return code;
}

Result<Schedule> LoadSchedule(const std::string& path) {
  std::ifstream in(path);
  if (!in) return MakeError(ErrorCode::kFailedPrecondition, "cannot read schedule file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ScheduleFromJson(ss.str());
}

struct ReplayArgs {
  SimFlags flags;
  std::string seed;
  std::string schedule_file;
  std::string trace_file;
  std::string html_file;
  bool timeline = false;
};

int Replay(ReplayArgs a) {
  if (a.seed.empty() == a.schedule_file.empty()) {
    return UsageError("replay: give exactly one of --seed S or --schedule FILE");
  }
  Schedule schedule;
  std::string what;  // The run, as its report's title says it.
  if (!a.seed.empty()) {
    auto seed = ParseInteger(a.seed, "--seed", 0, INT64_MAX);
    if (!seed) return FailWith(seed.error());
    auto draw = a.flags.Draw();
    if (!draw) return FailWith(draw.error());
    DrawnConfig config;
    schedule = DrawSchedule(static_cast<uint64_t>(*seed), *draw, &config);
    what = fmt::format("seed {}: {}", *seed, config.ToString());
    fmt::print("{}\n", what);
  } else {
    auto loaded = LoadSchedule(a.schedule_file);
    if (!loaded) return FailWith(loaded.error());
    schedule = std::move(*loaded);
    a.flags.TakeFrom(schedule);
    what = fmt::format("schedule {} (seed {})", a.schedule_file, schedule.seed);
    fmt::print(
        "schedule {}: seed {}, {} jobs, {} workers, {} faults, {} handler outcomes, {} storage "
        "faults\n",
        a.schedule_file, schedule.seed, schedule.jobs.size(), schedule.workers,
        schedule.faults.size(), schedule.handlers.size(), schedule.store_faults.size());
  }
  auto sim = a.flags.Sim();
  if (!sim) return FailWith(sim.error());
  VectorTraceSink trace;
  const bool tracing = a.timeline || !a.trace_file.empty() || !a.html_file.empty();
  if (tracing) sim->trace = &trace;
  auto r = Simulate(schedule, *sim);
  if (!r) return FailWith(r.error());
  if (!a.trace_file.empty()) {
    std::ofstream out(a.trace_file, std::ios::trunc);
    for (const auto& e : trace.events()) out << TraceEventToJson(e) << '\n';
    out.flush();
    if (!out) return FailWith({ErrorCode::kFailedPrecondition, "cannot write " + a.trace_file});
    fmt::print("trace: {} events written to {}\n", trace.events().size(), a.trace_file);
  }
  if (a.timeline) fmt::print("{}", FormatTimeline(trace.events()));
  fmt::print("{} events, {} faults fired, ended at t={}ms, trace hash {:016x}\n", r->events,
             r->faults_fired, r->end_ms, r->trace_hash);
  if (r->storage.store_faults_fired + r->storage.disk_faults_fired > 0) {
    fmt::print("{}\n", r->storage.ToString());
  }
  std::string capacity;
  if (const auto& d = schedule.downstream) {
    capacity = fmt::format("; it serves {} at a time, {}ms each, callers wait {}ms{}",
                           d->concurrency, d->service_ms, d->timeout_ms,
                           d->brownouts.empty() ? ""
                                                : fmt::format(", {} brownout(s) {}x slower",
                                                              d->brownouts.size(), d->slow_factor));
  }
  fmt::print("downstream: {}{}{}\n", r->DownstreamSummary(),
             schedule.outages.empty() ? "" : fmt::format("; {} outage(s)", schedule.outages.size()),
             capacity);
  fmt::print("load: {}\n", r->LoadSummary());
  if (!schedule.links.empty()) {
    std::string faults;
    for (const ScheduledLinkFault& l : schedule.links) {
      faults += fmt::format("{}w{} {} link {} {}-{}ms", faults.empty() ? "" : ", ", l.worker,
                            ToString(l.link), ToString(l.fault), l.window.from_ms, l.window.to_ms);
    }
    fmt::print("network: {} call(s) met a link fault ({})\n", r->link_faults_fired, faults);
  }
  if (r->drill_findings > 0) {
    fmt::print(
        "drill: {} divergence(s) between the queue and the downstream system, {} repaired "
        "(redriven, or delivered again)\n",
        r->drill_findings, r->drill_repaired);
  }
  if (schedule.max_depth > 0 || r->expired > 0) {
    fmt::print(
        "admission: {} arrival(s) refused at the door (depth limit {}), {} job(s) expired "
        "unrun\n",
        r->refused, schedule.max_depth, r->expired);
  }
  if (!a.html_file.empty()) {
    const std::string run = a.seed.empty() ? "--schedule " + a.schedule_file : "--seed " + a.seed;
    const HtmlRun page{
        .title = fmt::format("lab replay {} (guards {}): {}", run, a.flags.guards,
                             r->violations.empty() ? std::string("every invariant holds")
                                                   : "violated " + r->ViolatedList()),
        .summary = {what,
                    fmt::format("{} events, {} faults fired, ended at {}", r->events,
                                r->faults_fired, RunTime(r->end_ms)),
                    "downstream: " + r->DownstreamSummary(), "load: " + r->LoadSummary()},
        .events = trace.events(),
        .violations = r->violations,
        .command = fmt::format("lab replay {} {}", run, a.flags.Repeat())};
    if (auto w = WriteFile(a.html_file, RenderRunHtml(page)); !w) return FailWith(w.error());
    fmt::print("report: {}\n", a.html_file);
  }
  if (r->violations.empty()) {
    fmt::print("every invariant holds (guards {})\n", a.flags.guards);
    return kExitOk;
  }
  fmt::print("violated: {}\n", r->ViolatedList());
  if (r->first_detected_ms) {
    fmt::print("  (the per-event check first saw a duplicate effect at t={}ms)\n",
               *r->first_detected_ms);
  }
  PrintViolations(*r, 20);
  return kExitFailure;
}

struct ShrinkArgs {
  SimFlags flags;
  std::string seed;
  std::string out;
  std::string invariant;
};

int Shrink(const ShrinkArgs& a) {
  auto sim = a.flags.Sim();
  if (!sim) return FailWith(sim.error());
  auto seed = ParseInteger(a.seed, "--seed", 0, INT64_MAX);
  if (!seed) return FailWith(seed.error());
  auto draw = a.flags.Draw();
  if (!draw) return FailWith(draw.error());
  const Schedule original = DrawSchedule(static_cast<uint64_t>(*seed), *draw);
  std::optional<Invariant> target;
  if (!a.invariant.empty()) {
    auto parsed = ParseInvariant(a.invariant);
    if (!parsed) return UsageError("shrink: " + parsed.error().message);
    target = *parsed;
  }
  auto shrunk = lab::Shrink(original, *sim, target);
  if (!shrunk) return FailWith(shrunk.error());
  a.flags.RecordIn(shrunk->schedule);
  std::ofstream out(a.out, std::ios::trunc);
  out << ScheduleToJson(shrunk->schedule);
  out.flush();
  if (!out) return FailWith({ErrorCode::kFailedPrecondition, "cannot write " + a.out});
  const auto& s = shrunk->schedule;
  fmt::print("shrunk seed {} ({}) in {} runs:\n", *seed, ToString(shrunk->invariant), shrunk->runs);
  fmt::print("  jobs {} -> {}, workers {} -> {}, faults {} -> {}, handler outcomes {} -> {}\n",
             original.jobs.size(), s.jobs.size(), original.workers, s.workers,
             original.faults.size(), s.faults.size(), original.handlers.size(), s.handlers.size());
  PrintViolations(shrunk->result, 3);
  fmt::print(
      "wrote {} (with the run's flags: --guards {} --store {}{})\nreplay: lab replay "
      "--schedule {}\n",
      a.out, a.flags.guards, a.flags.store, a.flags.external_keys ? " --external-keys" : "", a.out);
  return kExitOk;
}

}  // namespace

void AddSimCommands(CLI::App& app, CommandTable& table) {
  auto ex = std::make_shared<ExploreArgs>();
  auto* explore = app.add_subcommand("explore", "Search seeds for invariant violations");
  explore->add_option("--seeds", ex->seeds, "How many seeds to run");
  explore->add_option("--time", ex->time,
                      "Run for this long, N[ms|s|m|h|d] (a bare number is seconds)");
  explore->add_option("--seed-start", ex->seed_start, "First seed (default 0)");
  ex->flags.Add(explore);
  table.emplace_back(explore, [ex] { return Explore(*ex); });

  auto rp = std::make_shared<ReplayArgs>();
  auto* replay = app.add_subcommand("replay", "Re-run one seed or schedule file exactly");
  replay->add_option("--seed", rp->seed, "The seed to replay");
  replay->add_option("--schedule", rp->schedule_file,
                     "A schedule file written by lab shrink (its recorded flags apply unless "
                     "given here)");
  replay->add_option("--trace", rp->trace_file, "Write every event as JSON lines to this file");
  replay->add_flag("--timeline", rp->timeline, "Print the human timeline");
  replay->add_option("--html", rp->html_file,
                     "Write the run as one self-contained HTML page: a swimlane per actor, "
                     "leases, faults and effects, each violation linked to its job's events");
  rp->flags.Add(replay);
  table.emplace_back(replay, [rp] { return Replay(*rp); });

  auto sh = std::make_shared<ShrinkArgs>();
  auto* shrink = app.add_subcommand("shrink", "Reduce a failing seed to a minimal schedule file");
  shrink->add_option("--seed", sh->seed, "The failing seed")->required();
  shrink->add_option("--out", sh->out, "Where to write the schedule (JSON)")->required();
  shrink->add_option("--invariant", sh->invariant,
                     "Keep this invariant failing (default: the first one violated)");
  sh->flags.Add(shrink);
  table.emplace_back(shrink, [sh] { return Shrink(*sh); });
}

}  // namespace lab
