// Exploring seeds, shrinking a failing schedule, and writing traces.
//
// Explore runs seed after seed (each drawing its own schedule) until a run
// violates an invariant, the seed count is reached, or the wall-clock
// budget is spent. Shrink takes a failing schedule and deletes faults,
// handler outcomes, storage faults, jobs and workers one piece at a time, keeping each
// deletion only if the same invariant still fails, until nothing more can
// go. Thread-safety: single-threaded; the wall clock is only a budget and
// never an input to a run.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "core/clock.h"
#include "sim/schedule.h"
#include "sim/world.h"

namespace lab {

struct ExploreOptions {
  uint64_t seed_start = 0;
  std::optional<uint64_t> seeds;        // Stop after this many seeds.
  std::optional<DurationMs> budget_ms;  // Or after this much wall time.
  DrawOptions draw;
  SimOptions sim;
  // Checked before each seed: once true, Explore returns what it has (a
  // signal handler sets it; it never changes a run, only whether to start one).
  const std::atomic<bool>* stop = nullptr;
};

struct ExploreResult {
  uint64_t seeds_run = 0;
  uint64_t next_seed = 0;  // The first seed not run: where to resume.
  bool interrupted = false;
  uint64_t events = 0;
  StorageTally storage;  // Summed over the seeds run.
  DurationMs elapsed_ms = 0;
  std::optional<SimResult> failure;  // The first violating run, if any.
  DrawnConfig failure_config;
};

// `progress` is called after every seed with (seeds run, events so far).
Result<ExploreResult> Explore(const ExploreOptions& options, Clock& wall,
                              const std::function<void(uint64_t, uint64_t)>& progress);

struct ShrinkResult {
  Schedule schedule;
  SimResult result;
  Invariant invariant = Invariant::kOneEffect;  // The invariant that kept failing.
  int runs = 0;                                 // Simulations tried.
};

// Shrinks `failing` while `invariant` (default: the first one it violates)
// still fails. kFailedPrecondition when the schedule does not fail at all.
Result<ShrinkResult> Shrink(const Schedule& failing, const SimOptions& options,
                            std::optional<Invariant> invariant = std::nullopt);

// One trace event as one JSON object (a line of a .jsonl trace).
std::string TraceEventToJson(const TraceEvent& event);

}  // namespace lab
