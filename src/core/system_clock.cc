// The one file in the lab that reads the real clock.
#include <chrono>

#include "core/clock.h"

namespace lab {

TimeMs SystemClock::NowMs() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
}

}  // namespace lab
