// Goal: a seed draws the same schedule every time, swarm mode varies the
// configuration between seeds, fixed knobs stay fixed, and a schedule
// survives a JSON round trip exactly (so a shrunk case stays replayable).
#include "sim/schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
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
  for (bool store_faults : {false, true}) {
    const Schedule s = DrawSchedule(7, {.store_faults = store_faults});
    EXPECT_EQ(s.store_faults.empty(), !store_faults);
    auto back = ScheduleFromJson(ScheduleToJson(s));
    ASSERT_TRUE(back.has_value()) << back.error().ToString();
    EXPECT_EQ(ScheduleToJson(*back), ScheduleToJson(s));
  }
  // Admission control's depth limit and deadlines (seed 3 draws them).
  const Schedule limited = DrawSchedule(3, {});
  ASSERT_GT(limited.max_depth, 0);
  ASSERT_TRUE(std::any_of(limited.jobs.begin(), limited.jobs.end(),
                          [](const ScheduledJob& j) { return j.deadline_ms > 0; }));
  auto back = ScheduleFromJson(ScheduleToJson(limited));
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(back->max_depth, limited.max_depth);
  EXPECT_EQ(ScheduleToJson(*back), ScheduleToJson(limited));
  // The downstream system's capacity and a brownout.
  Schedule capacity = DrawSchedule(1, {});
  ASSERT_TRUE(capacity.downstream.has_value());
  capacity.downstream->brownouts = {{10, 20}};
  capacity.downstream->slow_factor = 7;
  auto again = ScheduleFromJson(ScheduleToJson(capacity));
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  ASSERT_TRUE(again->downstream.has_value());
  EXPECT_EQ(again->downstream->slow_factor, 7);
  EXPECT_EQ(again->downstream->brownouts.size(), 1u);
  EXPECT_EQ(ScheduleToJson(*again), ScheduleToJson(capacity));
  // A partition, and the job timeouts that come with it.
  Schedule cut = DrawSchedule(3, {.swarm = false, .workers = 3});
  cut.partitions = {{.worker = 2, .from_ms = 7}};
  cut.jobs[0].timeout_ms = 1'234;
  auto cut_back = ScheduleFromJson(ScheduleToJson(cut));
  ASSERT_TRUE(cut_back.has_value()) << cut_back.error().ToString();
  ASSERT_EQ(cut_back->partitions.size(), 1u);
  EXPECT_EQ(cut_back->partitions[0].worker, 2);
  EXPECT_EQ(cut_back->jobs[0].timeout_ms, 1'234);
  EXPECT_EQ(ScheduleToJson(*cut_back), ScheduleToJson(cut));
  // Link faults, one of each.
  Schedule net = DrawSchedule(3, {.swarm = false, .workers = 2});
  net.links = {
      {.worker = 1, .window = {5, 9}, .fault = LinkFault::kLoseRequest},
      {.worker = 0, .window = {1, 2}, .fault = LinkFault::kLoseReply},
      {.worker = 0, .window = {3, 4}, .fault = LinkFault::kDuplicate},
      {.worker = 1, .window = {0, 7}, .fault = LinkFault::kDelay, .delay_ms = 250},
      {.worker = 1, .link = Link::kStore, .window = {2, 3}, .fault = LinkFault::kLoseReply}};
  auto net_back = ScheduleFromJson(ScheduleToJson(net));
  ASSERT_TRUE(net_back.has_value()) << net_back.error().ToString();
  ASSERT_EQ(net_back->links.size(), 5u);
  EXPECT_EQ(net_back->links[4].link, Link::kStore);
  EXPECT_EQ(net_back->links[3].fault, LinkFault::kDelay);
  EXPECT_EQ(net_back->links[3].delay_ms, 250);
  EXPECT_EQ(net_back->links[0].window.to_ms, 9);
  EXPECT_EQ(ScheduleToJson(*net_back), ScheduleToJson(net));
}

TEST(ScheduleTest, ASwarmDrawsADownstreamCapacityInSomeSeedsFromItsOwnStream) {
  int drawn = 0, overloaded = 0, brownouts = 0;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    DrawnConfig c;
    const Schedule s = DrawSchedule(seed, {}, &c);
    EXPECT_EQ(s.downstream.has_value(), c.utilisation > 0) << seed;
    if (!s.downstream) continue;
    ++drawn;
    overloaded += c.utilisation > 1 ? 1 : 0;
    brownouts += s.downstream->brownouts.empty() ? 0 : 1;
    // An idle system answers a caller in time.
    EXPECT_GE(s.downstream->timeout_ms, 2 * s.downstream->service_ms) << seed;
  }
  EXPECT_GT(drawn, 60);
  EXPECT_LT(drawn, 140);
  EXPECT_GT(overloaded, 10);
  EXPECT_GT(brownouts, 20);
  EXPECT_FALSE(DrawSchedule(1, {.swarm = false}).downstream.has_value());
}

