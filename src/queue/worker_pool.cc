#include "queue/worker_pool.h"

#include <fmt/core.h>

#include <algorithm>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/assert.h"
#include "queue/batch_worker.h"
#include "queue/step_policy.h"
#include "store/rules.h"

namespace lab {

namespace {

// What the pool's loop asks of the worker it drives, one job at a time
// (Worker) or a batch (BatchWorker).
std::string Describe(const Worker& worker) {
  if (!worker.lease()) return "no job";
  return fmt::format("job {} (execution {}, token {})", worker.lease()->job.id,
                     worker.lease()->execution_id, worker.lease()->token);
}
std::string Describe(const BatchWorker& worker) { return worker.Describe(); }

BatchStep Tally(const StepResult& step, const Worker& worker) {
  BatchStep t{.kind = step.kind};
  switch (step.kind) {
    case StepKind::kClaimed:
      t.claimed = 1;
      if (worker.lease() && worker.lease()->token > 1) t.redelivered = 1;
      break;
    case StepKind::kFinished:
      t.finished = 1;
      break;
    case StepKind::kFailed:
      t.failed = 1;
      t.dead_lettered = step.dead_lettered ? 1 : 0;
      break;
    case StepKind::kDuplicate:
      t.duplicates = 1;
      break;
    case StepKind::kFenced:
      t.fenced = 1;
      break;
    case StepKind::kDeferred:
      t.deferred = 1;
      break;
    default:
      break;
  }
  return t;
}
BatchStep Tally(const BatchStep& step, const BatchWorker&) { return step; }

}  // namespace

WorkerPool::WorkerPool(QueueOpener open, Handler handler, PoolOptions options, Waiter& waiter,
                       PoolLog log)
    : open_(std::move(open)),
      handler_(std::move(handler)),
      options_(std::move(options)),
      cadence_(CadenceFor(options_.worker.lease_ms)),
      waiter_(waiter),
      log_(std::move(log)) {
  LAB_ASSERT(open_ != nullptr && handler_ != nullptr);
  LAB_ASSERT(options_.concurrency >= 1);
  if (options_.poll_ms) cadence_.poll_ms = *options_.poll_ms;
  if (options_.sweep_ms) cadence_.sweep_ms = *options_.sweep_ms;
  // One retry budget and one circuit breaker for the process's job
  // threads: the queue's (the breaker's options default).
  if (!options_.worker.retry_gate) {
    options_.worker.retry_gate = std::make_shared<RetryGate>(options_.worker.retry_budget);
  }
  if (!options_.worker.breaker) {
    options_.worker.breaker =
        std::make_shared<BreakerGate>(options_.worker.breaker_options.value_or(BreakerOptions{}));
  }
  LAB_ASSERT(cadence_.poll_ms > 0 && cadence_.sweep_ms > 0);
}

PoolStats WorkerPool::Run() {
  std::thread control([this] { RunControlPlane(); });
  std::thread relay([this] { RunRelay(); });
  std::vector<std::thread> threads;
  for (int i = 0; i < options_.concurrency; ++i) threads.emplace_back([this, i] { RunThread(i); });
  for (auto& t : threads) t.join();
  job_threads_done_ = true;
  control.join();
  relay.join();
  return Stats();
}

PoolStats WorkerPool::Stats() {
  std::lock_guard lock(fatal_mu_);
  return {.claimed = counters_.claimed.load(),
          .finished = counters_.finished.load(),
          .failed = counters_.failed.load(),
          .dead_lettered = counters_.dead_lettered.load(),
          .redelivered = counters_.redelivered.load(),
          .duplicates = counters_.duplicates.load(),
          .fenced = counters_.fenced.load(),
          .retried = counters_.retried.load(),
          .released = counters_.released.load(),
          .abandoned = counters_.abandoned.load(),
          .errors = counters_.errors.load(),
          .reconnects = counters_.reconnects.load(),
          .pruned = counters_.pruned.load(),
          .heartbeats = counters_.heartbeats.load(),
          .reaped = counters_.reaped.load(),
          .reconciled = counters_.reconciled.load(),
          .deferred = counters_.deferred.load(),
          .retries_held = options_.worker.retry_gate->held(),
          .breaker_held = options_.worker.breaker->held(),
          .breaker_opened = options_.worker.breaker->opened(),
          .delivered = counters_.delivered.load(),
          .undelivered = counters_.undelivered.load(),
          .outbox_left = counters_.outbox_left.load(),
          .drained = counters_.drained.load(),
          .fatal = fatal_};
}

void WorkerPool::RunThread(int index) {
  if (options_.claim_batch > 1) return RunThreadWith<BatchWorker>(index);
  RunThreadWith<Worker>(index);
}

template <typename W>
void WorkerPool::RunThreadWith(int index) {
  WorkerOptions wo = options_.worker;
  wo.name = fmt::format("{}/{}", options_.worker.name, index);
  wo.seed += static_cast<uint64_t>(index);
  std::unique_ptr<Queue> queue;
  std::unique_ptr<W> worker;
  Backoff backoff(cadence_);
  // When the first error since the last step that succeeded came (-1: none).
  TimeMs failing_since = -1;
  auto close_queue = [&] {
    if (queue) counters_.reconnects += queue->store().reconnects();
    book_.Publish(index, {});
    worker.reset();
    queue.reset();
  };

  for (;;) {
    if (!queue) {
      if (waiter_.stopped()) return;
      auto opened = open_();
      if (!opened) {
        ++counters_.errors;
        Log(fmt::format("{}: opening the queue: {}", wo.name, opened.error().ToString()));
        if (DecideAfterOpenError(opened.error().code) == AfterError::kStop) {
          return StopFatally(opened.error(), "opening the queue");
        }
        waiter_.WaitMs(backoff.Next());
        continue;
      }
      queue = std::move(*opened);
      if constexpr (std::is_same_v<W, BatchWorker>) {
        worker = std::make_unique<W>(*queue, handler_, wo, options_.claim_batch);
      } else {
        worker = std::make_unique<W>(*queue, handler_, wo);
      }
    }
    if (worker->phase() == WorkerPhase::kIdle) {
      if (waiter_.stopped()) return close_queue();
      if (!queue->guards().control_plane) MaybeSweep(*queue);
    }
    const WorkerPhase phase = worker->phase();
    auto step = worker->Step();
    Publish(index, *worker);
    if (!step) {
      ++counters_.errors;
      const Error& error = step.error();
      const DurationMs wait = backoff.Next();
      // The lease lasts as long as the later of the worker's own reckoning
      // and the control plane's heartbeats; but a step that keeps failing
      // is retried for one lease at most, however long the heartbeats
      // would keep the job.
      const TimeMs now = queue->clock().NowMs();
      if (failing_since < 0) failing_since = now;
      const TimeMs kept_until =
          std::max(worker->lease_expires_at_ms(),
                   std::min(book_.ExpiresAt(index), failing_since + options_.worker.lease_ms));
      const AfterError action = DecideAfterStepError({.code = error.code,
                                                      .phase = worker->phase(),
                                                      .now_ms = now,
                                                      .lease_expires_at_ms = kept_until,
                                                      .wait_ms = wait});
      Log(fmt::format("{}: {} step failed for {}: {}; next: {}", wo.name, ToString(phase),
                      Describe(*worker), error.ToString(), ToString(action)));
      switch (action) {
        case AfterError::kRetry:
          if (worker->phase() == WorkerPhase::kIdle) {
            waiter_.WaitMs(wait);  // A stop signal ends this wait: nothing is in hand.
            continue;
          }
          ++counters_.retried;
          // Not cut short by a stop signal: the job in hand may still finish.
          waiter_.PauseMs(wait);
          continue;
        case AfterError::kGiveUpJob:
          GiveUp(*worker, error);
          Publish(index, *worker);
          waiter_.WaitMs(wait);
          continue;
        case AfterError::kReopen:
          GiveUp(*worker, error);
          ++counters_.reconnects;
          close_queue();
          waiter_.WaitMs(wait);
          continue;
        case AfterError::kStop:
          GiveUp(*worker, error);
          close_queue();
          return StopFatally(error, ToString(phase));
      }
      LAB_UNREACHABLE("unknown action");
    }
    backoff.Reset();
    failing_since = -1;
    Count(Tally(*step, *worker));
    if (step->kind != StepKind::kNoJob) continue;
    if (options_.drain && Drained(*queue)) {
      counters_.drained = true;
      waiter_.Stop();
      return close_queue();
    }
    waiter_.WaitMs(cadence_.poll_ms);
  }
}

template <typename W>
void WorkerPool::GiveUp(W& worker, const Error& error) {
  if (worker.phase() == WorkerPhase::kIdle) return;
  const std::string job = Describe(worker);
  auto released = worker.GiveUp(error.ToString());
  if (released) {
    ++counters_.released;
    Log(fmt::format("{}: gave up {} and released it (re-queued now): {}", worker.name(), job,
                    error.ToString()));
  } else {
    ++counters_.abandoned;
    Log(
        fmt::format("{}: gave up {}; releasing it failed too ({}), so it runs again once its "
                    "lease expires: {}",
                    worker.name(), job, released.error().ToString(), error.ToString()));
  }
}

void WorkerPool::StopFatally(const Error& error, std::string_view what) {
  {
    std::lock_guard lock(fatal_mu_);
    if (!fatal_) fatal_ = Error{error.code, fmt::format("{}: {}", what, error.message)};
  }
  waiter_.Stop();
}

template <typename W>
void WorkerPool::Publish(int index, const W& worker) {
  book_.Publish(index, LeasesOf(worker, options_.worker.lease_ms));
}

std::unique_ptr<Queue> WorkerPool::OpenOwn(std::string_view who, Backoff& backoff, bool last,
                                           bool& give_up) {
  auto opened = open_();
  if (opened) return std::move(*opened);
  ++counters_.errors;
  Log(fmt::format("{}: opening the queue: {}", who, opened.error().ToString()));
  give_up = true;
  if (DecideAfterOpenError(opened.error().code) == AfterError::kStop) {
    StopFatally(opened.error(), fmt::format("opening the {}'s queue", who));
    return nullptr;
  }
  if (last) return nullptr;
  give_up = false;
  waiter_.PauseMs(std::min(backoff.Next(), cadence_.poll_ms));
  return nullptr;
}

void WorkerPool::RunRelay() {
  if (!options_.relay) return;
  constexpr int kBatch = 100;
  Backoff backoff(cadence_);
  std::unique_ptr<Queue> queue;
  for (;;) {
    // Read before the pass: a pass that began after the job threads ended
    // has seen every intent they committed.
    const bool last = job_threads_done_;
    if (!queue) {
      bool give_up = false;
      queue = OpenOwn("relay", backoff, last, give_up);
      if (give_up) return;  // What is pending waits for the next relay.
      if (!queue) continue;
    }
    auto pass = RelayOnce(queue->store(), options_.relay, kBatch,
                          [this](const EffectRecord& e, const Error& why) {
                            Log(
                                fmt::format("relay: effect {} of job {} under '{}' not delivered "
                                            "(sent again later): {}",
                                            e.id, e.job_id, e.key, why.message));
                          });
    if (!pass) {
      ++counters_.errors;
      Log(fmt::format("relay: {}", pass.error().ToString()));
      counters_.reconnects += queue->store().reconnects() + 1;
      queue.reset();  // A fresh handle: whatever the error, the next pass reads afresh.
      if (last) return;
      waiter_.PauseMs(std::min(backoff.Next(), cadence_.poll_ms));
      continue;
    }
    backoff.Reset();
    counters_.delivered += pass->delivered;
    counters_.undelivered += pass->failed;
    if (last && pass->delivered == 0) break;
    // A full batch that got somewhere: more may be waiting.
    if (pass->delivered > 0 && pass->delivered + pass->failed == kBatch) continue;
    if (last) continue;
    if (!waiter_.stopped()) {
      waiter_.WaitMs(cadence_.poll_ms);
    } else {
      waiter_.PauseMs(cadence_.poll_ms);
    }
  }
  if (auto left = queue->store().Outbox(kMaxEnqueueBatch); left) {
    counters_.outbox_left = static_cast<int64_t>(left->size());
  }
  counters_.reconnects += queue->store().reconnects();
}

void WorkerPool::RunControlPlane() {
  Backoff backoff(cadence_);
  // A run sweeps at least once (retention too), however soon its job
  // threads drain the queue: they may be done before this thread opens.
  bool ticked = false;
  while (!job_threads_done_ || !ticked) {
    bool give_up = false;
    std::unique_ptr<Queue> queue = OpenOwn("control plane", backoff, job_threads_done_, give_up);
    if (give_up) return;  // Nothing to keep; the sweep waits for the next run.
    if (!queue) continue;
    if (!queue->guards().control_plane) return;  // The job threads sweep; nobody beats.
    ControlPlane plane(*queue, book_, cadence_, options_.retain,
                       [this](const std::string& line) { Log(line); });
    ControlPlane::Next next;
    ControlTally counted;  // What of plane.tally() the counters have.
    for (;;) {
      next = plane.Tick();
      ticked = true;
      // Counted as it goes, for a scrape of the metrics while it runs.
      const ControlTally& now = plane.tally();
      counters_.heartbeats += now.heartbeats - counted.heartbeats;
      counters_.errors += now.errors - counted.errors;
      Count({.reaped = now.swept.reaped - counted.swept.reaped,
             .reconciled = now.swept.reconciled - counted.swept.reconciled,
             .pruned = now.swept.pruned - counted.swept.pruned,
             .errors = now.swept.errors - counted.swept.errors});
      counted = now;
      if (next.after_error == AfterError::kReopen || next.after_error == AfterError::kStop) break;
      if (job_threads_done_) break;
      // Until the job threads stop, a stop signal cuts the wait short;
      // then, while they finish what they hold, it is paced by the poll,
      // so that the pool returns soon after its last job thread.
      const DurationMs wait =
          std::clamp<DurationMs>(next.at_ms - queue->clock().NowMs(), 1, cadence_.heartbeat_ms);
      if (!waiter_.stopped()) {
        waiter_.WaitMs(wait);
      } else {
        waiter_.PauseMs(std::min(wait, cadence_.poll_ms));
      }
    }
    counters_.reconnects += queue->store().reconnects();
    if (next.after_error == AfterError::kStop) return StopFatally(*next.error, "control plane");
    if (next.after_error == AfterError::kReopen) {
      ++counters_.reconnects;
      waiter_.PauseMs(std::min(backoff.Next(), cadence_.poll_ms));
    }
  }
}

void WorkerPool::MaybeSweep(Queue& queue) {
  const TimeMs now = queue.clock().NowMs();
  TimeMs due = next_sweep_ms_.load();
  if (now < due) return;
  if (!next_sweep_ms_.compare_exchange_strong(due, now + cadence_.sweep_ms)) return;
  const SweepTally swept =
      RunSweeps(queue, options_.retain, [this](const std::string& line) { Log(line); });
  Count(swept);
}

void WorkerPool::Count(const SweepTally& swept) {
  counters_.reaped += swept.reaped;
  counters_.reconciled += swept.reconciled;
  counters_.pruned += swept.pruned;
  counters_.errors += swept.errors;
}

bool WorkerPool::Drained(Queue& queue) {
  auto counts = queue.store().CountJobs();
  if (!counts) {
    ++counters_.errors;
    Log(fmt::format("drain check: {}", counts.error().ToString()));
    return false;
  }
  return std::none_of(counts->begin(), counts->end(), [&](const StateCount& c) {
    return c.queue == options_.worker.queue && c.count > 0 &&
           (c.state == JobState::kPending || c.state == JobState::kRunning);
  });
}

void WorkerPool::Count(const BatchStep& t) {
  counters_.claimed += t.claimed;
  counters_.redelivered += t.redelivered;
  counters_.finished += t.finished;
  counters_.failed += t.failed;
  counters_.dead_lettered += t.dead_lettered;
  counters_.duplicates += t.duplicates;
  counters_.fenced += t.fenced;
  counters_.deferred += t.deferred;
}

void WorkerPool::Log(const std::string& line) {
  if (log_) log_(line);
}

}  // namespace lab
