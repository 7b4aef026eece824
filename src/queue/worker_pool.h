// WorkerPool: N threads, each with its own Queue handle and Worker, running
// jobs until told to stop or, with drain, until the queue has no job left.
//
// Each thread opens its own store handle (a Store is one thread's), claims
// one job at a time and runs it through the Worker's steps. The cadences
// come from the lease (CadenceFor, step_policy.h, which the simulator runs
// too): an idle thread waits a poll before claiming again. With the
// control_plane guard (on by default) one more thread, with its own store
// handle, is the pool's control plane (control_plane.h): every job thread
// publishes the leases it holds, and the control plane extends them every
// heartbeat and runs the reaper, the reconciler and the retention policy
// every sweep, however busy the job threads are, so a handler that
// computes without calling keep_alive keeps its lease and a job whose
// worker process was killed is taken over once its lease expires. Guard
// off: heartbeats are the handler's own (keep_alive), and whichever idle
// job thread finds the sweep due runs it (FM_013 shows both starving).
// After a failed step the pool does what DecideAfterStepError says
// (step_policy.h): a transient error is retried with backoff while the lease
// lasts (and for one lease at most, however long the control plane's
// heartbeats keep it), and only a lease that cannot be kept makes the thread give the job
// up (released in the store, so its audit trail says why); an unknown outcome
// or a fail-stopped handle reopens the thread's queue, which is how a worker
// survives a restarted PostgreSQL server; an error that waiting cannot heal
// (no permission, corrupt data) stops the whole pool with that error.
// Stopping: once the waiter is stopped (a signal, or drain finding nothing
// left), no thread claims again; each finishes the job it is running, then
// Run() returns. Every give-up and every error is logged with its job.
// Thread-safety: Run() once, from one thread; the handler and the log are
// called from every pool thread at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/waiter.h"
#include "queue/batch_worker.h"
#include "queue/control_plane.h"
#include "queue/queue.h"
#include "queue/relay.h"
#include "queue/step_policy.h"
#include "queue/worker.h"

namespace lab {

struct PoolOptions {
  int concurrency = 1;
  WorkerOptions worker;  // Thread i is "<name>/<i>" with seed + i.
  // The cadences are CadenceFor(worker.lease_ms) (step_policy.h); these
  // override the idle poll and the sweep.
  std::optional<DurationMs> poll_ms;
  std::optional<DurationMs> sweep_ms;
  bool drain = false;
  // Jobs a thread claims, runs and records at a time: above 1, each thread
  // is a BatchWorker (two durable transactions a batch); 1, a Worker.
  int claim_batch = 1;
  // The retention policy, run with the sweeps (Queue::Prune): jobs finished
  // this long ago are deleted. None: every job is kept.
  std::optional<DurationMs> retain;
  // The outbox's relay (queue/relay.h), on a thread and a handle of its
  // own: a pass every poll while the job threads run (sooner while a pass
  // finds a full batch), then passes until one delivers nothing. Empty: no
  // relay.
  Deliver relay;
};

struct PoolStats {
  int64_t claimed = 0;         // Leases taken (a job's attempt each).
  int64_t finished = 0;        // Jobs this pool ran to DONE.
  int64_t failed = 0;          // Attempts that failed (retried or dead-lettered).
  int64_t dead_lettered = 0;   // Of those, the jobs' last: dead-lettered.
  int64_t redelivered = 0;     // Jobs claimed that had been delivered before (attempt > 1).
  int64_t duplicates = 0;      // Executions that found the job already committed.
  int64_t fenced = 0;          // Jobs dropped because another worker took them over.
  int64_t retried = 0;         // Failed store calls retried within a valid lease.
  int64_t released = 0;        // Jobs given up and released (re-queued at once).
  int64_t abandoned = 0;       // Jobs given up whose release failed too (their lease expires).
  int64_t errors = 0;          // Store errors seen (each logged).
  int64_t reconnects = 0;      // Handles reopened plus connections re-made.
  int64_t pruned = 0;          // Finished jobs the retention policy deleted.
  int64_t heartbeats = 0;      // Leases the control plane extended.
  int64_t reaped = 0;          // Expired leases the sweeps aborted.
  int64_t reconciled = 0;      // Committed executions the sweeps finalized.
  int64_t deferred = 0;        // Jobs a guard put back unrun (the two below).
  int64_t retries_held = 0;    // Retries the retry budget held back.
  int64_t breaker_held = 0;    // Calls the circuit breaker held back while open.
  int64_t breaker_opened = 0;  // Times the circuit breaker opened.
  int64_t delivered = 0;       // Outbox intents the relay delivered.
  int64_t undelivered = 0;     // Sends the receiver did not acknowledge (sent again later).
  int64_t outbox_left = 0;     // Intents still pending when the relay stopped.
  bool drained = false;        // Stopped because drain found no job left.
  std::optional<Error> fatal;  // Stopped because of an error waiting cannot heal.
};
using QueueOpener = std::function<Result<std::unique_ptr<Queue>>()>;
using PoolLog = std::function<void(const std::string&)>;

class WorkerPool {
 public:
  WorkerPool(QueueOpener open, Handler handler, PoolOptions options, Waiter& waiter,
             PoolLog log = {});

