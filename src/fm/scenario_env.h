// ScenarioEnv: the world a failure-mode scenario runs in.
//
// It owns a manual clock, the queue (opened on the run's store URL with the
// run's guards), the external effect log, the trace, the list of
// acknowledged enqueues, and the workers. A scenario is a plain function
// that drives these step by step; the runner then checks every invariant.
// Restart() models a process restart: every worker dies, and a file-backed
// store is closed and reopened from disk (a memory store, having no disk,
// is kept as it is). Thread-safety: single-threaded, deterministic.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "check/invariants.h"
#include "core/clock.h"
#include "core/trace.h"
#include "queue/worker.h"

namespace lab {

class ScenarioEnv {
 public:
  // Scenarios start at simulated time 0, so every time reads as an offset.
  static constexpr TimeMs kStartMs = 0;

  static Result<std::unique_ptr<ScenarioEnv>> Create(const std::string& store_url, Guards guards);

  ManualClock& clock() { return clock_; }
  Queue& queue() { return *queue_; }
  const Guards& guards() const { return guards_; }
  EffectLog& effects() { return effects_; }
  const std::vector<TraceEvent>& trace() const { return trace_.events(); }

  // Enqueues and records the job as acknowledged when the call succeeds.
  Result<JobId> Enqueue(const NewJob& job);
  // A worker owned by the environment; valid until Restart().
  Worker& AddWorker(const std::string& name, Handler handler, DurationMs lease_ms);
  // Advances time and writes a note on the timeline.
  void Advance(DurationMs ms, const std::string& why);
  void Note(const std::string& text);
  // Kills every worker and reopens the store from its file.
  Result<void> Restart();
  // Marks that the scenario ended with a recovery pass at the current time.
  void MarkRecovered() { recovered_at_ms_ = clock_.NowMs(); }

  // Runs every checker over the store's current state.
  Result<std::vector<Violation>> Check();

 private:
  ScenarioEnv(std::string url, Guards guards) : url_(std::move(url)), guards_(guards) {}
  Result<void> OpenQueue();

  std::string url_;
  Guards guards_;
  ManualClock clock_{kStartMs};
  VectorTraceSink trace_;
  EffectLog effects_;
  std::unique_ptr<Queue> queue_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<JobId> acknowledged_;
  std::optional<TimeMs> recovered_at_ms_;
};

}  // namespace lab
