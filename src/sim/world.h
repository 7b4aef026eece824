// The simulated world: the production engine under a seeded, single-threaded
// discrete-event schedule.
//
// Simulate() opens a real store (memory, or SQLite on a fresh simulated
// disk that can fail and lose power: store/sim_disk.h) on a simulated
// clock, gives every worker and the control plane its own handle on it,
// each behind a FaultBackend that injects the schedule's storage faults,
// and runs the Schedule: jobs arrive
// (an enqueue whose reply is lost is sent again, as a producer would),
// simulated workers run the production Worker steps one event at a time,
// heartbeat while they hold a lease (unless paused or dead), crash, pause,
// restart and have their machine clocks set ahead as the schedule says; a
// poison job kills every worker that runs its handler; a long job's handler
// computes for its run_ms on every attempt; the reaper and reconciler run
// periodically on their own handle. With the control_plane guard off, a
// worker's heartbeat waits while its handler runs and a sweep waits for an
// idle worker, as WorkerPool's threads do without a control plane. A failed store call is
// handled as the worker pool handles it (step_policy.h: retry after a
// backoff, give the job up, reopen a fail-stopped handle), never by
// stopping the run. Effects without the commit boundary go to a
// simulated external system; with `external_honours_keys` the handler
// itself calls that system, under the key the engine gives it, and the
// system deduplicates by key; with `outbox` a relay delivers the committed
// intents to it instead. Cheap checks run after every event, the
// whole-state consistency check every `deep_check_every`; at the end every
// invariant is checked, after a fault-free liveness phase with a bound
// computed from the cadences and retry settings (INV_006). A power loss
// kills every process; the store is reopened (SQLite recovers from its
// log) and must pass its integrity check, or the run is an error. Same
// schedule and options, same run, bit for bit. Thread-safety: one run per
// thread; a sqlite: run seeds SQLite's process-wide generator, so those
// run one at a time in a process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "check/invariants.h"
#include "core/trace.h"
#include "queue/guards.h"
#include "sim/schedule.h"

namespace lab {

#ifdef NDEBUG
inline constexpr uint64_t kDefaultDeepCheckEvery = 0;
#else
inline constexpr uint64_t kDefaultDeepCheckEvery = 512;
#endif

struct SimOptions {
  Guards guards;
  // "memory:", or "sqlite:": the real SQLite code on a fresh simulated disk
  // (store/sim_disk.h), which can lose power (Schedule::disk_faults).
  std::string store = "memory:";
  bool external_honours_keys = false;
  // The outbox (DESIGN's third effect shape): a handler computes its
  // effect and commits it as an intent, without calling anything; the
  // control plane's relay delivers each intent to the external system
  // (which deduplicates by key) over its own downstream link, at least
  // once, every sweep. Every SUCCEEDED job's effect must arrive, once.
  bool outbox = false;
  TraceSink* trace = nullptr;  // Every event, when set (replay --trace).
  uint64_t max_events = 10'000'000;
  // Every this many events, the whole-state consistency check
  // (check/consistency.h) runs and a finding stops the process: an
  // assertion, not a verdict. 0: never. Debug builds check by default.
  uint64_t deep_check_every = kDefaultDeepCheckEvery;
  // Judge liveness (INV_006) against this moment instead of the bound the
  // world derives (LivenessBound): for tests of the verdict's edge.
  std::optional<TimeMs> liveness_deadline_ms;
};

// What storage faults did in a run (or, summed, in many).
struct StorageTally {
  int64_t store_faults_fired = 0;  // Storage faults injected (Schedule::store_faults).
  int64_t store_errors = 0;        // Failed store calls the workers and the sweeper handled.
  int64_t reopens = 0;             // Store handles reopened after a fail-stop.
  int64_t disk_faults_fired = 0;   // Disk faults injected (Schedule::disk_faults).
  int64_t power_losses = 0;        // Of those, the machine losing power.

  StorageTally& operator+=(const StorageTally& o);
  // One line: what was injected and what the engine did about it.
  std::string ToString() const;
};

struct SimResult {
  uint64_t seed = 0;
  uint64_t events = 0;
  uint64_t trace_hash = 0;  // FNV-1a over every event; equal runs, equal hashes.
  TimeMs end_ms = 0;
  TimeMs liveness_deadline_ms = 0;
  int jobs = 0;
  int faults_fired = 0;          // Worker faults (crash, pause, slow call, skew) that fired.
  int handler_faults_fired = 0;  // Handler outcomes (transient, permanent, slow) that fired.
  // Calls (to the store or downstream) a link fault met (Schedule::links).
  int link_faults_fired = 0;
  // The downstream system's side: every handler run is a call.
  int64_t downstream_calls = 0;
  int64_t downstream_retries = 0;  // Calls by a job's later executions (INV_007 counts them).
  int64_t downstream_peak = 0;     // The most calls in one second.
  // Calls whose caller gave up (Schedule::downstream's timeout) and which
  // the system served all the same, for nobody.
  int64_t downstream_wasted = 0;
  // Admission control's side: arrivals refused (the queue at its depth
  // limit) and jobs expired unrun (their deadline passed first).
  int64_t refused = 0;
  int64_t expired = 0;
  // The reconciliation drill's side, once every job ended: divergences it
  // found between the queue and the downstream system, and those it
  // repaired (a dead letter redriven, a lost outbox effect delivered again).
  int64_t drill_findings = 0;
  int64_t drill_repaired = 0;
  // The load's side, from the store at the end: executions a job (its
  // attempts, deferrals aside), jobs with a deadline and those done by it
  // (goodput), and when the last job ended, if every job did (recovered).
  int64_t executions = 0;
  int max_executions = 0;  // The most any one job took.
  int64_t with_deadline = 0;
  int64_t done_in_time = 0;
  double goodput_per_s = 0;  // Those, a second from the start to the last job's end.
  std::optional<TimeMs> drained_at_ms;
  TimeMs fault_window_ms = 0;
  StorageTally storage;
  // When the per-event check first saw a second effect for a job, if ever.
  std::optional<TimeMs> first_detected_ms;
  std::vector<Violation> violations;

  bool Violated(Invariant invariant) const;
  // "57 calls for 20 jobs (2.9 a job, 37 retries), at most 9 in a second,
  // 6 timed out (served all the same, for nobody)".
  std::string DownstreamSummary() const;
  // "1.4 executions a job accepted (at most 5); 12 of 15 jobs with a
  // deadline done in time (0.80/s); drained 3.2s after the fault window:
  // recovered".
  std::string LoadSummary() const;
  // Sorted, distinct invariant ids, e.g. "INV_001,INV_004".
  std::string ViolatedList() const;
};

Result<SimResult> Simulate(const Schedule& schedule, const SimOptions& options);

}  // namespace lab
