// Goal: the INV_008 checker finds each way an overloaded queue breaks its
// promise — a job started after its deadline, a queue deeper than its
// limit, an expiry that does not say why — and stays quiet when admission
// control keeps the promise. Method: the same overload run on a memory
// store with the guard on and off, then hand-made records for what the
// store cannot be made to write.
#include "check/latency.h"

#include <gtest/gtest.h>

#include "store/memory_store.h"

namespace lab {
namespace {

constexpr QueueLimit kLimit{.queue = "default", .max_depth = 3};

// Ten jobs offered one every 100 ms, each wanted within 500 ms, a worker
// finishing one every 300 ms: more than the queue can serve in time.
Snapshot Overload(bool admission_control, int* refused = nullptr) {
  ManualClock clock(0);
  auto store = MakeMemoryStore(clock, {.admission_control = admission_control});
  EXPECT_TRUE(store->SetQueueLimit(kLimit).has_value());
  int refusals = 0;
  for (TimeMs t = 0; t < 3'000; t += 100) {
    clock.Set(t);
    if (t < 1'000) {
      auto r = store->Enqueue({.deadline_ms = t + 500});
      if (!r) {
        EXPECT_EQ(r.error().code, ErrorCode::kOverloaded);
        ++refusals;
      }
    }
    if (t % 300 != 0) continue;
    auto leases = store->Claim({.worker = "w", .begin = true});
    EXPECT_TRUE(leases.has_value());
    for (const Lease& l : *leases) {
      EXPECT_TRUE(
          store->Commit({l.execution_id, l.token}, std::nullopt, CommitThen::kFinish).has_value());
    }
  }
  if (refused != nullptr) *refused = refusals;
  return store->ReadSnapshot().value();
}

TEST(BoundedLatencyTest, AdmissionControlKeepsThePromise) {
  int refused = 0;
  const Snapshot s = Overload(/*admission_control=*/true, &refused);
  EXPECT_GT(refused, 0);
  int expired = 0;
  for (const Job& j : s.jobs) expired += j.state == JobState::kExpired ? 1 : 0;
  EXPECT_GT(expired, 0);
  EXPECT_TRUE(CheckBoundedLatency(s, std::span(&kLimit, 1)).empty());
}

TEST(BoundedLatencyTest, WithoutItLateStartsAndAnOverfullQueueAreFound) {
  const Snapshot s = Overload(/*admission_control=*/false);
  const auto v = CheckBoundedLatency(s, std::span(&kLimit, 1));
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].invariant, Invariant::kBoundedLatency);
  EXPECT_NE(v[0].message.find("started after it"), std::string::npos) << v[0].message;
  EXPECT_FALSE(v[0].evidence.empty());
  EXPECT_NE(v[1].message.find("over its limit of 3"), std::string::npos) << v[1].message;
  // Without a limit given, only the late starts are judged.
  EXPECT_EQ(CheckBoundedLatency(s, {}).size(), 1u);
}

TEST(BoundedLatencyTest, ADepthLimitOnAnotherQueueIsNotThisOnes) {
  const Snapshot s = Overload(/*admission_control=*/false);
  const QueueLimit other{.queue = "other", .max_depth = 1};
  const auto v = CheckBoundedLatency(s, std::span(&other, 1));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].message.find("started after it"), std::string::npos);
}

TEST(BoundedLatencyTest, AnExpiryWithoutItsReasonOrItsAuditIsSilent) {
  Snapshot s = Overload(/*admission_control=*/true);
  Job* expired = nullptr;
  for (Job& j : s.jobs) {
    if (j.state == JobState::kExpired) expired = &j;
  }
  ASSERT_NE(expired, nullptr);
  Snapshot no_reason = s;
  for (Job& j : no_reason.jobs) {
    if (j.id == expired->id) j.last_error.clear();
  }
  auto v = CheckBoundedLatency(no_reason, {});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].message.find("without a reason"), std::string::npos) << v[0].message;
  std::erase_if(s.audit, [&](const AuditEntry& a) {
    return a.job_id == expired->id && a.event == AuditEvent::kExpire;
  });
  v = CheckBoundedLatency(s, {});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].message.find("without an audited expiry"), std::string::npos) << v[0].message;
}

}  // namespace
}  // namespace lab
