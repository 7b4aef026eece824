// Goal: the timeline renders times from the run clock's zero, as every
// checker's evidence does (one time origin), and names only the ids an
// event carries.
#include "core/trace.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

TEST(TraceTest, TimelineUsesTheRunClocksZeroAsEvidenceDoes) {
  VectorTraceSink sink;
  sink.Emit({.time_ms = 5'000,
             .actor = "worker-A",
             .event = "claim",
             .job = 1,
             .execution = 1,
             .token = 1,
             .result = "ok"});
  sink.Emit({.time_ms = 36'000, .actor = "reaper", .event = "reap", .result = "1 aborted"});
  const std::string text = FormatTimeline(sink.events());
  EXPECT_NE(text.find(RunTime(5'000)), std::string::npos);
  EXPECT_NE(text.find(RunTime(36'000)), std::string::npos);
  EXPECT_EQ(RunTime(36'000), "+36.000s");
  EXPECT_EQ(RunTime(1'234'567), "+1234.567s");
  EXPECT_EQ(RunTime(-1'500), "-1.500s");
  EXPECT_NE(text.find("job=1 exec=1 token=1"), std::string::npos);
  // The reaper line names no job.
  const auto second = text.substr(text.find('\n') + 1);
  EXPECT_EQ(second.find("job="), std::string::npos);
}

}  // namespace
}  // namespace lab
