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
  return Downstream({.capacity = DownstreamCapacity{.concurrency = 4,
                                                    .service_ms = 400,
                                                    .timeout_ms = 1'000,
                                                    .brownouts = std::move(brownouts)},
                     .outages = std::move(outages)});
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
  // The timed-out calls are the failed ones (what a breaker counts).
  for (int i = 0; i < 13; ++i) EXPECT_EQ(d.calls()[i].failed, i >= 8 && i < 12) << i;
  EXPECT_EQ(d.seconds()[0].failed, 4);
}

TEST(DownstreamTest, AnAnswerThatIsAnErrorIsAFailedCallAndNotGoodput) {
  Downstream d = Make();
  d.Call(0, 1, 1, "w0#0");
  d.Call(0, 2, 2, "w0#0");
  d.Fail(1);
  EXPECT_FALSE(d.calls()[0].failed);
  EXPECT_TRUE(d.calls()[1].failed);
  EXPECT_EQ(d.seconds()[0].ok, 1);
  EXPECT_EQ(d.seconds()[0].failed, 1);
}

// A repeated call (under a key the system holds an effect for) is answered
// from the system's record at the door: at once, with no server taken,
// however long the line.
TEST(DownstreamTest, ARepeatIsAnsweredAtOnceWhateverTheLine) {
  Downstream d(DownstreamOptions{
      .capacity = DownstreamCapacity{.concurrency = 1, .service_ms = 100, .timeout_ms = 150}});
  d.Call(0, 1, 1, "w0#0");
  d.Call(0, 2, 2, "w0#0");
  const CallReply late = d.Call(0, 3, 3, "w0#0");
  EXPECT_EQ(late.outcome, CallOutcome::kTimedOut);
  const CallReply repeat = d.Call(0, 4, 4, "w0#0", /*repeat=*/true);
  EXPECT_EQ(repeat.outcome, CallOutcome::kOk);
  EXPECT_EQ(repeat.reply_at_ms, 0);
  EXPECT_EQ(d.Backlog(0), 3);  // The repeat took no place in the line.
}

// The network's part: a lost request is its caller's call (failed, heard
// at its timeout) that the system never saw; a duplicated one is served
// twice, the copy marked as the network's; a late answer is heard late.
TEST(DownstreamTest, LostRequestsDuplicatesAndLateAnswersAreLoggedAsWhatTheyAre) {
  Downstream d = Make();
  d.Lost(0, 1, 1, "w0#0", 5'000);
  d.Call(100, 2, 2, "w0#0");
  d.Call(100, 2, 2, "w0#0");
  d.MarkLastDuplicate();
  d.HeardAt(1, 900);
  ASSERT_EQ(d.calls().size(), 3u);
  EXPECT_TRUE(d.calls()[0].lost && d.calls()[0].failed);
  EXPECT_EQ(d.calls()[0].answered_at_ms, 5'000);
  EXPECT_FALSE(d.calls()[1].duplicate);
  EXPECT_TRUE(d.calls()[2].duplicate);
  EXPECT_EQ(d.calls()[1].answered_at_ms, 900);
  // The system saw two requests, both answered in time.
  EXPECT_EQ(d.seconds()[0].calls, 2);
  EXPECT_EQ(d.seconds()[0].ok, 2);
}

TEST(DownstreamTest, WithoutACapacityEveryCallIsAnsweredAtOnceOutagesAside) {
  Downstream d({.outages = {{1'000, 2'000}}});
  for (int i = 0; i < 100; ++i) {
    const CallReply r = d.Call(500, i + 1, i + 1, "w0#0");
    EXPECT_EQ(r.outcome, CallOutcome::kOk);
    EXPECT_EQ(r.reply_at_ms, 500);
  }
  EXPECT_EQ(d.Backlog(500), 0);
  EXPECT_EQ(d.Call(1'500, 101, 101, "w0#0").outcome, CallOutcome::kRefused);
  EXPECT_TRUE(d.calls().back().failed);
  EXPECT_EQ(d.seconds()[0].ok, 100);
  EXPECT_EQ(d.seconds()[1].failed, 1);
}

TEST(DownstreamTest, AnOutageRefusesAtOnceAndABrownoutSlowsEveryRequest) {
  Downstream d = Make({{1'000, 2'000}}, {{5'000, 6'000}});
  const CallReply refused = d.Call(1'500, 1, 1, "w0#0");
  EXPECT_EQ(refused.outcome, CallOutcome::kRefused);
  EXPECT_EQ(refused.reply_at_ms, 1'500);
  EXPECT_TRUE(d.calls().back().failed);
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
