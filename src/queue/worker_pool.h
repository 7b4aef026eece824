// WorkerPool: N threads, each with its own Queue handle and Worker, running
// jobs until told to stop or, with drain, until the queue has no job left.
//
// Each thread opens its own store handle (a Store is one thread's), claims
// one job at a time and runs it through the Worker's steps. An idle thread
// waits `idle_wait_ms` before claiming again; whichever idle thread finds the
// sweep due runs the reaper and the reconciler (every `sweep_every_ms`), so a
// job whose worker process was killed is taken over once its lease expires.
// A store error in the middle of a job lets the job go (Worker::Abandon: the
// lease expires and the sweeps recover it) and backs off; an unknown outcome
// or a fail-stopped handle also reopens the thread's queue, which is how a
// worker survives a restarted PostgreSQL server. Stopping: once the waiter is
// stopped (a signal, or drain finding nothing left), no thread claims again;
// each finishes the job it is running, then Run() returns.
// Thread-safety: Run() once, from one thread; the handler and the log are
// called from every pool thread at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/waiter.h"
#include "queue/queue.h"
#include "queue/worker.h"

namespace lab {

struct PoolOptions {
  int concurrency = 1;
  WorkerOptions worker;  // Thread i is "<name>/<i>" with seed + i.
  DurationMs idle_wait_ms = 250;
  DurationMs sweep_every_ms = 1'000;
  DurationMs max_backoff_ms = 2'000;
  bool drain = false;
};

struct PoolStats {
  int64_t finished = 0;    // Jobs this pool ran to DONE.
  int64_t failed = 0;      // Attempts that failed (retried or dead-lettered).
  int64_t duplicates = 0;  // Executions that found the job already committed.
  int64_t fenced = 0;      // Jobs dropped because another worker took them over.
  int64_t abandoned = 0;   // Jobs let go after a store error.
  int64_t errors = 0;      // Store errors seen (each logged).
  int64_t reopened = 0;    // Queue handles reopened after a fail-stop.
  bool drained = false;    // Stopped because drain found no job left.
};

using QueueOpener = std::function<Result<std::unique_ptr<Queue>>()>;
using PoolLog = std::function<void(const std::string&)>;

class WorkerPool {
 public:
  WorkerPool(QueueOpener open, Handler handler, PoolOptions options, Waiter& waiter,
             PoolLog log = {});

  PoolStats Run();

 private:
  struct Counters {
    std::atomic<int64_t> finished{0}, failed{0}, duplicates{0}, fenced{0}, abandoned{0}, errors{0},
        reopened{0};
    std::atomic<bool> drained{false};
  };

  void RunThread(int index);
  // Runs the reaper and reconciler if this thread is the one to find them due.
  void MaybeSweep(Queue& queue);
  // True when the pool's queue has no PENDING or RUNNING job.
  bool Drained(Queue& queue);
  void Count(StepKind kind);
  void Log(const std::string& line);

  QueueOpener open_;
  Handler handler_;
  PoolOptions options_;
  Waiter& waiter_;
  PoolLog log_;
  std::atomic<TimeMs> next_sweep_ms_{0};
  Counters counters_;
};

}  // namespace lab
