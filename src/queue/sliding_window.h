// SlidingCounts: two counters over a sliding window of time, kept as a
// ring of `buckets` slices, for the overload guards (RetryBudget,
// CircuitBreaker). A pure value: time is whatever the caller says.
// Thread-safety: plain value.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/clock.h"

namespace lab {

class SlidingCounts {
 public:
  SlidingCounts(DurationMs window_ms, int buckets);

  void Add(TimeMs now_ms, int counter, int64_t n = 1);
  // Counter `counter` over the window ending now.
  int64_t Sum(TimeMs now_ms, int counter);
  // When the oldest slice in which `counter` counted something leaves the
  // window; nullopt when it counted nothing.
  std::optional<TimeMs> OldestLeavesAt(TimeMs now_ms, int counter);
  void Clear();
  DurationMs slice_ms() const { return slice_ms_; }

 private:
  struct Bucket {
    int64_t index = -1;  // Which slice of time it counts (time / slice).
    std::array<int64_t, 2> counts{};
  };
  void Expire(TimeMs now_ms);

  DurationMs slice_ms_;
  std::vector<Bucket> buckets_;
};

}  // namespace lab
