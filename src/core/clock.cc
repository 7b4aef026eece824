#include "core/clock.h"

#include "core/assert.h"

namespace lab {

void ManualClock::AdvanceMs(DurationMs delta_ms) {
  LAB_ASSERT(delta_ms >= 0);
  now_ms_ += delta_ms;
}

}  // namespace lab
