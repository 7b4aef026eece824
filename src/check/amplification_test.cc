// Goal: the INV_007 checker holds a caller's retries to the retry budget's
// bound, window by window and caller by caller, and fires, naming the
// caller and the window, the moment one retry goes over.
#include "check/amplification.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

// A floor of 2 and half the first calls, over 1 s in four slices of 250 ms.
constexpr RetryBudgetOptions kBudget{
    .ratio = 0.5, .floor_per_window = 2, .window_ms = 1'000, .buckets = 4};

// `n` calls by `caller` for jobs first..first+n-1, `step_ms` apart from `at`.
void Calls(std::vector<DownstreamCall>& log, const std::string& caller, JobId first, int n,
           TimeMs at, DurationMs step_ms = 0) {
  for (int i = 0; i < n; ++i) log.push_back({at + i * step_ms, first + i, caller});
}

struct Case {
  const char* name;
  std::vector<DownstreamCall> calls;
  bool violated;
};

std::vector<Case> Cases() {
  std::vector<Case> cases;
  {
    Case c{"floor plus half of four firsts: four retries pass", {}, false};
    Calls(c.calls, "w0#0", 1, 4, 0);
    Calls(c.calls, "w0#0", 1, 4, 100, 50);  // Jobs 1-4 again.
    cases.push_back(std::move(c));
  }
  {
    Case c{"a fifth retry in the same window fires", {}, true};
    Calls(c.calls, "w0#0", 1, 4, 0);
    Calls(c.calls, "w0#0", 1, 4, 100, 50);
    Calls(c.calls, "w0#0", 1, 1, 400);
    cases.push_back(std::move(c));
  }
  {
    Case c{"the floor alone: two retries a window, for ten windows, pass", {}, false};
    Calls(c.calls, "w0#0", 1, 1, 0);
    for (int w = 0; w < 10; ++w) Calls(c.calls, "w0#0", 1, 2, 1'000 * (w + 1), 0);
    cases.push_back(std::move(c));
  }
  {
    Case c{"three retries within one window, its slices apart, fire", {}, true};
    Calls(c.calls, "w0#0", 1, 1, 0);
    for (TimeMs at : {5'000, 5'300, 5'700}) Calls(c.calls, "w0#0", 1, 1, at);
    cases.push_back(std::move(c));
  }
  {
    Case c{"three retries across two windows (the first's slice has left) pass", {}, false};
    Calls(c.calls, "w0#0", 1, 1, 0);
    for (TimeMs at : {5'000, 5'300, 6'000}) Calls(c.calls, "w0#0", 1, 1, at);
    cases.push_back(std::move(c));
  }
  {
    Case c{"two callers each within their budget pass, whatever the total", {}, false};
    Calls(c.calls, "w0#0", 1, 1, 0);
    Calls(c.calls, "w1#0", 2, 1, 0);
    Calls(c.calls, "w0#0", 1, 1, 10);
    Calls(c.calls, "w1#0", 2, 1, 10);
    Calls(c.calls, "w0#0", 2, 1, 20);
    Calls(c.calls, "w1#0", 1, 1, 20);
    cases.push_back(std::move(c));
  }
  {
    Case c{"a job first called by one caller is a retry for any other", {}, true};
    Calls(c.calls, "w0#0", 1, 3, 0);
    Calls(c.calls, "w1#1", 1, 3, 10);  // A new incarnation has no firsts of its own.
    cases.push_back(std::move(c));
  }
  return cases;
}

TEST(AmplificationTest, RetriesAreHeldToTheBudgetsBoundPerCallerAndWindow) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    const auto found = CheckBoundedAmplification(c.calls, kBudget);
    EXPECT_EQ(!found.empty(), c.violated);
    for (const Violation& v : found) {
      EXPECT_EQ(v.invariant, Invariant::kBoundedAmplification);
      EXPECT_NE(v.message.find("over its budget"), std::string::npos) << v.message;
      EXPECT_FALSE(v.evidence.empty());
    }
  }
}

TEST(AmplificationTest, NamesTheCallerAndTheWindowItWentOverIn) {
  std::vector<DownstreamCall> calls;
  Calls(calls, "w0#0", 1, 4, 0);
  Calls(calls, "w3#2", 1, 4, 2'000, 10);
  const auto found = CheckBoundedAmplification(calls, kBudget);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].message.find("w3#2 made 3 retries"), std::string::npos) << found[0].message;
  EXPECT_EQ(found[0].job_id, 3);
  EXPECT_EQ(found[0].evidence.size(), 3u);
}

}  // namespace
}  // namespace lab