  PoolStats Run();
  // Jobs finished so far (any thread may ask while Run runs).
  int64_t finished() const { return counters_.finished.load(); }
  // What the pool has done so far (any thread may ask while Run runs; the
  // control plane's counts are added after each of its ticks).
  PoolStats Stats();
  // Leases the job threads hold now.
  int64_t LeasesHeld() const { return static_cast<int64_t>(book_.All().size()); }

 private:
  struct Counters {
    std::atomic<int64_t> claimed{0}, finished{0}, failed{0}, dead_lettered{0}, redelivered{0},
        duplicates{0}, fenced{0}, retried{0}, released{0}, abandoned{0}, errors{0}, reconnects{0},
        pruned{0}, heartbeats{0}, reaped{0}, reconciled{0}, deferred{0}, delivered{0},
        undelivered{0}, outbox_left{0};
    std::atomic<bool> drained{false};
  };

  void RunThread(int index);
  // The control plane's thread: its own handle, until every job thread has
  // returned (control_plane guard on; off, it returns at once).
  void RunControlPlane();
  // Opens the `who` thread's own queue (the control plane's, the relay's).
  // On an error it counts and logs it, then stops the pool (an error
  // waiting cannot heal: give_up) or, unless `last` (give_up too), waits a
  // backoff: null either way.
  std::unique_ptr<Queue> OpenOwn(std::string_view who, Backoff& backoff, bool last, bool& give_up);
  // The relay's thread (PoolOptions::relay), until every job thread has
  // returned and a pass delivers nothing more.
  void RunRelay();
  // Tells the control plane what job thread `index` holds now.
  template <typename W>
  void Publish(int index, const W& worker);
  template <typename W>
  void RunThreadWith(int index);
  // Without a control plane: runs the sweeps if this thread is the one to
  // find them due.
  void MaybeSweep(Queue& queue);
  // True when the pool's queue has no PENDING or RUNNING job.
  bool Drained(Queue& queue);
  void Count(const BatchStep& tally);
  void Count(const SweepTally& swept);
  // Gives the worker's job (or batch) up after `error`, counting and logging it.
  template <typename W>
  void GiveUp(W& worker, const Error& error);
  // Stops the pool for good with `error` (the first one wins).
  void StopFatally(const Error& error, std::string_view what);
  void Log(const std::string& line);

  QueueOpener open_;
  Handler handler_;
  PoolOptions options_;
  Cadence cadence_;
  Waiter& waiter_;
  PoolLog log_;
  std::atomic<TimeMs> next_sweep_ms_{0};
  LeaseBook book_;
  std::atomic<bool> job_threads_done_{false};
  Counters counters_;
  std::mutex fatal_mu_;
  std::optional<Error> fatal_;  // Guarded by fatal_mu_.
};

}  // namespace lab
