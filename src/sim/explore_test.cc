// Goal: exploring stops at the first violating seed and reports it; a
// shrunk schedule is smaller, still violates the same invariant, and
// replays from its JSON form to the same result; traces are JSON lines.
#include "sim/explore.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace lab {
namespace {

TEST(ExploreTest, StopsAtTheFirstViolationAndNamesTheSeed) {
  ManualClock wall(0);
  ExploreOptions o{.seed_start = 0, .seeds = 500};
  o.sim.guards = *Guards::Parse("-commit_boundary");
  uint64_t calls = 0;
  auto r = Explore(o, wall, [&](uint64_t, uint64_t) { ++calls; });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_TRUE(r->failure.has_value());
  EXPECT_EQ(r->failure->seed, r->seeds_run - 1);
  EXPECT_EQ(calls, r->seeds_run);
  EXPECT_FALSE(r->failure->violations.empty());
}

TEST(ExploreTest, GuardedRunsThroughEverySeed) {
  ManualClock wall(0);
  auto r = Explore({.seed_start = 0, .seeds = 50}, wall, nullptr);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->failure.has_value());
  EXPECT_EQ(r->seeds_run, 50u);
  EXPECT_GT(r->events, 50u);
}

TEST(ExploreTest, NeedsABound) {
  ManualClock wall(0);
  EXPECT_EQ(Explore({}, wall, nullptr).error().code, ErrorCode::kInvalidArgument);
}

TEST(ShrinkTest, ShrunkScheduleIsSmallerAndStillFailsTheSameWay) {
  ManualClock wall(0);
  ExploreOptions o{.seed_start = 0, .seeds = 500};
  o.sim.guards = *Guards::Parse("-reaper");
  auto found = Explore(o, wall, nullptr);
  ASSERT_TRUE(found.has_value() && found->failure.has_value());
  const Schedule original = DrawSchedule(found->failure->seed, o.draw);

  auto shrunk = Shrink(original, o.sim);
  ASSERT_TRUE(shrunk.has_value()) << shrunk.error().ToString();
  EXPECT_EQ(shrunk->invariant, Invariant::kLiveness);
  EXPECT_TRUE(shrunk->result.Violated(Invariant::kLiveness));
  EXPECT_LE(shrunk->schedule.jobs.size(), original.jobs.size());
  EXPECT_LT(shrunk->schedule.faults.size() + shrunk->schedule.handlers.size() +
                shrunk->schedule.jobs.size(),
            original.faults.size() + original.handlers.size() + original.jobs.size());
  // 1-minimal: taking away any single remaining job or fault makes it pass.
  for (size_t i = 0; i < shrunk->schedule.jobs.size(); ++i) {
    Schedule less = shrunk->schedule;
    const std::string key = less.jobs[i].key;
    less.jobs.erase(less.jobs.begin() + static_cast<long>(i));
    std::erase_if(less.handlers, [&](const ScheduledHandler& h) { return h.job_key == key; });
    if (less.jobs.empty()) continue;  // No job left is no schedule: the last one is needed.
    auto ran = Simulate(less, o.sim);
    ASSERT_TRUE(ran.has_value()) << ran.error().ToString();
    EXPECT_FALSE(ran->Violated(Invariant::kLiveness)) << "job " << i << " was not needed";
  }
  for (size_t i = 0; i < shrunk->schedule.faults.size(); ++i) {
    Schedule less = shrunk->schedule;
    less.faults.erase(less.faults.begin() + static_cast<long>(i));
    auto ran = Simulate(less, o.sim);
    ASSERT_TRUE(ran.has_value()) << ran.error().ToString();
    EXPECT_FALSE(ran->Violated(Invariant::kLiveness)) << "fault " << i << " was not needed";
  }
  // A stuck lease needs its worker to die: a fault, or a poison job's handler.
  EXPECT_TRUE(!shrunk->schedule.faults.empty() ||
              std::any_of(shrunk->schedule.jobs.begin(), shrunk->schedule.jobs.end(),
                          [](const ScheduledJob& j) { return j.poison; }));

  auto replayed = ScheduleFromJson(ScheduleToJson(shrunk->schedule));
  ASSERT_TRUE(replayed.has_value());
  auto again = Simulate(*replayed, o.sim);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->trace_hash, shrunk->result.trace_hash);
  EXPECT_TRUE(again->Violated(Invariant::kLiveness));
}

TEST(ShrinkTest, RefusesAPassingSchedule) {
  auto r = Shrink(DrawSchedule(1, {}), {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
}

TEST(TraceJsonTest, OneObjectPerEventWithEveryField) {
  const std::string line = TraceEventToJson({.time_ms = 5,
                                             .actor = "w0",
                                             .event = "claim",
                                             .job = 1,
                                             .execution = 2,
                                             .token = 3,
                                             .result = "ok"});
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["time_ms"], 5);
  EXPECT_EQ(j["actor"], "w0");
  EXPECT_EQ(j["token"], 3);
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace lab
