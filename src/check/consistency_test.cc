// Goal: the whole-state check finds nothing in the records of a clean run
// and names each planted inconsistency: an orphan execution, a second
// ledger effect under the commit boundary, a backwards audit sequence, and
// an illegal transition while fencing is on (but not while it is off,
// when the engine records illegal moves on purpose for INV_003 to find).
#include "check/consistency.h"

#include <gtest/gtest.h>

#include "queue/worker.h"

namespace lab {
namespace {

Snapshot CleanRun() {
  ManualClock clock(0);
  auto queue = std::move(*Queue::Open("memory:", clock));
  EffectLog sink;
  Worker w(
      *queue, [](const JobContext&) { return HandlerResult::Ok("e"); },
      WorkerOptions{.lease_ms = 1'000}, &sink);
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(queue->Enqueue({}).has_value());
  while (*w.ProcessOne()) {
  }
  return *queue->store().ReadSnapshot();
}

bool Mentions(const std::vector<std::string>& problems, std::string_view needle) {
  for (const auto& p : problems) {
    if (p.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(ConsistencyTest, ACleanRunIsConsistent) {
  const auto problems = FindInconsistencies(CleanRun(), Guards::All());
  for (const auto& p : problems) ADD_FAILURE() << p;
}

TEST(ConsistencyTest, EachPlantedInconsistencyIsNamed) {
  Snapshot s = CleanRun();
  s.executions[1].job_id = 99;
  EXPECT_TRUE(Mentions(FindInconsistencies(s, Guards::None()), "belongs to no job (99)"));

  s = CleanRun();
  s.effects.push_back(s.effects[0]);
  EXPECT_TRUE(Mentions(FindInconsistencies(s, Guards::All()), "2 ledger effects"));
  EXPECT_FALSE(Mentions(FindInconsistencies(s, *Guards::Parse("-commit_boundary")), "ledger"));

  s = CleanRun();
  s.audit[3].seq = 1;
  EXPECT_TRUE(Mentions(FindInconsistencies(s, Guards::None()), "audit seq 1 after"));

  s = CleanRun();
  for (auto& a : s.audit) {
    if (a.event == AuditEvent::kBegin) a.to = "DONE";
  }
  EXPECT_TRUE(Mentions(FindInconsistencies(s, Guards::All()), "with fencing on"));
  EXPECT_FALSE(Mentions(FindInconsistencies(s, *Guards::Parse("-fencing")), "fencing"));
}

}  // namespace
}  // namespace lab
