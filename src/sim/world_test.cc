// Goal: the simulated world is deterministic (same seed, same trace hash;
// a sample of seeds run twice), finds nothing with every guard on, and, with
// each guard switched off alone, finds a violation of that guard's invariant
// within a bounded number of seeds: the checkers are seen to fire.
#include "sim/world.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

Result<SimResult> RunSeed(uint64_t seed, Guards guards, const std::string& store = "memory:") {
  return Simulate(DrawSchedule(seed, {.swarm = true}), {.guards = guards, .store = store});
}

TEST(WorldTest, SameSeedSameTraceHashOnASampleOfSeeds) {
  for (uint64_t seed = 1000; seed < 1100; ++seed) {
    auto a = RunSeed(seed, Guards::All());
    auto b = RunSeed(seed, Guards::All());
    ASSERT_TRUE(a && b) << "seed " << seed;
    EXPECT_EQ(a->trace_hash, b->trace_hash) << "seed " << seed;
    EXPECT_EQ(a->events, b->events) << "seed " << seed;
  }
}

// Seen once: the handler outcomes of a schedule were looked up under another
// key than the engine's and silently never fired. Every kind must fire.
TEST(WorldTest, EveryScheduledHandlerOutcomeFires) {
  for (HandlerOutcome outcome :
       {HandlerOutcome::kTransient, HandlerOutcome::kPermanent, HandlerOutcome::kSlow}) {
    Schedule s = DrawSchedule(7, {.swarm = false, .jobs = 1, .workers = 1});
    s.faults.clear();
    s.jobs.at(0).poison = false;  // A poison job never reaches its handler.
    s.handlers = {{s.jobs.at(0).key, 1, outcome, 5'000}};
    auto r = Simulate(s, {.guards = Guards::All()});
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->handler_faults_fired, 1) << static_cast<int>(outcome);
    EXPECT_TRUE(r->violations.empty());
  }
}

// The hash covers every trace event: two runs that differ only in what the
// external system did with a duplicate (applied it, or deduplicated it and
// said so in the trace) have different traces and so different hashes.
TEST(WorldTest, RunsWhoseTracesDifferHaveDifferentHashes) {
  const Guards no_boundary = *Guards::Parse("-commit_boundary");
  int compared = 0;
  for (uint64_t seed = 0; seed < 200 && compared < 3; ++seed) {
    const Schedule s = DrawSchedule(seed, {});
    VectorTraceSink plain_trace, keyed_trace;
    auto plain = Simulate(s, {.guards = no_boundary, .trace = &plain_trace});
    auto keyed =
        Simulate(s, {.guards = no_boundary, .external_honours_keys = true, .trace = &keyed_trace});
    ASSERT_TRUE(plain && keyed);
    if (!plain->Violated(Invariant::kOneEffect))
      continue;  // No duplicate effect: nothing to dedupe.
    ++compared;
    bool deduped = false;
    for (const auto& e : keyed_trace.events()) deduped = deduped || e.event == "dedupe";
    EXPECT_TRUE(deduped) << "seed " << seed << ": the trace does not say what was deduplicated";
    EXPECT_NE(plain->trace_hash, keyed->trace_hash) << "seed " << seed;
  }
  EXPECT_EQ(compared, 3);
}

TEST(WorldTest, DifferentSeedsTakeDifferentPaths) {
  EXPECT_NE(RunSeed(1, Guards::All())->trace_hash, RunSeed(2, Guards::All())->trace_hash);
}

TEST(WorldTest, SqliteRunMatchesTheMemoryRunEventForEvent) {
  // The two stores share one set of rules; on the same schedule the world
  // must take exactly the same path on both.
  for (uint64_t seed = 0; seed < 5; ++seed) {
    auto mem = RunSeed(seed, Guards::All(), "memory:");
    auto sql = RunSeed(seed, Guards::All(), "sqlite:");
    ASSERT_TRUE(mem && sql) << (mem ? sql.error().ToString() : mem.error().ToString());
    EXPECT_EQ(mem->trace_hash, sql->trace_hash) << "seed " << seed;
    EXPECT_TRUE(sql->violations.empty()) << "seed " << seed;
  }
}

TEST(WorldTest, GuardedSampleFindsNothing) {
  for (uint64_t seed = 0; seed < 300; ++seed) {
    auto r = RunSeed(seed, Guards::All());
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    for (const auto& v : r->violations) ADD_FAILURE() << "seed " << seed << ": " << v.ToString();
    EXPECT_GT(r->events, 0u);
  }
}

TEST(WorldTest, AnExternalSystemHonouringKeysAbsorbsDuplicateEffects) {
  // An external call made with the job's key: without the commit boundary,
  // an outside system that dedupes by the job's key still keeps one effect
  // per job; the effect from an aborted execution is still there.
  const Guards no_boundary = *Guards::Parse("-commit_boundary");
  int duplicated = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const Schedule s = DrawSchedule(seed, {});
    auto plain = Simulate(s, {.guards = no_boundary});
    auto keyed = Simulate(s, {.guards = no_boundary, .external_honours_keys = true});
    ASSERT_TRUE(plain && keyed);
    if (!plain->Violated(Invariant::kOneEffect)) continue;
    ++duplicated;
    EXPECT_FALSE(keyed->Violated(Invariant::kOneEffect)) << "seed " << seed;
  }
  EXPECT_GT(duplicated, 0) << "no seed duplicated an effect; the test proves nothing";
}

struct Ablation {
  std::string guard;
  Invariant invariant;
};

void PrintTo(const Ablation& a, std::ostream* os) {
  *os << "-" << a.guard << " => " << a.invariant;
}

class GuardAblationTest : public ::testing::TestWithParam<Ablation> {};

TEST_P(GuardAblationTest, TurningTheGuardOffIsCaughtWithinABoundedNumberOfSeeds) {
  constexpr uint64_t kMaxSeeds = 2'000;
  auto guards = Guards::Parse("-" + GetParam().guard);
  ASSERT_TRUE(guards.has_value());
  for (uint64_t seed = 0; seed < kMaxSeeds; ++seed) {
    auto r = RunSeed(seed, *guards);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    if (r->Violated(GetParam().invariant)) {
      SUCCEED() << "seed " << seed << " violates " << r->ViolatedList();
      return;
    }
  }
  FAIL() << "no violation of " << GetParam().invariant << " in " << kMaxSeeds << " seeds with -"
         << GetParam().guard;
}

INSTANTIATE_TEST_SUITE_P(Guards, GuardAblationTest,
                         ::testing::Values(Ablation{"commit_boundary", Invariant::kOneEffect},
                                           Ablation{"fencing", Invariant::kAuditedTransitions},
                                           Ablation{"reaper", Invariant::kLiveness},
                                           Ablation{"reconcile", Invariant::kLiveness}),
                         [](const auto& info) { return info.param.guard; });

}  // namespace
}  // namespace lab
