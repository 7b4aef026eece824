// ScenarioEnv: the world a failure-mode scenario runs in.
//
// It owns a manual clock, the queue (opened on the run's store URL with the
// run's guards, behind a FaultStore so a scenario can lose a reply), the
// effects applied outside the store, a downstream API that honours
// idempotency keys, the trace, what producers asked for and were told, and
// the workers. A scenario is a plain function that drives these step by
// step; the runner then checks every invariant. Restart() models a process
// restart: every worker dies, and a file-backed store is closed and
// reopened from disk (a memory store, having no disk, is kept as it is).
// On the simulated disk (a failure mode about the disk itself, run on
// sqlite:), SQLite runs on a SimDisk: a sync can be made to fail and the
// power can be cut, so what was acknowledged but never made durable is lost
// as it would be on a real machine.
// Thread-safety: single-threaded, deterministic.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "check/amplification.h"
#include "check/invariants.h"
#include "check/latency.h"
#include "core/clock.h"
#include "core/trace.h"
#include "fm/failure_mode.h"
#include "queue/worker.h"
#include "store/fault_store.h"
#include "store/record_store.h"
#include "store/sim_disk.h"

namespace lab {

// A job thread of a worker process in a scenario: its worker, and until
// when it is busy with the job it took (waiting for an answer, computing).
struct JobThread {
  Worker* worker = nullptr;
  TimeMs busy_until = 0;

  // The worker's remaining steps for the job it holds (record the outcome:
  // commit and finish, or fail), until it is idle.
  Result<void> Finish();
  // Finish, then claim the next job and take the step after the claim (the
  // handler's, for a fused worker): whether there was a job.
  Result<bool> TakeNext();
};

class ScenarioEnv {
 public:
  // Scenarios start at simulated time 0, so every time reads as an offset.
  static constexpr TimeMs kStartMs = 0;

  // `sim_disk`: run on the simulated disk (store_url must be a sqlite: file,
  // whose name the simulated disk uses; nothing is written to the real one).
  static Result<std::unique_ptr<ScenarioEnv>> Create(const std::string& store_url, Guards guards,
                                                     bool sim_disk = false);

  ManualClock& clock() { return clock_; }
  Queue& queue() { return *queue_; }
  const Guards& guards() const { return guards_; }
  // Where workers apply effects when the commit boundary is off.
  EffectLog& effects() { return effects_; }
  // A downstream API (a payment provider) that honours idempotency keys:
  // handlers call it themselves, under JobContext::key.
  ExternalSystem& api() { return api_; }
  const std::vector<TraceEvent>& trace() const { return trace_.events(); }
  // A handler that makes its effect itself, as a call to api() under the
  // job's key (JobContext::key): "`verb` PAYLOAD", e.g. a card charged.
  Handler CallsApi(std::string verb);

