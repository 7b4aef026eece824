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

// Seconds, from a millisecond to ten minutes: a shell command's span.
std::vector<double> DurationBuckets();

struct MetricsInput {
  PoolStats pool;
  std::vector<StateCount> jobs;                 // Jobs by queue and state.
  std::optional<double> oldest_pending_age_s;   // The worker's queue; none: nothing pending.
  std::string queue;                            // The worker's queue.
  int64_t leases_held = 0;                      // By this worker's job threads.
  std::optional<Histogram::Reading> handler_s;  // The handler's duration, if measured.
};

std::string RenderMetrics(const MetricsInput& in);

}  // namespace lab
