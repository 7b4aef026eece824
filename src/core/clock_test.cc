// Goal: the manual clock moves only when told to and refuses to run backwards
// through AdvanceMs; the system clock reports a plausible epoch time.
#include "core/clock.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

TEST(ManualClockTest, StartsWhereToldAndAdvancesOnlyByHand) {
  ManualClock clock(1'000);
  EXPECT_EQ(clock.NowMs(), 1'000);
  EXPECT_EQ(clock.NowMs(), 1'000);
  clock.AdvanceMs(250);
  EXPECT_EQ(clock.NowMs(), 1'250);
  clock.Set(10);
  EXPECT_EQ(clock.NowMs(), 10);
}

TEST(ManualClockDeathTest, NegativeAdvanceIsAnAssertion) {
  ManualClock clock(0);
  EXPECT_DEATH(clock.AdvanceMs(-1), "assertion failed");
}

TEST(SystemClockTest, ReportsTimeAfter2020) {
  SystemClock clock;
  EXPECT_GT(clock.NowMs(), 1'577'836'800'000);  // 2020-01-01T00:00:00Z
}

}  // namespace
}  // namespace lab
