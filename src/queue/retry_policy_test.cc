// Goal: backoff doubles up to its cap (for any policy), jitter stays
// within [d/2, d] and is spread over it, and the budget and permanent
// errors end in a dead letter.
#include "queue/retry_policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>

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

// Properties over many policies drawn from a seed: the delay before retry
// n+1 is twice the one before retry n until it reaches the cap, never
// more than the cap, never less than the base (or the cap, if lower).
TEST(RetryPolicyTest, BackoffGrowsAsSpecifiedForEveryPolicy) {
  Rng draw(2026);
  for (int i = 0; i < 1'000; ++i) {
    const RetryPolicy p{.base_delay_ms = draw.Range(1, 10'000),
                        .max_delay_ms = draw.Range(1, 3'600'000)};
    SCOPED_TRACE(::testing::Message() << "base " << p.base_delay_ms << " max " << p.max_delay_ms);
    EXPECT_EQ(p.Backoff(1), std::min(p.base_delay_ms, p.max_delay_ms));
    for (int n = 1; n < 80; ++n) {
      EXPECT_EQ(p.Backoff(n + 1), std::min(p.max_delay_ms, 2 * p.Backoff(n))) << n;
      EXPECT_LE(p.Backoff(n), p.max_delay_ms);
    }
  }
}

// Jitter spreads: ten thousand draws of one delay fall in [d/2, d], every
// tenth of that range gets between 8% and 12% of them, their mean is
// within 1% of 3d/4, and no value takes more than 1% (a constant or a
// handful of values would fail all three).
TEST(RetryPolicyTest, JitterIsSpreadUniformlyOverTheUpperHalf) {
  const RetryPolicy p{.base_delay_ms = 1'000, .max_delay_ms = 60'000};
  Rng rng(7);
  constexpr int kDraws = 10'000;
  const DurationMs d = p.Backoff(4);  // 8 s.
  std::array<int, 10> tenths{};
  std::map<TimeMs, int> values;
  double sum = 0;
  for (int i = 0; i < kDraws; ++i) {
    const TimeMs at = *p.Decide(4, 10, false, 100, rng) - 100;
    ASSERT_GE(at, d / 2);
    ASSERT_LE(at, d);
    ++tenths[std::min<size_t>(9, static_cast<size_t>((at - d / 2) * 10 / (d - d / 2)))];
    ++values[at];
    sum += static_cast<double>(at);
  }
  for (int n : tenths) {
    EXPECT_GE(n, kDraws * 8 / 100);
    EXPECT_LE(n, kDraws * 12 / 100);
  }
  EXPECT_NEAR(sum / kDraws, 0.75 * static_cast<double>(d), 0.01 * static_cast<double>(d));
  for (const auto& [value, n] : values) EXPECT_LE(n, kDraws / 100) << value;
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
