// Goal: the simulated downstream system serves its capacity, makes the
// line wait, lets callers give up while it still does their work, refuses
// during an outage and slows down in a brownout, all by the clock it is
// given.
#include "sim/downstream.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

// Four at a time, 400 ms each (ten a second); callers wait one second.
Downstream Make(std::vector<TimeWindow> outages = {}, std::vector<TimeWindow> brownouts = {}) {
  return Downstream({.concurrency = 4,
                     .service_ms = 400,
                     .timeout_ms = 1'000,
                     .outages = std::move(outages),
                     .brownouts = std::move(brownouts)});
}

TEST(DownstreamTest, TheLineWaitsAndACallerPastItsTimeoutLeavesItsWorkBehind) {
  Downstream d = Make();
  std::vector<CallReply> replies;
  for (int i = 0; i < 12; ++i) replies.push_back(d.Call(0, i + 1, i + 1, "w0#0"));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(replies[i].reply_at_ms, 400);
  for (int i = 4; i < 8; ++i) EXPECT_EQ(replies[i].reply_at_ms, 800);
  for (int i = 8; i < 12; ++i) {
    EXPECT_EQ(replies[i].outcome, CallOutcome::kTimedOut);
    EXPECT_EQ(replies[i].reply_at_ms, 1'000);  // The caller gave up ...
  }
  EXPECT_EQ(d.Backlog(1'000), 4);  // ... but its request is still being served,
  EXPECT_EQ(d.Backlog(1'200), 0);
  ASSERT_EQ(d.seconds().size(), 2u);
  EXPECT_EQ(d.seconds()[0].calls, 12);
  EXPECT_EQ(d.seconds()[0].ok, 8);
  EXPECT_EQ(d.seconds()[1].wasted, 4);  // ... for nobody.
  // A new call waits for the wasted work too.
  EXPECT_EQ(d.Call(1'000, 13, 13, "w0#0").reply_at_ms, 1'600);
  EXPECT_EQ(d.calls().size(), 13u);
}

TEST(DownstreamTest, AnOutageRefusesAtOnceAndABrownoutSlowsEveryRequest) {
  Downstream d = Make({{1'000, 2'000}}, {{5'000, 6'000}});
  const CallReply refused = d.Call(1'500, 1, 1, "w0#0");
  EXPECT_EQ(refused.outcome, CallOutcome::kRefused);
  EXPECT_EQ(refused.reply_at_ms, 1'500);
  EXPECT_EQ(d.Backlog(1'500), 0);                                    // It cost nothing.
  EXPECT_EQ(d.Call(2'000, 2, 2, "w0#0").outcome, CallOutcome::kOk);  // Back at its end.
  const CallReply slow = d.Call(5'500, 3, 3, "w0#0");
  EXPECT_EQ(slow.outcome, CallOutcome::kTimedOut);  // 4 s of work against a 1 s timeout.
  EXPECT_EQ(d.Backlog(9'000), 1);
  EXPECT_EQ(d.Backlog(9'500), 0);
  EXPECT_EQ(ToString(CallOutcome::kRefused), "refused");
}

}  // namespace
}  // namespace lab
