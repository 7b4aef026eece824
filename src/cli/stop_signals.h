// StopSignalScope: routes SIGINT and SIGTERM to a handler while it lives,
// and gives them back their default action when it ends. For the commands
// that stop cleanly on a signal (`lab queue work`, `lab explore`).
// Thread-safety: create and destroy on the main thread; the handler must be
// async-signal-safe.
#pragma once

#include <signal.h>

namespace lab {

class StopSignalScope {
 public:
  explicit StopSignalScope(void (*handler)(int)) {
    struct sigaction action {};
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
  }
  ~StopSignalScope() {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
  }
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;
};

}  // namespace lab
