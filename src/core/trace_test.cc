// Goal: the timeline renders times relative to the first event and names
// only the ids an event carries.
#include "core/trace.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

TEST(TraceTest, TimelineIsRelativeToFirstEvent) {
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
  EXPECT_NE(text.find("+0.000s"), std::string::npos);
  EXPECT_NE(text.find("+31.000s"), std::string::npos);
  EXPECT_NE(text.find("job=1 exec=1 token=1"), std::string::npos);
  // The reaper line names no job.
  const auto second = text.substr(text.find('\n') + 1);
  EXPECT_EQ(second.find("job="), std::string::npos);
}

}  // namespace
}  // namespace lab