TEST(ScheduleTest, StorageFaultsAreDrawnOnlyWhenAskedAndLeaveEveryOtherDrawAsItWas) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Schedule plain = DrawSchedule(seed, {});
    Schedule faulty = DrawSchedule(seed, {.store_faults = true});
    EXPECT_TRUE(plain.store_faults.empty());
    faulty.store_faults.clear();
    EXPECT_EQ(ScheduleToJson(plain), ScheduleToJson(faulty)) << "seed " << seed;
  }
  std::set<StorageFault> kinds;
  std::set<int> actors;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    for (const auto& f : DrawSchedule(seed, {.store_faults = true}).store_faults) {
      kinds.insert(f.fault);
      actors.insert(f.actor);
    }
  }
  EXPECT_EQ(kinds.size(), 6u);  // Every recoverable kind; never kCorrupt.
  EXPECT_FALSE(kinds.contains(StorageFault::kCorrupt));
  EXPECT_TRUE(actors.contains(kSweeperActor));
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

namespace lab {
namespace {

// Seen: hand-edited schedules with a lease near 2^63, negative times, an
// outcome for a missing job or a duplicated key ran 0 events and reported
// "every invariant holds". Every class of bad schedule is refused, in words.
TEST(ScheduleTest, EveryDrawnScheduleIsValid) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    auto valid = ValidateSchedule(DrawSchedule(seed, {.store_faults = seed % 2 == 1}));
    EXPECT_TRUE(valid.has_value()) << "seed " << seed << ": " << valid.error().message;
  }
}

