// Always-on assertions for impossible states.
//
// LAB_ASSERT stays on in production builds: an impossible state stops the
// process with file, line and expression rather than corrupting a queue.
// LAB_DASSERT is for expensive checks, compiled only into debug builds.
// Operating errors (bad input, I/O failure) are never assertions; they are
// Error values (see status.h).
#pragma once

namespace lab::internal {
[[noreturn]] void AssertFail(const char* expr, const char* file, int line, const char* message);
}  // namespace lab::internal

#define LAB_ASSERT(expr)                                                     \
  do {                                                                       \
    if (!(expr)) ::lab::internal::AssertFail(#expr, __FILE__, __LINE__, ""); \
  } while (0)

#define LAB_ASSERT_MSG(expr, msg)                                               \
  do {                                                                          \
    if (!(expr)) ::lab::internal::AssertFail(#expr, __FILE__, __LINE__, (msg)); \
  } while (0)

#define LAB_UNREACHABLE(msg) ::lab::internal::AssertFail("unreachable", __FILE__, __LINE__, (msg))

#ifdef NDEBUG
#define LAB_DASSERT(expr) \
  do {                    \
  } while (0)
#else
#define LAB_DASSERT(expr) LAB_ASSERT(expr)
#endif
