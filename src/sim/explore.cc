#include "sim/explore.h"

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace lab {

Result<ExploreResult> Explore(const ExploreOptions& options, Clock& wall,
                              const std::function<void(uint64_t, uint64_t)>& progress) {
  if (!options.seeds && !options.budget_ms) {
    return MakeError(ErrorCode::kInvalidArgument, "explore needs a seed count or a time budget");
  }
  ExploreResult out;
  const TimeMs start = wall.NowMs();
  out.next_seed = options.seed_start;
  for (uint64_t seed = options.seed_start;; ++seed) {
    out.next_seed = seed;
    if (options.stop != nullptr && options.stop->load()) {
      out.interrupted = true;
      break;
    }
    if (options.seeds && out.seeds_run >= *options.seeds) break;
    if (options.budget_ms && wall.NowMs() - start >= *options.budget_ms) break;
    DrawnConfig config;
    const Schedule schedule = DrawSchedule(seed, options.draw, &config);
    LAB_ASSIGN_OR_RETURN(SimResult r, Simulate(schedule, options.sim));
    ++out.seeds_run;
    out.events += r.events;
    out.storage += r.storage;
    if (progress) progress(out.seeds_run, out.events);
    if (!r.violations.empty()) {
      out.failure = std::move(r);
      out.failure_config = config;
      break;
    }
  }
  out.elapsed_ms = wall.NowMs() - start;
  return out;
}

namespace {

// Tries schedules without one element of a list at a time, keeping each
// removal that still fails. Chunks first (halves, quarters, ...), then
// single elements, as delta debugging does.
template <typename T>
Result<bool> ShrinkList(Schedule& best, std::vector<T> Schedule::*list,
                        const std::function<Result<bool>(Schedule&)>& still_fails) {
  bool progress = false;
  for (size_t chunk = std::max<size_t>(1, (best.*list).size() / 2); chunk >= 1; chunk /= 2) {
    for (size_t i = 0; i < (best.*list).size();) {
      Schedule candidate = best;
      auto& items = candidate.*list;
      const size_t end = std::min(items.size(), i + chunk);
      items.erase(items.begin() + static_cast<long>(i), items.begin() + static_cast<long>(end));
      LAB_ASSIGN_OR_RETURN(bool fails, still_fails(candidate));
      if (fails) {
        best = std::move(candidate);
        progress = true;
      } else {
        i += chunk;
      }
    }
    if (chunk == 1) break;
  }
  return progress;
}

// Drops the highest-numbered worker and its faults.
Schedule WithoutLastWorker(const Schedule& s) {
  Schedule c = s;
  --c.workers;
  c.fused_workers = std::min(c.fused_workers, c.workers);
  std::erase_if(c.faults, [&](const ScheduledFault& f) { return f.worker >= c.workers; });
  std::erase_if(c.store_faults, [&](const ScheduledStoreFault& f) { return f.actor >= c.workers; });
  return c;
}

}  // namespace

Result<ShrinkResult> Shrink(const Schedule& failing, const SimOptions& options,
                            std::optional<Invariant> invariant) {
  SimOptions quiet = options;
  quiet.trace = nullptr;
  LAB_ASSIGN_OR_RETURN(SimResult first, Simulate(failing, quiet));
  if (first.violations.empty()) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("seed {} violates no invariant; nothing to shrink", failing.seed));
  }
  const Invariant target = invariant.value_or(first.violations.front().invariant);
  if (!first.Violated(target)) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("the schedule does not violate {}", ToString(target)));
  }
  int runs = 1;
  // A candidate first loses the handler outcomes of jobs it no longer has;
  // one that is not a valid schedule (no job left) is not a smaller failure.
  auto still_fails = [&](Schedule& s) -> Result<bool> {
    std::erase_if(s.handlers, [&](const ScheduledHandler& h) {
      return std::none_of(s.jobs.begin(), s.jobs.end(),
                          [&](const ScheduledJob& j) { return j.key == h.job_key; });
    });
    if (!ValidateSchedule(s)) return false;
    ++runs;
    LAB_ASSIGN_OR_RETURN(SimResult r, Simulate(s, quiet));
    return r.Violated(target);
  };
  Schedule best = failing;
  for (bool progress = true; progress;) {
    progress = false;
    while (best.workers > 1) {
      Schedule fewer = WithoutLastWorker(best);
      LAB_ASSIGN_OR_RETURN(bool fails, still_fails(fewer));
      if (!fails) break;
      best = std::move(fewer);
      progress = true;
    }
    LAB_ASSIGN_OR_RETURN(bool pj, ShrinkList(best, &Schedule::jobs, still_fails));
    LAB_ASSIGN_OR_RETURN(bool pf, ShrinkList(best, &Schedule::faults, still_fails));
    LAB_ASSIGN_OR_RETURN(bool ph, ShrinkList(best, &Schedule::handlers, still_fails));
    LAB_ASSIGN_OR_RETURN(bool ps, ShrinkList(best, &Schedule::store_faults, still_fails));
    LAB_ASSIGN_OR_RETURN(bool pd, ShrinkList(best, &Schedule::disk_faults, still_fails));
    progress = progress || pj || pf || ph || ps || pd;
  }
  LAB_ASSIGN_OR_RETURN(SimResult final_run, Simulate(best, quiet));
  return ShrinkResult{std::move(best), std::move(final_run), target, runs + 1};
}

std::string TraceEventToJson(const TraceEvent& e) {
  nlohmann::json j = {{"time_ms", e.time_ms}, {"actor", e.actor},         {"event", e.event},
                      {"job", e.job},         {"execution", e.execution}, {"token", e.token},
                      {"result", e.result}};
  return j.dump();
}

}  // namespace lab
