// A deliberate data race, built only under ThreadSanitizer: `make test-tsan`
// runs it and requires TSan to report it, so a TSan build that silently
// checks nothing cannot pass.
#include <cstdio>
#include <thread>

namespace {
int shared_counter = 0;  // Written by two threads without synchronization.
}

int main() {
  std::thread other([] { ++shared_counter; });
  ++shared_counter;
  other.join();
  std::printf("counter %d\n", shared_counter);
  return 0;
}
