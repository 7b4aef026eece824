#include "queue/circuit_breaker.h"

#include "core/assert.h"
#include "core/enum_names.h"

namespace lab {
namespace {

constexpr EnumNames<BreakerState, 3> kStates = {{{BreakerState::kClosed, "closed"},
                                                 {BreakerState::kOpen, "open"},
                                                 {BreakerState::kHalfOpen, "half-open"}}};

}  // namespace

std::string_view ToString(BreakerState state) { return NameOf(kStates, state); }

CircuitBreaker::CircuitBreaker(BreakerOptions options)
    : options_(options), window_(options.window_ms, options.buckets) {
  LAB_ASSERT(options_.min_calls > 0 && options_.probes > 0 && options_.open_ms > 0);
}

BreakerState CircuitBreaker::state(TimeMs now_ms) {
  while (!due_.empty() && due_.begin()->first <= now_ms) {
    const auto [at, success] = *due_.begin();
    due_.erase(due_.begin());
    Apply(at, success);
  }
  return Advance(now_ms);
}

BreakerState CircuitBreaker::Advance(TimeMs now_ms) {
  if (state_ == BreakerState::kOpen && now_ms >= open_until_ms_) {
    state_ = BreakerState::kHalfOpen;
    probes_sent_ = probes_ok_ = 0;
  }
  return state_;
}

void CircuitBreaker::Open(TimeMs now_ms) {
  state_ = BreakerState::kOpen;
  open_until_ms_ = now_ms + options_.open_ms;
  ++opened_;
  window_.Clear();
}

BreakerDecision CircuitBreaker::Admit(TimeMs now_ms) {
  switch (state(now_ms)) {
    case BreakerState::kClosed:
      return {.allowed = true, .ask_again_at_ms = now_ms};
    case BreakerState::kOpen:
      return {.allowed = false, .ask_again_at_ms = open_until_ms_};
    case BreakerState::kHalfOpen:
      if (probes_sent_ < options_.probes) {
        ++probes_sent_;
        return {.allowed = true, .ask_again_at_ms = now_ms};
      }
      // Every probe is out: wait for their outcomes, a slice at a time.
      return {.allowed = false, .ask_again_at_ms = now_ms + window_.slice_ms()};
  }
  LAB_UNREACHABLE("breaker state");
}

void CircuitBreaker::Cancel(TimeMs now_ms) {
  if (state(now_ms) == BreakerState::kHalfOpen && probes_sent_ > probes_ok_) --probes_sent_;
}

void CircuitBreaker::Record(TimeMs now_ms, bool success, TimeMs heard_at_ms) {
  state(now_ms);
  if (heard_at_ms > now_ms) {
    due_.emplace(heard_at_ms, success);
  } else {
    Apply(now_ms, success);
  }
}

void CircuitBreaker::Apply(TimeMs now_ms, bool success) {
  switch (Advance(now_ms)) {
    case BreakerState::kOpen:
      return;  // A late outcome of a call admitted before it opened.
    case BreakerState::kHalfOpen:
      if (!success) {
        Open(now_ms);
      } else if (++probes_ok_ >= options_.probes) {
        state_ = BreakerState::kClosed;
        window_.Clear();
      }
      return;
    case BreakerState::kClosed:
      break;
  }
  window_.Add(now_ms, kCalls);
  if (!success) window_.Add(now_ms, kFailures);
  const int64_t calls = window_.Sum(now_ms, kCalls);
  const int64_t failures = window_.Sum(now_ms, kFailures);
  if (calls >= options_.min_calls &&
      static_cast<double>(failures) >= options_.failure_ratio * static_cast<double>(calls)) {
    Open(now_ms);
  }
}

BreakerGate::BreakerGate(BreakerOptions options) : breaker_(options) {}

std::optional<TimeMs> BreakerGate::Admit(TimeMs now_ms) {
  std::lock_guard lock(mu_);
  const BreakerDecision d = breaker_.Admit(now_ms);
  if (d.allowed) return std::nullopt;
  ++held_;
  return d.ask_again_at_ms;
}

void BreakerGate::Record(TimeMs now_ms, bool success, TimeMs heard_at_ms) {
  std::lock_guard lock(mu_);
  breaker_.Record(now_ms, success, heard_at_ms);
}

void BreakerGate::Cancel(TimeMs now_ms) {
  std::lock_guard lock(mu_);
  breaker_.Cancel(now_ms);
}

int64_t BreakerGate::held() const {
  std::lock_guard lock(mu_);
  return held_;
}

int64_t BreakerGate::opened() const {
  std::lock_guard lock(mu_);
  return breaker_.opened();
}

}  // namespace lab
