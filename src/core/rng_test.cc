// Goal: Rng is a pure function of its seed, splits into independent streams,
// and its bounded draws stay in range and cover the range.
#include "core/rng.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace lab {
namespace {

std::vector<uint64_t> Draw(Rng& rng, int n) {
  std::vector<uint64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(rng.Next());
  return out;
}

TEST(RngTest, SameSeedSameSequence) {
  Rng a(42), b(42);
  EXPECT_EQ(Draw(a, 100), Draw(b, 100));
}

TEST(RngTest, DifferentSeedsDiffer) {
  Rng a(1), b(2);
  EXPECT_NE(Draw(a, 10), Draw(b, 10));
}

TEST(RngTest, KnownFirstValueIsStableAcrossBuilds) {
  // Pinned so that a change to the generator (which would change every
  // recorded seed's run) is noticed.
  Rng rng(0);
  const uint64_t first = rng.Next();
  Rng again(0);
  EXPECT_EQ(first, again.Next());
  EXPECT_EQ(first, 0x99ec5f36cb75f2b4ULL);
}

TEST(RngTest, SplitChildIsIndependentAndDeterministic) {
  Rng a(7), b(7);
  Rng ca = a.Split();
  Rng cb = b.Split();
  EXPECT_EQ(Draw(ca, 20), Draw(cb, 20));
  EXPECT_EQ(Draw(a, 20), Draw(b, 20));
  Rng parent(7);
  Rng child = parent.Split();
  EXPECT_NE(Draw(parent, 5), Draw(child, 5));
}

TEST(RngTest, UniformStaysInBoundAndCoversIt) {
  Rng rng(99);
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    uint64_t x = rng.Uniform(10);
    ASSERT_LT(x, 10u);
    seen.insert(x);
  }
  EXPECT_EQ(seen.size(), 10u);
}

TEST(RngTest, RangeIsInclusive) {
  Rng rng(3);
  bool saw_lo = false, saw_hi = false;
  for (int i = 0; i < 1000; ++i) {
    int64_t x = rng.Range(-2, 2);
    ASSERT_GE(x, -2);
    ASSERT_LE(x, 2);
    saw_lo |= x == -2;
    saw_hi |= x == 2;
  }
  EXPECT_TRUE(saw_lo);
  EXPECT_TRUE(saw_hi);
}

TEST(RngTest, ChanceExtremesAreExact) {
  Rng rng(5);
  int hits = 0;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(rng.Chance(0.0));
    EXPECT_TRUE(rng.Chance(1.0));
    hits += rng.Chance(0.5) ? 1 : 0;
  }
  EXPECT_GT(hits, 400);
  EXPECT_LT(hits, 600);
}

}  // namespace
}  // namespace lab
