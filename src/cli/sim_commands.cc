// lab explore, lab replay, lab shrink: the deterministic simulator.
#include <fmt/core.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "sim/explore.h"

namespace lab {
namespace {

// The flags that shape a simulation, shared by the three commands.
struct SimFlags {
  std::string store = "memory:";
  std::string guards = "all";
  std::optional<int> jobs;
  std::optional<int> workers;
  bool no_swarm = false;
  bool external_keys = false;

  void Add(CLI::App* cmd) {
    cmd->add_option("--store", store, "memory: (default) or sqlite: (a fresh file per seed)")
        ->check(CLI::IsMember({"memory:", "sqlite:"}));
    cmd->add_option("--guards", guards, "all (default), none, or -NAME[,-NAME] to turn guards off");
    cmd->add_option("--jobs", jobs, "Fix the number of jobs (default: drawn per seed)")
        ->check(CLI::Range(1, 10'000));
    cmd->add_option("--workers", workers, "Fix the number of workers (default: drawn per seed)")
        ->check(CLI::Range(1, 256));
    cmd->add_flag("--no-swarm", no_swarm,
                  "Use the fixed default configuration instead of drawing one per seed");
    cmd->add_flag("--external-keys", external_keys,
                  "The external system honours idempotency keys (dedupes effects by job key)");
  }
  Result<SimOptions> Sim() const {
    LAB_ASSIGN_OR_RETURN(Guards g, Guards::Parse(guards));
    return SimOptions{.guards = g, .store = store, .external_honours_keys = external_keys};
  }
  DrawOptions Draw() const { return {.swarm = !no_swarm, .jobs = jobs, .workers = workers}; }
  // The flags again, for printing a command that reproduces a run.
  std::string Repeat() const {
    std::string s = fmt::format("--store {} --guards {}", store, guards);
    if (jobs) s += fmt::format(" --jobs {}", *jobs);
    if (workers) s += fmt::format(" --workers {}", *workers);
    if (no_swarm) s += " --no-swarm";
    if (external_keys) s += " --external-keys";
    return s;
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
  std::optional<uint64_t> seeds;
  std::optional<double> time_s;
  uint64_t seed_start = 0;
};

int Explore(const ExploreArgs& a) {
  if (a.seeds.has_value() == a.time_s.has_value()) {
    return UsageError("explore: give exactly one of --seeds N or --time SECONDS");
  }
  auto sim = a.flags.Sim();
  if (!sim) return FailWith(sim.error());
  ExploreOptions options{
      .seed_start = a.seed_start, .seeds = a.seeds, .draw = a.flags.Draw(), .sim = *sim};
  if (a.time_s) options.budget_ms = static_cast<DurationMs>(*a.time_s * 1000.0);
  SystemClock wall;
  const bool tty = isatty(STDERR_FILENO) != 0;
  const TimeMs start = wall.NowMs();
  TimeMs last_line = start;
  auto progress = [&](uint64_t seeds, uint64_t events) {
    const TimeMs now = wall.NowMs();
    if (tty) {
      const double done = a.seeds ? static_cast<double>(seeds) / static_cast<double>(*a.seeds)
                                  : static_cast<double>(now - start) / (*a.time_s * 1000.0);
      const int filled = static_cast<int>(std::min(1.0, done) * 30);
      fmt::print(stderr, "\r[{:#<{}}{:.<{}}] {} seeds, {} events", "", filled, "", 30 - filled,
                 seeds, events);
    } else if (now - last_line >= 5'000) {
      fmt::print(stderr, "explore: {} seeds, {} events\n", seeds, events);
      last_line = now;
    }
  };
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
    fmt::print("shrink: lab shrink --seed {} {} --out seed-{}.json\n", f.seed, a.flags.Repeat(),
               f.seed);
    code = kExitFailure;
  } else {
    fmt::print("no violation found (guards {}, store {})\n", a.flags.guards, a.flags.store);
  }
  fmt::print("summary: {} seeds, {} events in {:.2f}s: {} seeds/s, {} events/s\n",
             result->seeds_run, result->events, secs,
             Rate(static_cast<double>(result->seeds_run) / secs),
             Rate(static_cast<double>(result->events) / secs));
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
  std::optional<uint64_t> seed;
  std::string schedule_file;
  std::string trace_file;
  bool timeline = false;
};

int Replay(const ReplayArgs& a) {
  if (a.seed.has_value() == !a.schedule_file.empty()) {
    return UsageError("replay: give exactly one of --seed S or --schedule FILE");
  }
  auto sim = a.flags.Sim();
  if (!sim) return FailWith(sim.error());
  Schedule schedule;
  DrawnConfig config;
  if (a.seed) {
    schedule = DrawSchedule(*a.seed, a.flags.Draw(), &config);
    fmt::print("seed {}: {}\n", *a.seed, config.ToString());
  } else {
    auto loaded = LoadSchedule(a.schedule_file);
    if (!loaded) return FailWith(loaded.error());
    schedule = std::move(*loaded);
    fmt::print("schedule {}: seed {}, {} jobs, {} workers, {} faults, {} handler outcomes\n",
               a.schedule_file, schedule.seed, schedule.jobs.size(), schedule.workers,
               schedule.faults.size(), schedule.handlers.size());
  }
  VectorTraceSink trace;
  const bool tracing = a.timeline || !a.trace_file.empty();
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
  uint64_t seed = 0;
  std::string out;
  std::string invariant;
};

int Shrink(const ShrinkArgs& a) {
  auto sim = a.flags.Sim();
  if (!sim) return FailWith(sim.error());
  const Schedule original = DrawSchedule(a.seed, a.flags.Draw());
  std::optional<std::string> target;
  if (!a.invariant.empty()) target = a.invariant;
  auto shrunk = lab::Shrink(original, *sim, target);
  if (!shrunk) return FailWith(shrunk.error());
  std::ofstream out(a.out, std::ios::trunc);
  out << ScheduleToJson(shrunk->schedule);
  out.flush();
  if (!out) return FailWith({ErrorCode::kFailedPrecondition, "cannot write " + a.out});
  const auto& s = shrunk->schedule;
  fmt::print("shrunk seed {} ({}) in {} runs:\n", a.seed, shrunk->invariant, shrunk->runs);
  fmt::print("  jobs {} -> {}, workers {} -> {}, faults {} -> {}, handler outcomes {} -> {}\n",
             original.jobs.size(), s.jobs.size(), original.workers, s.workers,
             original.faults.size(), s.faults.size(), original.handlers.size(), s.handlers.size());
  PrintViolations(shrunk->result, 3);
  fmt::print("wrote {}\nreplay: lab replay --schedule {} --store {} --guards {}{}\n", a.out, a.out,
             a.flags.store, a.flags.guards, a.flags.external_keys ? " --external-keys" : "");
  return kExitOk;
}

}  // namespace

void AddSimCommands(CLI::App& app, CommandTable& table) {
  auto ex = std::make_shared<ExploreArgs>();
  auto* explore = app.add_subcommand("explore", "Search seeds for invariant violations");
  explore->add_option("--seeds", ex->seeds, "How many seeds to run")->check(CLI::PositiveNumber);
  explore->add_option("--time", ex->time_s, "Run for this many seconds of wall time")
      ->check(CLI::PositiveNumber);
  explore->add_option("--seed-start", ex->seed_start, "First seed (default 0)");
  ex->flags.Add(explore);
  table.emplace_back(explore, [ex] { return Explore(*ex); });

  auto rp = std::make_shared<ReplayArgs>();
  auto* replay = app.add_subcommand("replay", "Re-run one seed or schedule file exactly");
  replay->add_option("--seed", rp->seed, "The seed to replay");
  replay->add_option("--schedule", rp->schedule_file, "A schedule file written by lab shrink");
  replay->add_option("--trace", rp->trace_file, "Write every event as JSON lines to this file");
  replay->add_flag("--timeline", rp->timeline, "Print the human timeline");
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
