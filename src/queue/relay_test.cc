// Goal: the outbox's relay delivers each committed intent at least once
// under its job's key and marks it delivered only once acknowledged: a lost
// request and a lost answer both leave it pending, the next pass sends it
// again, and a receiver that deduplicates by key holds each effect exactly
// once. A drill that finds a delivered effect missing downstream has it
// delivered again, and then the two agree.
#include "queue/relay.h"

#include <gtest/gtest.h>

#include <set>

#include "core/clock.h"
#include "queue/drill.h"
#include "queue/effect_sink.h"
#include "store/memory_store.h"

namespace lab {
namespace {

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = MakeMemoryStore(clock_); }
  // A job whose handler committed `intent` for the outbox.
  JobId Committed(const std::string& key, const std::string& intent) {
    const JobId id = store_->Enqueue({.key = key})->job_id;
    auto l = store_->Claim({.worker = "w", .max_jobs = 1, .lease_ms = 1'000, .begin = true});
    const LeaseRef ref{l->front().execution_id, l->front().token};
    EXPECT_TRUE(store_->Commit(ref, Effect{intent, /*outbox=*/true}, CommitThen::kFinish));
    return id;
  }
  // The receiver: the request for a key in `lose_request` never arrives;
  // the answer for one in `lose_reply` is lost after it took effect.
  Deliver To(ExternalSystem& receiver) {
    return [&](const EffectRecord& e) -> Result<void> {
      if (lose_request_.erase(e.key) > 0) {
        return MakeError(ErrorCode::kUnavailable, "the request was lost");
      }
      receiver.Apply({.job_id = e.job_id,
                      .key = e.key,
                      .execution_id = e.execution_id,
                      .payload = e.payload,
                      .at_ms = clock_.NowMs(),
                      .from_handler = true});
      if (lose_reply_.erase(e.key) > 0) {
        return MakeError(ErrorCode::kUnavailable, "no answer: the reply was lost");
      }
      return {};
    };
  }
  size_t Pending() { return store_->Outbox(100)->size(); }

  ManualClock clock_{1'000};
  std::unique_ptr<RecordStore> store_;
  std::set<std::string> lose_request_, lose_reply_;
};

TEST_F(RelayTest, ALostRequestAndALostReplyAreSentAgainAndHeldOnce) {
  const JobId a = Committed("mail-1", "to: ann");
  const JobId b = Committed("mail-2", "to: bob");
  const JobId c = Committed("mail-3", "to: cy");
  ExternalSystem receiver(/*honours_keys=*/true, nullptr);
  lose_reply_ = {"default/mail-2"};
  lose_request_ = {"default/mail-3"};
  std::vector<std::string> failed;
  auto first = RelayOnce(*store_, To(receiver), 100,
                         [&](const EffectRecord& e, const Error&) { failed.push_back(e.key); });
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(first->delivered, 1);
  EXPECT_EQ(first->failed, 2);
  EXPECT_EQ(failed, (std::vector<std::string>{"default/mail-2", "default/mail-3"}));
  EXPECT_EQ(Pending(), 2u);
  EXPECT_EQ(receiver.CountFor(b), 1);  // It took effect; its answer was lost.
  EXPECT_EQ(receiver.CountFor(c), 0);

  auto second = RelayOnce(*store_, To(receiver));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->delivered, 2);
  EXPECT_EQ(Pending(), 0u);
  // Sent twice, held once: the receiver deduplicated by the job's key.
  for (JobId job : {a, b, c}) EXPECT_EQ(receiver.CountFor(job), 1) << "job " << job;
  EXPECT_EQ(receiver.log().applied().size(), 3u);  // Four sends arrived; one was a repeat.
  int delivered_entries = 0;
  const Snapshot s = *store_->ReadSnapshot();
  for (const AuditEntry& e : s.audit) {
    delivered_entries += e.event == AuditEvent::kDeliver ? 1 : 0;
  }
  EXPECT_EQ(delivered_entries, 3);
  // Nothing pending: a pass sends nothing.
  EXPECT_EQ(RelayOnce(*store_, To(receiver))->delivered, 0);
}

TEST_F(RelayTest, ADrillHasADeliveredEffectTheReceiverLacksDeliveredAgain) {
  const JobId a = Committed("mail-1", "to: ann");
  const JobId b = Committed("mail-2", "to: bob");
  const JobId c = Committed("mail-3", "to: cy");  // Still pending: in flight, not judged.
  ExternalSystem receiver(/*honours_keys=*/true, nullptr);
  lose_request_ = {"default/mail-3"};
  ASSERT_TRUE(RelayOnce(*store_, To(receiver)).has_value());
  // The receiver lost what it acknowledged for mail-1 (restored from an
  // older backup, say): its report lacks it.
  const std::vector<HeldEffect> held = {{"default/mail-2", "to: bob"}};
  auto report = RunDrill(*store_, held);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  ASSERT_EQ(report->findings.size(), 1u) << report->ToString();
  const DrillFinding& f = report->findings[0];
  EXPECT_EQ(f.job, a);
  EXPECT_EQ(f.kind, Divergence::kMissing);
  EXPECT_TRUE(f.repaired);
  EXPECT_NE(f.detail.find("to be delivered again"), std::string::npos) << f.detail;
  EXPECT_EQ(Pending(), 2u);  // mail-1 again, and mail-3 still.
  ExternalSystem restored(/*honours_keys=*/true, nullptr);
  restored.Apply(
      {.job_id = b, .key = "default/mail-2", .payload = "to: bob", .from_handler = true});
  ASSERT_EQ(RelayOnce(*store_, To(restored))->delivered, 2);
  for (JobId job : {a, b, c}) EXPECT_EQ(restored.CountFor(job), 1) << "job " << job;
  auto again = RunDrill(*store_, HeldEffects(restored.log()));
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->findings.empty()) << again->ToString();
  // Without repair the finding is only recorded: nothing goes pending.
  auto recorded = RunDrill(*store_, {}, {.repair = false});
  ASSERT_TRUE(recorded.has_value());
  EXPECT_EQ(recorded->findings.size(), 3u);
  EXPECT_EQ(Pending(), 0u);
}

}  // namespace
}  // namespace lab
