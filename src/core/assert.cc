#include "core/assert.h"

#include <cstdio>
#include <cstdlib>

namespace lab::internal {

void AssertFail(const char* expr, const char* file, int line, const char* message) {
  std::fprintf(stderr, "%s:%d: assertion failed: %s %s\n", file, line, expr, message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace lab::internal
