// Waiter: the only door to waiting, as Clock is the only door to time.
//
// Nothing in the lab sleeps or blocks on a timeout except through a Waiter,
// so the engine's pacing is visible in one interface and a test can stop a
// whole worker pool with one call. SystemWaiter is the real implementation
// (system_clock.cc is the only file that waits). Stop() is sticky: once
// called, WaitMs returns at once, forever; it is safe from any thread and
// from a signal handler. WaitReadableMs is not cut short by Stop(): work
// already started (a child process) is allowed to finish.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>

#include "core/clock.h"

namespace lab {

class Waiter {
 public:
  virtual ~Waiter() = default;
  // Waits up to `ms`, less once Stop() is called. False when stopped.
  virtual bool WaitMs(DurationMs ms) = 0;
  // Waits until `fd` is readable or `ms` has passed. True when readable.
  virtual bool WaitReadableMs(int fd, DurationMs ms) = 0;
  // Waits `ms` even once stopped: the pause between retries of work already
  // in hand, which a first stop signal lets finish.
  virtual void PauseMs(DurationMs ms) = 0;
  virtual void Stop() = 0;
  virtual bool stopped() const = 0;
};

class SystemWaiter final : public Waiter {
 public:
  SystemWaiter();
  ~SystemWaiter() override;
  SystemWaiter(const SystemWaiter&) = delete;
  SystemWaiter& operator=(const SystemWaiter&) = delete;

  bool WaitMs(DurationMs ms) override;
  bool WaitReadableMs(int fd, DurationMs ms) override;
  void PauseMs(DurationMs ms) override;
  // Async-signal-safe: an atomic store and a write(2) to an eventfd.
  void Stop() override;
  bool stopped() const override { return stopped_.load(); }

 private:
  std::atomic<bool> stopped_{false};
  int stop_fd_;  // eventfd, readable once stopped.
};

}  // namespace lab
