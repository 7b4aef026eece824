// CircuitBreaker: stop calling a downstream system that is failing, and
// find out, with a few probes, when it is back.
//
// Closed: calls go; outcomes are counted over a sliding window, and when at
// least `min_calls` of them have been seen and the failed share reaches
// `failure_ratio`, the breaker opens. Open: no call goes until `open_ms`
// has passed; the caller's job waits (it is not an attempt, so it burns
// nothing). Half-open: up to `probes` calls go; as many successes close the
// breaker (with a fresh window), one failure opens it again for another
// `open_ms`. Every decision is a pure function of (state, now, outcome):
// no clock is read, nothing sleeps. Thread-safety: plain value; one per
// downstream system, owned by one caller.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>

#include "core/clock.h"
#include "queue/sliding_window.h"

namespace lab {

enum class BreakerState { kClosed, kOpen, kHalfOpen };
std::string_view ToString(BreakerState state);

struct BreakerOptions {
  double failure_ratio = 0.5;
  int min_calls = 20;
  DurationMs window_ms = 10'000;
  int buckets = 10;
  DurationMs open_ms = 5'000;
  int probes = 3;
};

struct BreakerDecision {
  bool allowed = false;
  TimeMs ask_again_at_ms = 0;  // When refused: when the breaker may let a call go.
};

class CircuitBreaker {
 public:
  explicit CircuitBreaker(BreakerOptions options = {});

  // Whether a call may go now; an allowed call must be followed by Record.
  BreakerDecision Admit(TimeMs now_ms);
  // The outcome of an admitted call, heard now, or at `heard_at_ms` when
  // that is later (0: now): a simulated handler returns at once with an
  // answer due later (sim/world.cc, FM_005), which counts from then on,
  // and until then the call is still out (a probe's place stays taken).
  void Record(TimeMs now_ms, bool success, TimeMs heard_at_ms = 0);
  // An admitted call that will not be made after all (another guard held
  // it back): a probe's place is given back.
  void Cancel(TimeMs now_ms);
  BreakerState state(TimeMs now_ms);
  int64_t opened() const { return opened_; }  // Times it opened.

 private:
  static constexpr int kCalls = 0, kFailures = 1;  // SlidingCounts counters.
  void Open(TimeMs now_ms);
  // The state at `now_ms` from the outcomes heard so far.
  BreakerState Advance(TimeMs now_ms);
  // An outcome heard at `at_ms`.
  void Apply(TimeMs at_ms, bool success);

  BreakerOptions options_;
  SlidingCounts window_;
  BreakerState state_ = BreakerState::kClosed;
  TimeMs open_until_ms_ = 0;
  int probes_sent_ = 0;
  int probes_ok_ = 0;
  int64_t opened_ = 0;
  std::multimap<TimeMs, bool> due_;  // Outcomes to be heard later, by when.
};

// BreakerGate: the circuit breaker as the job threads of one worker
// process share it for the downstream system their handlers call (the
// circuit_breaker guard). Asked just before a handler would call: while
// the breaker is open the job is put back unrun until it may let a call
// go (Store::Defer gives its attempt back), so an outage makes jobs wait
// instead of failing their attempts; every call admitted is followed by
// its outcome (a transient failure counts against the downstream system, a
// permanent one is the job's own). A new process starts closed.
// Thread-safety: thread-safe.
class BreakerGate {
 public:
  explicit BreakerGate(BreakerOptions options = {});
  // nullopt: the call may go now, and its outcome must be recorded (or the
  // call cancelled). Otherwise when to ask again.
  std::optional<TimeMs> Admit(TimeMs now_ms);
  void Record(TimeMs now_ms, bool success, TimeMs heard_at_ms = 0);  // As CircuitBreaker's.
  void Cancel(TimeMs now_ms);
  int64_t held() const;    // Calls held back so far.
  int64_t opened() const;  // Times the breaker opened.

 private:
  mutable std::mutex mu_;
  CircuitBreaker breaker_;
  int64_t held_ = 0;
};

}  // namespace lab
