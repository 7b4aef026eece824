// Rng: a seeded, splittable pseudo-random generator (xoshiro256**).
//
// The same seed always yields the same sequence on every platform, so a run
// is a pure function of its seed. Split() derives an independent child
// generator (for one actor, one subsystem) without disturbing the order in
// which siblings draw. Never use rand(), std::random_device or a global
// engine in the lab. Thread-safety: one owner; not synchronized.
#pragma once

#include <array>
#include <cstdint>

namespace lab {

class Rng {
 public:
  explicit Rng(uint64_t seed);

  uint64_t Next();
  // Uniform in [0, bound). bound must be > 0. Unbiased (rejection sampling).
  uint64_t Uniform(uint64_t bound);
  // Uniform in [lo, hi], inclusive. lo <= hi.
  int64_t Range(int64_t lo, int64_t hi);
  // True with probability p (clamped to [0, 1]).
  bool Chance(double p);
  // A child generator whose stream is independent of this one's.
  Rng Split();

  uint64_t seed() const { return seed_; }

 private:
  uint64_t seed_;
  std::array<uint64_t, 4> s_;
};

// SplitMix64 step; also used to derive sub-seeds from a master seed.
uint64_t SplitMix64(uint64_t& state);

}  // namespace lab
