// Goal: backoff doubles up to its cap, jitter stays within [d/2, d], and the
// budget and permanent errors end in a dead letter.
#include "queue/retry_policy.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

TEST(RetryPolicyTest, BackoffDoublesUpToTheCap) {
  RetryPolicy p{.base_delay_ms = 100, .max_delay_ms = 1'000};
  EXPECT_EQ(p.Backoff(1), 100);
  EXPECT_EQ(p.Backoff(2), 200);
  EXPECT_EQ(p.Backoff(4), 800);
  EXPECT_EQ(p.Backoff(5), 1'000);
  EXPECT_EQ(p.Backoff(60), 1'000);
}

TEST(RetryPolicyTest, JitteredDelayStaysInTheUpperHalf) {
  RetryPolicy p{.base_delay_ms = 1'000, .max_delay_ms = 60'000};
  Rng rng(11);
  for (int i = 0; i < 200; ++i) {
    auto at = p.Decide(3, 10, false, 0, rng);
    ASSERT_TRUE(at.has_value());
    EXPECT_GE(*at, 2'000);
    EXPECT_LE(*at, 4'000);
  }
}

TEST(RetryPolicyTest, ExhaustedOrPermanentMeansDeadLetter) {
  RetryPolicy p;
  Rng rng(1);
  EXPECT_FALSE(p.Decide(3, 3, false, 0, rng).has_value());
  EXPECT_FALSE(p.Decide(1, 3, true, 0, rng).has_value());
  EXPECT_TRUE(p.Decide(2, 3, false, 0, rng).has_value());
}

}  // namespace
}  // namespace lab
