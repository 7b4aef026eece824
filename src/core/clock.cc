#include "core/clock.h"

#include <algorithm>

#include "core/assert.h"

namespace lab {

bool AnyContains(std::span<const TimeWindow> windows, TimeMs t) {
  return std::any_of(windows.begin(), windows.end(),
                     [t](const TimeWindow& w) { return w.Contains(t); });
}

TimeMs AddMs(TimeMs time_ms, DurationMs duration_ms) {
  TimeMs sum = 0;
  LAB_ASSERT_MSG(!__builtin_add_overflow(time_ms, duration_ms, &sum),
                 "time arithmetic overflowed: an unchecked input reached the engine");
  return sum;
}

void ManualClock::AdvanceMs(DurationMs delta_ms) {
  LAB_ASSERT(delta_ms >= 0);
  now_ms_ += delta_ms;
}

TimeMs OffsetClock::NowMs() {
  const TimeMs now = AddMs(base_.NowMs(), offset_ms_);
  return now < 0 ? 0 : now;
}

}  // namespace lab
