// Goal: the control plane extends every published lease once a third of it
// is gone and never a lease its thread let go of; it sweeps when due and
// says when it is next due; a lease taken over is counted as fenced.
// Method: one thread, a manual clock, the memory store and the real Worker.
#include "queue/control_plane.h"

#include <gtest/gtest.h>

#include "queue/worker.h"

namespace lab {
namespace {

constexpr DurationMs kLeaseMs = 3'000;

class ControlPlaneTest : public ::testing::Test {
 protected:
  ControlPlaneTest() {
    queue_ = std::move(*Queue::Open("memory:", clock_));
    plane_ = std::make_unique<ControlPlane>(*queue_, book_, CadenceFor(kLeaseMs), std::nullopt);
  }
  // A worker that claims and begins a job, and publishes its lease in slot 0.
  std::unique_ptr<Worker> Running(std::string name) {
    EXPECT_TRUE(queue_->Enqueue({.key = name}).has_value());
    auto w = std::make_unique<Worker>(
        *queue_, [](const JobContext&) { return HandlerResult::Ok(""); },
        WorkerOptions{.name = name, .lease_ms = kLeaseMs});
    EXPECT_TRUE(w->Step().has_value());
    EXPECT_TRUE(w->Step().has_value());
    book_.Publish(0, LeasesOf(*w, kLeaseMs));
    return w;
  }
  TimeMs ExpiryInStore(ExecutionId id) {
    auto detail = queue_->store().InspectJob(1);
    if (!detail) return -1;
    for (const Execution& e : detail->executions) {
      if (e.id == id) return e.lease_expires_at_ms;
    }
    return -1;
  }

  ManualClock clock_{0};
  std::unique_ptr<Queue> queue_;
  LeaseBook book_;
  std::unique_ptr<ControlPlane> plane_;
};

TEST_F(ControlPlaneTest, APublishedLeaseIsExtendedOnceAThirdOfItIsGone) {
  auto w = Running("render");
  const ExecutionId id = w->lease()->execution_id;
  const Cadence c = CadenceFor(kLeaseMs);
  // Not yet due: the first tick only sweeps, and says when the beat is due.
  ControlPlane::Next next = plane_->Tick();
  EXPECT_EQ(plane_->tally().heartbeats, 0);
  EXPECT_EQ(next.at_ms, c.heartbeat_ms);
  EXPECT_FALSE(next.after_error.has_value());
  // Then, each time it is due, for ten leases: the handler never called
  // keep_alive, and the lease never ran out.
  for (int beat = 1; beat <= 30; ++beat) {
    clock_.Set(next.at_ms);
    next = plane_->Tick();
    EXPECT_EQ(plane_->tally().heartbeats, beat);
    EXPECT_EQ(ExpiryInStore(id), clock_.NowMs() + kLeaseMs);
    EXPECT_EQ(book_.ExpiresAt(0), clock_.NowMs() + kLeaseMs);
  }
  EXPECT_EQ(plane_->tally().swept.reaped, 0);
  // Its thread lets it go: no more beats, and none refused.
  book_.Publish(0, {});
  clock_.AdvanceMs(kLeaseMs);
  plane_->Tick();
  EXPECT_EQ(plane_->tally().heartbeats, 30);
  EXPECT_EQ(plane_->tally().fenced + plane_->tally().errors, 0);
}

TEST_F(ControlPlaneTest, ItSweepsOnItsOwnCadenceAndCountsALeaseTakenOverAsFenced) {
  auto w = Running("report");
  const Cadence c = CadenceFor(kLeaseMs);
  // The lease runs out unbeaten (its beat is withheld by publishing it late:
  // the book says it expires now), and the sweep due first reaps it.
  clock_.Set(kLeaseMs + 1);
  book_.Publish(0, {});
  ControlPlane::Next next = plane_->Tick();
  EXPECT_EQ(plane_->tally().swept.reaped, 1);
  EXPECT_EQ(next.at_ms, clock_.NowMs() + c.heartbeat_ms);
  // The book still names it (its thread has not heard yet): the beat is
  // refused as fenced, and the thread learns it at its next call.
  book_.Publish(0, LeasesOf(*w, kLeaseMs));
  plane_->Tick();
  EXPECT_EQ(plane_->tally().fenced, 1);
  EXPECT_EQ(plane_->tally().heartbeats, 0);
  EXPECT_EQ(plane_->tally().errors, 0);
  // Not beaten again while its thread computes on, though republished:
  // each refusal would be one more audit entry.
  const size_t audit = queue_->store().ReadSnapshot()->audit.size();
  for (int tick = 0; tick < 5; ++tick) {
    clock_.AdvanceMs(c.heartbeat_ms);
    book_.Publish(0, LeasesOf(*w, kLeaseMs));
    plane_->Tick();
  }
  EXPECT_EQ(plane_->tally().fenced, 1);
  EXPECT_EQ(queue_->store().ReadSnapshot()->audit.size(), audit);
  auto step = w->Step();  // The handler ran; the commit is refused.
  ASSERT_TRUE(step.has_value());
  step = w->Step();
  ASSERT_TRUE(step.has_value());
  EXPECT_EQ(step->kind, StepKind::kFenced);
}

TEST(LeaseBookTest, APublishedLeaseKeepsTheLaterExpiryAndSlotsAreSeparate) {
  LeaseBook book;
  EXPECT_EQ(book.ExpiresAt(0), 0);
  book.Publish(0, {{.ref = {1, 1}, .lease_ms = 100, .expires_at_ms = 100}});
  book.Publish(1, {{.ref = {2, 1}, .lease_ms = 100, .expires_at_ms = 50},
                   {.ref = {3, 1}, .lease_ms = 100, .expires_at_ms = 70}});
  book.Extended({1, 1}, 400);
  EXPECT_EQ(book.ExpiresAt(0), 400);
  EXPECT_EQ(book.ExpiresAt(1), 50);  // The first of its leases to end.
  // Its thread republishes what it knew (an older expiry): the later stays.
  book.Publish(0, {{.ref = {1, 1}, .lease_ms = 100, .expires_at_ms = 100}});
  EXPECT_EQ(book.ExpiresAt(0), 400);
  EXPECT_TRUE(book.Holds({3, 1}));
  EXPECT_FALSE(book.Holds({3, 2}));  // Another token is another lease.
  book.Publish(1, {});
  EXPECT_FALSE(book.Holds({3, 1}));
  EXPECT_EQ(book.All().size(), 1u);
}

}  // namespace
}  // namespace lab
