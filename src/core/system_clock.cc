// The one file in the lab that reads the real clock or waits.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>

#include "core/assert.h"
#include "core/clock.h"
#include "core/waiter.h"

namespace lab {

TimeMs SystemClock::NowMs() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
}

namespace {

int64_t SteadyUs() {
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(now).count();
}

}  // namespace

Stopwatch::Stopwatch() : start_us_(SteadyUs()) {}
int64_t Stopwatch::ElapsedUs() const { return SteadyUs() - start_us_; }

namespace {

TimeMs SteadyMs() {
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
}

// Polls `fds` until one is readable or `ms` has passed, across EINTR.
// Returns the index of a readable fd, or -1 on timeout.
int PollReadable(pollfd* fds, nfds_t n, DurationMs ms) {
  const TimeMs deadline = SteadyMs() + ms;
  for (;;) {
    const TimeMs left = deadline - SteadyMs();
    if (left <= 0) return -1;
    const int ready = poll(fds, n, static_cast<int>(left > INT32_MAX ? INT32_MAX : left));
    if (ready < 0) {
      LAB_ASSERT(errno == EINTR);
      continue;
    }
    if (ready == 0) return -1;
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents != 0) return static_cast<int>(i);
    }
  }
}

}  // namespace

SystemWaiter::SystemWaiter() : stop_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  LAB_ASSERT(stop_fd_ >= 0);
}

SystemWaiter::~SystemWaiter() { close(stop_fd_); }

bool SystemWaiter::WaitMs(DurationMs ms) {
  if (stopped()) return false;
  pollfd fd{.fd = stop_fd_, .events = POLLIN, .revents = 0};
  PollReadable(&fd, 1, ms);
  return !stopped();
}

bool SystemWaiter::WaitReadableMs(int fd, DurationMs ms) {
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  return PollReadable(&p, 1, ms) == 0;
}

void SystemWaiter::PauseMs(DurationMs ms) {
  PollReadable(nullptr, 0, ms);  // No fd: only the time can end it.
}

void SystemWaiter::Stop() {
  stopped_.store(true);
  const uint64_t one = 1;
  // Never read back: the eventfd stays readable, so every wait ends at once.
  [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof one);
}

}  // namespace lab
