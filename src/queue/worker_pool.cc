#include "queue/worker_pool.h"

#include <fmt/core.h>

#include <algorithm>
#include <optional>
#include <thread>
#include <vector>

#include "core/assert.h"

namespace lab {

namespace {

constexpr DurationMs kMinBackoffMs = 50;

bool NeedsReopen(ErrorCode code) {
  return code == ErrorCode::kUnknownOutcome || code == ErrorCode::kFailedPrecondition;
}

}  // namespace

WorkerPool::WorkerPool(QueueOpener open, Handler handler, PoolOptions options, Waiter& waiter,
                       PoolLog log)
    : open_(std::move(open)),
      handler_(std::move(handler)),
      options_(std::move(options)),
      waiter_(waiter),
      log_(std::move(log)) {
  LAB_ASSERT(open_ != nullptr && handler_ != nullptr);
  LAB_ASSERT(options_.concurrency >= 1);
  LAB_ASSERT(options_.idle_wait_ms > 0 && options_.sweep_every_ms > 0);
}

PoolStats WorkerPool::Run() {
  std::vector<std::thread> threads;
  for (int i = 0; i < options_.concurrency; ++i) threads.emplace_back([this, i] { RunThread(i); });
  for (auto& t : threads) t.join();
  return {.finished = counters_.finished.load(),
          .failed = counters_.failed.load(),
          .duplicates = counters_.duplicates.load(),
          .fenced = counters_.fenced.load(),
          .abandoned = counters_.abandoned.load(),
          .errors = counters_.errors.load(),
          .reopened = counters_.reopened.load(),
          .drained = counters_.drained.load()};
}

void WorkerPool::RunThread(int index) {
  WorkerOptions wo = options_.worker;
  wo.name = fmt::format("{}/{}", options_.worker.name, index);
  wo.seed += static_cast<uint64_t>(index);
  std::unique_ptr<Queue> queue;
  std::optional<Worker> worker;
  DurationMs backoff = 0;
  auto back_off = [&](const Error& error, std::string_view what) {
    ++counters_.errors;
    Log(fmt::format("{}: {}: {}", wo.name, what, error.ToString()));
    backoff = std::clamp(backoff * 2, kMinBackoffMs, options_.max_backoff_ms);
    waiter_.WaitMs(backoff);
  };

  for (;;) {
    if (!queue) {
      if (waiter_.stopped()) return;
      auto opened = open_();
      if (!opened) {
        back_off(opened.error(), "opening the queue");
        continue;
      }
      queue = std::move(*opened);
      worker.emplace(*queue, handler_, wo);
    }
    if (worker->phase() == WorkerPhase::kIdle) {
      if (waiter_.stopped()) return;
      MaybeSweep(*queue);
    }
    auto step = worker->Step();
    if (!step) {
      if (worker->phase() != WorkerPhase::kIdle) {
        worker->Abandon(step.error().message);
        ++counters_.abandoned;
      }
      if (NeedsReopen(step.error().code)) {
        worker.reset();
        queue.reset();
        ++counters_.reopened;
      }
      back_off(step.error(), "step failed");
      continue;
    }
    backoff = 0;
    Count(step->kind);
    if (step->kind != StepKind::kNoJob) continue;
    if (options_.drain && Drained(*queue)) {
      counters_.drained = true;
      waiter_.Stop();
      return;
    }
    waiter_.WaitMs(options_.idle_wait_ms);
  }
}

void WorkerPool::MaybeSweep(Queue& queue) {
  const TimeMs now = queue.clock().NowMs();
  TimeMs due = next_sweep_ms_.load();
  if (now < due) return;
  if (!next_sweep_ms_.compare_exchange_strong(due, now + options_.sweep_every_ms)) return;
  if (auto reaped = queue.Reap(); !reaped) {
    ++counters_.errors;
    Log(fmt::format("reaper: {}", reaped.error().ToString()));
  }
  if (auto reconciled = queue.Reconcile(); !reconciled) {
    ++counters_.errors;
    Log(fmt::format("reconciler: {}", reconciled.error().ToString()));
  }
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

void WorkerPool::Count(StepKind kind) {
  switch (kind) {
    case StepKind::kFinished:
      ++counters_.finished;
      break;
    case StepKind::kFailed:
      ++counters_.failed;
      break;
    case StepKind::kDuplicate:
      ++counters_.duplicates;
      break;
    case StepKind::kFenced:
      ++counters_.fenced;
      break;
    default:
      break;
  }
}

void WorkerPool::Log(const std::string& line) {
  if (log_) log_(line);
}

}  // namespace lab
