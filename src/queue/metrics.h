// A worker's figures in Prometheus' text exposition format (issue 14):
// what `lab queue work --metrics` serves at /metrics.
//
// Counters are the pool's (PoolStats), so they count what this worker
// process did since it started; gauges are read from the store at each
// scrape (jobs by queue and state, the oldest pending job's age) or from
// the pool (leases it holds); the handler's duration is a histogram.
// Names follow Prometheus' conventions: a `lab_` prefix, base units
// (seconds), `_total` for counters. Thread-safety: Histogram may be
// observed and read from any thread; RenderMetrics is a pure function.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "queue/worker_pool.h"
#include "store/store.h"
#include "store/types.h"

namespace lab {

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, increasing (the +Inf bucket is
  // implicit).
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  struct Reading {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // Per bound, then +Inf.
    uint64_t count = 0;
    double sum = 0;
  };
  Reading Read() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> buckets_;  // Per bound, then +Inf; guarded by mu_.
  uint64_t count_ = 0;             // Guarded by mu_.
  double sum_ = 0;                 // Guarded by mu_.
};

// The `q`th quantile (0..1) of `sorted` (ascending, not empty): the value
// at rank floor(q * n), the last one at most.
int64_t Quantile(const std::vector<int64_t>& sorted, double q);

// Seconds, from a millisecond to ten minutes: a shell command's span.
std::vector<double> DurationBuckets();

// The histograms of durations, a closed set: a job's handler; a job's
// first start since its enqueue; its end (SUCCEEDED) since its enqueue.
enum class Timing { kHandler, kEnqueueToStart, kEnqueueToDone };

struct QueueAge {
  std::string queue;
  double seconds = 0;
};

struct MetricsInput {
  std::optional<PoolStats> pool;  // A worker's counters; none on the dashboard.
  std::vector<StateCount> jobs;   // Jobs by queue and state.
  // The oldest pending job's wait, by queue; a queue not listed: 0.
  std::vector<QueueAge> oldest_pending;
  std::vector<std::string> queues;     // Queues whose oldest wait is reported, 0 if not listed.
  std::optional<int64_t> leases_held;  // By a worker's job threads.
  std::optional<int64_t> redriven;     // Dead jobs redriven from a dashboard's page.
  std::vector<std::pair<Timing, Histogram::Reading>> timings;
};

std::string RenderMetrics(const MetricsInput& in);
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// The oldest pending job's wait since its enqueue in each of `queues` that
// has one, read from the store (what an error leaves unread is left out).
std::vector<QueueAge> OldestPending(Store& store, TimeMs now,
                                    const std::vector<std::string>& queues);

}  // namespace lab