TEST(ScheduleTest, EachClassOfBadScheduleIsRefused) {
  const Schedule good = [] {
    Schedule s = DrawSchedule(3, {.swarm = false, .jobs = 3, .workers = 2});
    s.faults = {{0, 1, FaultKind::kCrash, 1'000}, {1, 2, FaultKind::kSkew, 0, 2.0}};
    s.handlers = {{s.jobs[0].key, 1, HandlerOutcome::kTransient, 0}};
    s.store_faults = {{kSweeperActor, 3, StorageFault::kBusy}, {1, 3, StorageFault::kIoError}};
    return s;
  }();
  ASSERT_TRUE(ValidateSchedule(good).has_value()) << ValidateSchedule(good).error().message;
  struct Case {
    const char* what;
    std::function<void(Schedule&)> spoil;
    const char* says;
  };
  const Case cases[] = {
      {"no workers", [](Schedule& s) { s.workers = 0; }, "workers"},
      {"huge lease", [](Schedule& s) { s.lease_ms = INT64_MAX - 5; }, "lease_ms"},
      {"negative window", [](Schedule& s) { s.fault_window_ms = -1; }, "fault_window_ms"},
      {"huge window", [](Schedule& s) { s.fault_window_ms = kMaxSimTimeMs + 1; }, "fault_window"},
      {"no jobs", [](Schedule& s) { s.jobs.clear(), s.handlers.clear(); }, "number of jobs"},
      {"negative arrival", [](Schedule& s) { s.jobs[1].at_ms = -5; }, "at_ms"},
      {"arrival after the window", [](Schedule& s) { s.jobs[1].at_ms = s.fault_window_ms + 1; },
       "at_ms"},
      {"duplicated key", [](Schedule& s) { s.jobs[2].key = s.jobs[1].key; }, "earlier job"},
      {"bad key", [](Schedule& s) { s.jobs[2].key = "a\tb"; }, "control character"},
      {"zero attempts", [](Schedule& s) { s.jobs[2].max_attempts = 0; }, "max_attempts"},
      {"negative deadline", [](Schedule& s) { s.jobs[2].deadline_ms = -1; }, "deadline_ms"},
      {"negative depth limit", [](Schedule& s) { s.max_depth = -1; }, "max_depth"},
      {"missing worker", [](Schedule& s) { s.faults[0].worker = 2; }, "worker"},
      {"negative step", [](Schedule& s) { s.faults[0].step = -1; }, "step"},
      {"negative duration", [](Schedule& s) { s.faults[0].duration_ms = -1; }, "duration_ms"},
      {"skew rate", [](Schedule& s) { s.faults[1].rate = 0.5; }, "rate"},
      {"duplicated fault", [](Schedule& s) { s.faults[1] = s.faults[0]; }, "already has a fault"},
      {"missing job", [](Schedule& s) { s.handlers[0].job_key = "nope"; }, "no such job"},
      {"unreachable attempt", [](Schedule& s) { s.handlers[0].attempt = 99; }, "attempt"},
      {"duplicated outcome", [](Schedule& s) { s.handlers.push_back(s.handlers[0]); },
       "listed twice"},
      {"unknown store", [](Schedule& s) { s.store = "redis:"; }, "store"},
      {"downstream with no servers",
       [](Schedule& s) { s.downstream = DownstreamCapacity{.concurrency = 0}; }, "concurrency"},
      {"timeout shorter than a service",
       [](Schedule& s) { s.downstream = DownstreamCapacity{.service_ms = 400, .timeout_ms = 100}; },
       "timeout_ms"},
      {"brownout after the window",
       [](Schedule& s) {
         s.downstream =
             DownstreamCapacity{.brownouts = {{s.fault_window_ms, s.fault_window_ms + 10}}};
       },
       "brownout"},
      {"partition of no worker", [](Schedule& s) { s.partitions = {{.worker = 2}}; }, "worker"},
      {"partition after the window",
       [](Schedule& s) { s.partitions = {{.worker = 0, .from_ms = s.fault_window_ms + 1}}; },
       "from_ms"},
      {"worker cut off twice",
       [](Schedule& s) {
         s.partitions = {{.worker = 0}, {.worker = 0, .from_ms = 5}};
       },
       "already cut off"},
      {"every worker cut off",
       [](Schedule& s) {
         s.partitions = {{.worker = 0}, {.worker = 1}};
       },
       "every worker"},
      {"negative timeout", [](Schedule& s) { s.jobs[0].timeout_ms = -1; }, "timeout_ms"},
      {"the control plane's downstream link (it has none without an outbox)",
       [](Schedule& s) {
         s.links = {{.worker = kSweeperActor, .window = {0, 1}}};
       },
       "link 0 worker"},
      {"link fault of no worker",
       [](Schedule& s) {
         s.links = {{.worker = 2, .window = {0, 1}}};
       },
       "link 0 worker"},
      {"link fault after the window",
       [](Schedule& s) {
         s.links = {{.window = {s.fault_window_ms + 1, s.fault_window_ms + 2}}};
       },
       "link 0 from_ms"},
      {"link fault that ends before it starts",
       [](Schedule& s) {
         s.links = {{.window = {5, 5}}};
       },
       "link 0 to_ms"},
      {"delay without a delay",
       [](Schedule& s) {
         s.links = {{.window = {0, 1}, .fault = LinkFault::kDelay}};
       },
       "delay_ms"},
      {"a store link that duplicates",
       [](Schedule& s) {
         s.links = {{.link = Link::kStore, .window = {0, 1}, .fault = LinkFault::kDuplicate}};
       },
       "a store link loses requests or replies"},
      {"delay on a lost reply",
       [](Schedule& s) {
         s.links = {{.window = {0, 1}, .delay_ms = 5}};
       },
       "delay_ms is for a delay"},
      {"brownout that ends before it starts",
       [](Schedule& s) {
         s.downstream = DownstreamCapacity{.brownouts = {{10, 5}}};
       },
       "brownout"},
      {"store fault on no handle", [](Schedule& s) { s.store_faults[1].actor = 2; }, "actor"},
      {"store fault before the first call", [](Schedule& s) { s.store_faults[1].call = 0; },
       "call"},
      {"corrupt data", [](Schedule& s) { s.store_faults[1].fault = StorageFault::kCorrupt; },
       "corrupt"},
      {"duplicated store fault",
       [](Schedule& s) {
         s.store_faults.push_back({1, 3, StorageFault::kBusy});
       },
       "already has a fault"},
  };
  for (const Case& c : cases) {
    Schedule bad = good;
    c.spoil(bad);
    auto r = ValidateSchedule(bad);
    ASSERT_FALSE(r.has_value()) << c.what;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << c.what;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos)
        << c.what << ": " << r.error().message;
    // The same schedule through a file is refused too, never run.
    auto loaded = ScheduleFromJson(ScheduleToJson(bad));
    EXPECT_FALSE(loaded.has_value()) << c.what;
  }
}

TEST(ScheduleTest, NumbersOutOfTheirTypeAreRefused) {
  std::string json = ScheduleToJson(DrawSchedule(3, {.swarm = false, .jobs = 1, .workers = 1}));
  const std::string lease = "\"lease_ms\": ";
  const size_t at = json.find(lease);
  ASSERT_NE(at, std::string::npos);
  const size_t end = json.find(',', at);
  json.replace(at, end - at, lease + "99999999999999999999999");
  auto r = ScheduleFromJson(json);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST(ScheduleTest, RecordedFlagsSurviveTheFile) {
  Schedule s = DrawSchedule(5, {.swarm = false, .jobs = 2, .workers = 1});
  s.guards = "-reaper";
  s.store = "sqlite:";
  s.external_keys = true;
  auto back = ScheduleFromJson(ScheduleToJson(s));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(back->guards, std::optional<std::string>("-reaper"));
  EXPECT_EQ(back->store, std::optional<std::string>("sqlite:"));
  EXPECT_EQ(back->external_keys, std::optional<bool>(true));
}

}  // namespace
}  // namespace lab
