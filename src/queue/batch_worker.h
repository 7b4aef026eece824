// BatchWorker: up to `batch` jobs at a time, in three steps and two durable
// transactions for the whole batch.
//
// Claim leases up to `batch` ready jobs and begins them in one call (each
// transition audited, as on the one-job path); Run calls each job's handler
// in turn (a long one extends its own lease through keep_alive); Complete
// records every outcome (commit+finish, or fail with the retry policy's
// decision) in one Store::Complete call. Each job keeps its own lease,
// token and fencing: a job whose lease was taken over is refused alone, and
// the others go on. The guards act as in Worker (the shared helpers in
// worker.h): without the commit boundary the effect goes to the sink as the
// handler returns; without stable_key the handler gets a key per execution.
// Thread-safety: one thread at a time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "queue/worker.h"

namespace lab {

// What one BatchWorker step did, job by job.
struct BatchStep {
  StepKind kind = StepKind::kNoJob;  // kNoJob, kClaimed, kRan or kFinished (completed).
  int claimed = 0;
  int redelivered = 0;  // Claimed jobs that had been delivered before.
  int finished = 0;
  int failed = 0;         // Retry scheduled or dead-lettered.
  int dead_lettered = 0;  // Of those, dead-lettered.
  int duplicates = 0;
  int fenced = 0;    // Lease taken over; the job was dropped.
  int deferred = 0;  // Retries the retry budget held back: put back unrun.
};

class BatchWorker {
 public:
  BatchWorker(Queue& queue, Handler handler, WorkerOptions options, int batch,
              EffectSink* sink = nullptr);

  Result<BatchStep> Step();
  // kIdle (nothing held), kInProgress (claimed, handlers next) or kRan
  // (outcomes held until the store has them).
  WorkerPhase phase() const { return phase_; }
  // The earliest expiry among the leases held; 0 when idle.
  TimeMs lease_expires_at_ms() const;
  // Releases every held job that has not been recorded yet (re-queued at
  // once, `why` in its audit trail), then forgets them all. The first
  // release error is returned; a job whose release failed waits out its lease.
  Result<void> GiveUp(std::string_view why);
  void Crash();
  // Extends every held lease that is still its own; a lease found taken
  // over is dropped (its job is not reported). The first error other than
  // fenced is returned; no-op when idle.
  Result<void> Heartbeat();
  // "N jobs (ids a..b)" or "no job", for logs.
  std::string Describe() const;
  const std::string& name() const { return options_.name; }
  // The leases held and still its own, in claim order.
  std::vector<const Lease*> held() const;
  // Every execution whose call the store refused as fenced, in order (as
  // Worker::fenced_executions).
  const std::vector<ExecutionId>& fenced_executions() const { return fenced_; }

 private:
  struct Held {
    Lease lease;
    std::optional<Completion> outcome;  // Set once the handler has run.
    bool dropped = false;               // Fenced while running: not reported.
  };
  Result<BatchStep> Claim();
  BatchStep Run();
  Result<BatchStep> Complete();
  Result<void> Extend(Held& held);
  // Lets go of every held job (the process lives on).
  void Forget();

  Queue& queue_;
  Handler handler_;
  WorkerOptions options_;
  int batch_;
  EffectSink* sink_;
  Rng rng_;
  CallGates gates_;
  WorkerPhase phase_ = WorkerPhase::kIdle;
  std::vector<Held> held_;
  std::vector<ExecutionId> fenced_;
};

}  // namespace lab
