// Goal: a seed draws the same schedule every time, swarm mode varies the
// configuration between seeds, fixed knobs stay fixed, and a schedule
// survives a JSON round trip exactly (so a shrunk case stays replayable).
#include "sim/schedule.h"

#include <gtest/gtest.h>

#include <set>

namespace lab {
namespace {

TEST(ScheduleTest, SameSeedSameSchedule) {
  EXPECT_EQ(ScheduleToJson(DrawSchedule(42, {})), ScheduleToJson(DrawSchedule(42, {})));
  EXPECT_NE(ScheduleToJson(DrawSchedule(42, {})), ScheduleToJson(DrawSchedule(43, {})));
}

TEST(ScheduleTest, SwarmDrawsItsOwnConfigurationPerSeed) {
  std::set<int> workers, jobs;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    DrawnConfig c;
    Schedule s = DrawSchedule(seed, {.swarm = true}, &c);
    EXPECT_EQ(s.workers, c.workers);
    EXPECT_EQ(static_cast<int>(s.jobs.size()), c.jobs);
    workers.insert(c.workers);
    jobs.insert(c.jobs);
  }
  EXPECT_GT(workers.size(), 3u);
  EXPECT_GT(jobs.size(), 10u);
}

TEST(ScheduleTest, FixedKnobsStayFixed) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Schedule s = DrawSchedule(seed, {.swarm = true, .jobs = 20, .workers = 4});
    EXPECT_EQ(s.workers, 4);
    EXPECT_EQ(s.jobs.size(), 20u);
    for (const auto& f : s.faults) EXPECT_LT(f.worker, 4);
  }
}

TEST(ScheduleTest, JsonRoundTripIsExact) {
  const Schedule s = DrawSchedule(7, {});
  auto back = ScheduleFromJson(ScheduleToJson(s));
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(ScheduleToJson(*back), ScheduleToJson(s));
}

TEST(ScheduleTest, BadJsonIsAClearError) {
  for (const char* bad : {"", "{", "{\"version\": 2}", "[]",
                          R"({"version":1,"seed":1,"workers":0,"lease_ms":1,)"
                          R"("reaper_interval_ms":1,"fault_window_ms":0,"jobs":[],"faults":[],)"
                          R"("handlers":[]})"}) {
    auto r = ScheduleFromJson(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("schedule file"), std::string::npos);
  }
}

}  // namespace
}  // namespace lab