  // Enqueues on behalf of producer request `request` (default: the job's
  // key). A success is recorded as acknowledged; a lost reply still
  // records the job the request created, which the producer never learnt.
  Result<JobId> Enqueue(const NewJob& job, std::string request = "");
  // The next store call of kind `op` takes effect, and its reply is lost:
  // the caller sees kUnknownOutcome.
  void LoseNextReply(StoreOp op) { lose_reply_ = op; }
  // A worker owned by the environment; valid until Restart(). `own_clock`:
  // the worker's machine clock, if it is not the store's.
  Worker& AddWorker(const std::string& name, Handler handler, DurationMs lease_ms,
                    Clock* own_clock = nullptr);
  // The same, with every option the scenario sets (the seed is the
  // environment's, from the worker's position).
  Worker& AddWorker(Handler handler, WorkerOptions options);
  // A machine clock that reads `offset_ms` off the store's, for a worker
  // on a machine whose clock is wrong. Lives as long as the environment.
  Clock& MachineClock(DurationMs offset_ms) {
    machine_clocks_.push_back(std::make_unique<OffsetClock>(clock_, offset_ms));
    return *machine_clocks_.back();
  }
  // Runs the worker's next `n` steps; an unexpected error ends the scenario.
  Result<void> Steps(Worker& worker, int n);
  // Writes "job N is STATE" on the timeline.
  Result<void> NoteJob(JobId job);
  // The fault-free phase: `polls` times, `every` passes, the sweeps run
  // (each a no-op with its guard off) and `worker` looks for work; then the
  // run is marked settled (MarkSettled).
  Result<void> Settle(Worker& worker, int polls, DurationMs every);
  // Advances time and writes a note on the timeline.
  void Advance(DurationMs ms, const std::string& why);
  void Note(const std::string& text);
  // A figure the scenario measured (also noted on the timeline); `lab run`
  // sets each mode's figures side by side.
  void AddFigure(std::string name, std::string value);
  const std::vector<Figure>& figures() const { return figures_; }
  // Kills every worker and reopens the store from its file.
  Result<void> Restart();
  // What a worker pool does after its handle fail-stopped (an unknown
  // commit, a failed sync): reopens the handle in the same process.
  Result<void> ReopenStore();
  // The process dies just after its next transaction commits (between two
  // transactions of one call): every later store call of the process fails
  // as a dead connection's would, until Restart().
  void DieAfterNextCommit() { die_after_commit_ = true; }
  // Simulated disk only: the next sync fails with EIO, and the kernel
  // forgets the dirty pages it could not write (fsyncgate).
  void FailNextSync() { fail_next_sync_ = true; }
  // Simulated disk only: the machine loses power (unsynced writes are kept,
  // dropped or torn, by the disk's seeded choice), then restarts: every
  // worker is gone, the store is reopened and recovers from its log, and
  // must pass SQLite's integrity check.
  Result<void> PowerLoss();
  const DiskStats* disk_stats() const { return disk_ ? &disk_->stats() : nullptr; }
  // The scenario ended with a recovery pass (reap + reconcile) now: nothing
  // expired may still be held (INV_004).
  void MarkRecovered() { recovered_at_ms_ = clock_.NowMs(); }
  // Faults stopped long enough ago that every job must be terminal now
  // (INV_006).
  void MarkSettled() { settled_at_ms_ = clock_.NowMs(); }
  // The scenario's downstream system received these calls, from callers
  // each under `budget` and, if given, `breaker`'s rule (INV_007, judged
  // from then on).
  void JudgeAmplification(std::vector<DownstreamCall> calls, RetryBudgetOptions budget,
                          std::optional<BreakerOptions> breaker = std::nullopt) {
    amplification_ = {std::move(calls), budget, breaker};
  }
  // The scenario overloads its queue: INV_008 is judged against the depth
  // limits the store holds when Check() runs.
  void JudgeLatency() { judge_latency_ = true; }
  // The invariants Check() judges: INV_001..INV_005, INV_006 once
  // settled, INV_007 once given a downstream system's calls, INV_008 once
  // asked.
  std::vector<Invariant> Judged() const;

  // Runs every checker over the store's current state.
  Result<std::vector<Violation>> Check();

 private:
  ScenarioEnv(std::string url, Guards guards) : url_(std::move(url)), guards_(guards) {}
  std::optional<DiskFault> DiskFaultAt(DiskOp op);
  Result<void> OpenQueue();
  // Every execution a worker saw fenced, the dead workers' included.
  std::vector<ExecutionId> Fenced() const;

  std::string url_;
  Guards guards_;
  ManualClock clock_{kStartMs};
  std::vector<std::unique_ptr<OffsetClock>> machine_clocks_;
  VectorTraceSink trace_;
  EffectLog effects_{&trace_};
  ExternalSystem api_{/*honours_keys=*/true, &trace_};
  std::unique_ptr<SimDisk> disk_;  // Outlives every connection on it.
  bool fail_next_sync_ = false;
  bool die_after_commit_ = false;
  bool dead_ = false;
  std::unique_ptr<Queue> queue_;
  FaultStore* faults_ = nullptr;   // Owned by queue_.
  RecordStore* record_ = nullptr;  // Owned by faults_.
  std::optional<StoreOp> lose_reply_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<JobId> acknowledged_;
  std::vector<ProducerRequest> requests_;
  std::vector<ExecutionId> fenced_;  // Of workers gone in a restart.
  std::optional<TimeMs> recovered_at_ms_;
  std::optional<TimeMs> settled_at_ms_;
  std::vector<Figure> figures_;
  struct Amplification {
    std::vector<DownstreamCall> calls;
    RetryBudgetOptions budget;
    std::optional<BreakerOptions> breaker;  // The callers' breaker rule, if they had one.
  };
  std::optional<Amplification> amplification_;
  bool judge_latency_ = false;
};

}  // namespace lab
