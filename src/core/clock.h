// Clock: the only door to time for everything above core.
//
// Times are integer milliseconds since the Unix epoch (TimeMs). The engine and
// stores take a Clock& and never read time any other way, so a test or the
// simulator can move time by hand and get the same run every time.
// SystemClock is the one real implementation (system_clock.cc is the only
// file that reads the wall clock). ManualClock moves only when told to.
// Thread-safety: SystemClock is safe from any thread; ManualClock is not
// synchronized and belongs to one thread (a test or the simulator).
#pragma once

#include <cstdint>
#include <span>

namespace lab {

using TimeMs = int64_t;
using DurationMs = int64_t;

// The ranges the engine works in: every stored time lies in [0, kMaxTimeMs]
// (the last millisecond of the year 9999) and every duration in
// [0, kMaxDurationMs] (366 days). Inputs are checked against them at the
// edges (flags, files, store calls), so the sum of a time and a duration
// always fits; AddMs asserts that it does rather than wrap silently.
inline constexpr TimeMs kMaxTimeMs = 253'402'300'799'999;
inline constexpr DurationMs kMaxDurationMs = 366LL * 24 * 3'600'000;

TimeMs AddMs(TimeMs time_ms, DurationMs duration_ms);

// [from_ms, to_ms): an outage, a brownout.
struct TimeWindow {
  TimeMs from_ms = 0;
  TimeMs to_ms = 0;
  bool Contains(TimeMs t) const { return from_ms <= t && t < to_ms; }
};
// Whether any of `windows` contains `t`.
bool AnyContains(std::span<const TimeWindow> windows, TimeMs t);

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs NowMs() = 0;
};

// Wall-clock time, for production.
class SystemClock final : public Clock {
 public:
  TimeMs NowMs() override;
};

// Elapsed real time, for benchmarks only (the engine measures time through
// a Clock). Microsecond resolution, monotonic.
class Stopwatch {
 public:
  Stopwatch();
  int64_t ElapsedUs() const;
  double ElapsedSeconds() const { return static_cast<double>(ElapsedUs()) / 1e6; }

 private:
  int64_t start_us_;
};

// Time that moves only when the owner says so. Never goes backwards unless
// Set() is called explicitly (clock skew experiments do that on purpose).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimeMs start_ms = 0) : now_ms_(start_ms) {}

  TimeMs NowMs() override { return now_ms_; }
  void AdvanceMs(DurationMs delta_ms);
  void Set(TimeMs now_ms) { now_ms_ = now_ms; }

 private:
  TimeMs now_ms_;
};

// Another clock read with a fixed offset: a machine whose clock is off (an
// NTP step, a VM resumed from a snapshot). Reads never go below 0.
class OffsetClock final : public Clock {
 public:
  OffsetClock(Clock& base, DurationMs offset_ms) : base_(base), offset_ms_(offset_ms) {}
  TimeMs NowMs() override;
  void set_offset_ms(DurationMs offset_ms) { offset_ms_ = offset_ms; }

 private:
  Clock& base_;
  DurationMs offset_ms_;
};

}  // namespace lab
