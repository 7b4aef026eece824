// Goal: the real waiter waits, stops for good when told (from another
// thread), and waits on a file descriptor without being cut short by Stop().
// No test here measures time: a long wait that ends early ends the test.
#include "core/waiter.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

namespace lab {
namespace {

TEST(SystemWaiterTest, ShortWaitReturnsTrueWhileNotStopped) {
  SystemWaiter waiter;
  EXPECT_TRUE(waiter.WaitMs(1));
  EXPECT_FALSE(waiter.stopped());
}

TEST(SystemWaiterTest, StopFromAnotherThreadEndsALongWait) {
  SystemWaiter waiter;
  std::thread stopper([&] { waiter.Stop(); });
  EXPECT_FALSE(waiter.WaitMs(3'600'000));  // An hour, unless stopped.
  stopper.join();
  EXPECT_TRUE(waiter.stopped());
  EXPECT_FALSE(waiter.WaitMs(3'600'000));  // Sticky.
}

TEST(SystemWaiterTest, WaitReadableSeesDataAndIsNotCutShortByStop) {
  SystemWaiter waiter;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_FALSE(waiter.WaitReadableMs(fds[0], 1));
  waiter.Stop();
  EXPECT_FALSE(waiter.WaitReadableMs(fds[0], 1));  // Still a timeout, not readable.
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  EXPECT_TRUE(waiter.WaitReadableMs(fds[0], 3'600'000));
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace lab
