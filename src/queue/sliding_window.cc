#include "queue/sliding_window.h"

#include "core/assert.h"

namespace lab {

SlidingCounts::SlidingCounts(DurationMs window_ms, int buckets)
    : slice_ms_(buckets > 0 ? window_ms / buckets : 0), buckets_(static_cast<size_t>(buckets)) {
  LAB_ASSERT(buckets > 0 && slice_ms_ > 0);
}

void SlidingCounts::Expire(TimeMs now_ms) {
  const int64_t current = now_ms / slice_ms_;
  const int64_t n = static_cast<int64_t>(buckets_.size());
  for (Bucket& b : buckets_) {
    if (b.index <= current - n) b = Bucket{};
  }
}

void SlidingCounts::Add(TimeMs now_ms, int counter, int64_t n) {
  LAB_ASSERT(counter == 0 || counter == 1);
  Expire(now_ms);
  const int64_t current = now_ms / slice_ms_;
  Bucket& b = buckets_[static_cast<size_t>(current % static_cast<int64_t>(buckets_.size()))];
  if (b.index != current) b = Bucket{.index = current};
  b.counts[static_cast<size_t>(counter)] += n;
}

int64_t SlidingCounts::Sum(TimeMs now_ms, int counter) {
  Expire(now_ms);
  int64_t sum = 0;
  for (const Bucket& b : buckets_) sum += b.counts[static_cast<size_t>(counter)];
  return sum;
}

std::optional<TimeMs> SlidingCounts::OldestLeavesAt(TimeMs now_ms, int counter) {
  Expire(now_ms);
  std::optional<int64_t> oldest;
  for (const Bucket& b : buckets_) {
    if (b.counts[static_cast<size_t>(counter)] > 0 && (!oldest || b.index < *oldest)) {
      oldest = b.index;
    }
  }
  if (!oldest) return std::nullopt;
  return (*oldest + static_cast<int64_t>(buckets_.size())) * slice_ms_;
}

void SlidingCounts::Clear() { buckets_.assign(buckets_.size(), Bucket{}); }

}  // namespace lab
