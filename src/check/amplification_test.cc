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

// The downstream system's log, and the store's record of the executions
// that made the calls.
struct Log {
  Snapshot snapshot;
  std::vector<DownstreamCall> calls;

  // A new execution of `job` (its next attempt), which calls at `at`.
  void Call(const std::string& caller, JobId job, TimeMs at) {
    int attempt = 1;
    for (const Execution& e : snapshot.executions) attempt += e.job_id == job ? 1 : 0;
    const auto id = static_cast<ExecutionId>(snapshot.executions.size() + 1);
    snapshot.executions.push_back({.id = id, .job_id = job, .attempt = attempt});
    calls.push_back({at, job, id, caller});
  }
  // `n` calls by `caller` for jobs first..first+n-1, `step_ms` apart from `at`.
  void Calls(const std::string& caller, JobId first, int n, TimeMs at, DurationMs step_ms = 0) {
    for (int i = 0; i < n; ++i) Call(caller, first + i, at + i * step_ms);
  }
};

struct Case {
  const char* name;
  Log log;
  bool violated;
};

std::vector<Case> Cases() {
  std::vector<Case> cases;
  {
    Case c{"floor plus half of four firsts: four retries pass", {}, false};
    c.log.Calls("w0#0", 1, 4, 0);
    c.log.Calls("w0#0", 1, 4, 100, 50);  // Jobs 1-4 again.
    cases.push_back(std::move(c));
  }
  {
    Case c{"a fifth retry in the same window fires", {}, true};
    c.log.Calls("w0#0", 1, 4, 0);
    c.log.Calls("w0#0", 1, 4, 100, 50);
    c.log.Calls("w0#0", 1, 1, 400);
    cases.push_back(std::move(c));
  }
  {
    Case c{"the floor alone: two retries a window, for ten windows, pass", {}, false};
    c.log.Calls("w0#0", 1, 1, 0);
    for (int w = 0; w < 10; ++w) c.log.Calls("w0#0", 1, 2, 1'000 * (w + 1), 0);
    cases.push_back(std::move(c));
  }
  {
    Case c{"three retries within one window, its slices apart, fire", {}, true};
    c.log.Calls("w0#0", 1, 1, 0);
    for (TimeMs at : {5'000, 5'300, 5'700}) c.log.Calls("w0#0", 1, 1, at);
    cases.push_back(std::move(c));
  }
  {
    Case c{"three retries across two windows (the first's slice has left) pass", {}, false};
    c.log.Calls("w0#0", 1, 1, 0);
    for (TimeMs at : {5'000, 5'300, 6'000}) c.log.Calls("w0#0", 1, 1, at);
    cases.push_back(std::move(c));
  }
  {
    Case c{"two callers each within their budget pass, whatever the total", {}, false};
    c.log.Calls("w0#0", 1, 1, 0);
    c.log.Calls("w1#0", 2, 1, 0);
    c.log.Calls("w0#0", 1, 1, 10);
    c.log.Calls("w1#0", 2, 1, 10);
    c.log.Calls("w0#0", 2, 1, 20);
    c.log.Calls("w1#0", 1, 1, 20);
    cases.push_back(std::move(c));
  }
  {
    Case c{"a job's later execution retries, whoever runs it", {}, true};
    c.log.Calls("w0#0", 1, 3, 0);
    c.log.Calls("w1#1", 1, 3, 10);  // A new incarnation has no firsts of its own.
    cases.push_back(std::move(c));
  }
  {
    Case c{"a first execution calling late, after a retry, is still a first call", {}, false};
    c.log.Calls("w0#0", 1, 3, 0);   // Executions 1-3.
    c.log.Calls("w1#0", 1, 3, 10);  // Retries 4-6: w1's third is over its floor of 2 ...
    c.log.calls.pop_back();
    c.log.snapshot.executions.pop_back();
    // ... so it made two; then w0's first executions call again (zombies).
    for (ExecutionId e = 1; e <= 3; ++e) c.log.calls.push_back({20, e, e, "w0#0"});
    cases.push_back(std::move(c));
  }
  {
    Case c{"an execution put back unrun is no one's first: the next one is", {}, false};
    c.log.Calls("w0#0", 1, 1, 0);
    c.log.calls.pop_back();  // Execution 1 was deferred before it called.
    c.log.snapshot.audit.push_back({.job_id = 1, .execution_id = 1, .event = AuditEvent::kDefer});
    c.log.Calls("w0#0", 1, 1, 100);                              // Execution 2: the first call.
    for (int i = 0; i < 2; ++i) c.log.Calls("w0#0", 1, 1, 200);  // Two retries: the floor.
    cases.push_back(std::move(c));
  }
  return cases;
}

TEST(AmplificationTest, RetriesAreHeldToTheBudgetsBoundPerCallerAndWindow) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    const auto found = CheckBoundedAmplification(c.log.snapshot, c.log.calls, kBudget);
    EXPECT_EQ(!found.empty(), c.violated);
    for (const Violation& v : found) {
      EXPECT_EQ(v.invariant, Invariant::kBoundedAmplification);
      EXPECT_NE(v.message.find("over its budget"), std::string::npos) << v.message;
      EXPECT_FALSE(v.evidence.empty());
    }
  }
}

TEST(AmplificationTest, NamesTheCallerAndTheWindowItWentOverIn) {
  Log log;
  log.Calls("w0#0", 1, 4, 0);
  log.Calls("w3#2", 1, 4, 2'000, 10);
  const auto found = CheckBoundedAmplification(log.snapshot, log.calls, kBudget);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].message.find("w3#2 made 3 retries"), std::string::npos) << found[0].message;
  EXPECT_EQ(found[0].job_id, 3);
  EXPECT_EQ(found[0].evidence.size(), 3u);
}

// A caller keeps off a failing system: with a breaker that opens on half of
// four calls for a second, then one probe, a caller that waits out the
// open second and probes once holds; one that calls on fires, naming the
// call and showing the failures before it; each caller (each incarnation)
// is judged with a breaker of its own.
TEST(BreakerKeptTest, ACallerThatCallsOnIntoAFailingSystemIsFound) {
  constexpr BreakerOptions kOpensFast{.failure_ratio = 0.5,
                                      .min_calls = 4,
                                      .window_ms = 2'000,
                                      .buckets = 4,
                                      .open_ms = 1'000,
                                      .probes = 1};
  const auto call = [](TimeMs at, JobId job, bool failed, std::string caller = "w0#0") {
    return DownstreamCall{
        .at_ms = at, .job_id = job, .execution_id = job, .caller = caller, .failed = failed};
  };
  // Four failures open it at 300; it waits to 1,300, probes (fails), waits
  // to 2,400, probes (succeeds) and closes.
  std::vector<DownstreamCall> kept = {call(0, 1, true),      call(100, 2, true),
                                      call(200, 3, false),   call(300, 4, true),
                                      call(1'300, 5, true),  call(2'400, 6, false),
                                      call(2'500, 7, false), call(2'500, 8, true, "w0#1")};
  EXPECT_TRUE(CheckBreakerKept(kept, kOpensFast).empty());
  // The same, calling on at 400: while open.
  std::vector<DownstreamCall> on = kept;
  on.insert(on.begin() + 4, call(400, 9, true));
  auto found = CheckBreakerKept(on, kOpensFast);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].invariant, Invariant::kBoundedAmplification);
  EXPECT_EQ(found[0].job_id, 9);
  EXPECT_NE(found[0].message.find("w0#0 called the downstream system at +0.400s for job 9 while "
                                  "its circuit breaker was open"),
            std::string::npos)
      << found[0].message;
  EXPECT_EQ(found[0].evidence.size(), 4u);
  // A call right after the probe failed: open again, for another second.
  std::vector<DownstreamCall> probes = kept;
  probes.insert(probes.begin() + 5, call(1'301, 10, false));
  found = CheckBreakerKept(probes, kOpensFast);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].job_id, 10);
  EXPECT_NE(found[0].message.find("(opened 2 time(s))"), std::string::npos) << found[0].message;
  // A new incarnation starts closed: its calls are its own.
  std::vector<DownstreamCall> reborn = kept;
  reborn.insert(reborn.begin() + 4, call(400, 9, true, "w0#1"));
  EXPECT_TRUE(CheckBreakerKept(reborn, kOpensFast).empty());
  // Outcomes count from when their caller heard them: with the fourth
  // failure heard at 350, a call at 320 (its answer a long way off) went
  // before anyone knew; one at 360 did not.
  std::vector<DownstreamCall> late(kept.begin(), kept.begin() + 4);
  late[3].answered_at_ms = 350;
  late.push_back(call(320, 11, false));
  late.back().answered_at_ms = 5'000;
  EXPECT_TRUE(CheckBreakerKept(late, kOpensFast).empty());
  late.push_back(call(360, 12, false));
  found = CheckBreakerKept(late, kOpensFast);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].job_id, 12);
}

}  // namespace
}  // namespace lab
