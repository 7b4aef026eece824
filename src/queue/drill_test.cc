// Goal: the reconciliation drill classifies every difference between the
// queue and what a downstream system holds (extra, missing, mismatched),
// repairs a dead letter by a redrive, records each finding in the job's
// audit trail, leaves agreeing and in-flight jobs alone, and turns a
// refused redrive (a full queue) into a recorded finding, not an error.
#include "queue/drill.h"

#include <gtest/gtest.h>

#include "core/clock.h"
#include "store/memory_store.h"

namespace lab {
namespace {

class DrillTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = MakeMemoryStore(clock_); }
  // A job that ends as `state` ("DEAD": one attempt failed; "SUCCEEDED":
  // committed with `effect` in the ledger, if any; "PENDING": untouched).
  JobId Job(const std::string& key, JobState state, std::optional<std::string> effect = {}) {
    const JobId id = store_->Enqueue({.key = key, .max_attempts = 1})->job_id;
    if (state == JobState::kPending) return id;
    auto l = store_->Claim({.worker = "w", .max_jobs = 1, .lease_ms = 1'000, .begin = true});
    const LeaseRef ref{l->front().execution_id, l->front().token};
    if (state == JobState::kDead) {
      EXPECT_TRUE(store_->Fail(ref, {.error = "connection reset"}).has_value());
    } else {
      const std::optional<Effect> e =
          effect ? std::optional<Effect>(Effect{*effect}) : std::nullopt;
      EXPECT_TRUE(store_->Commit(ref, e, CommitThen::kFinish).has_value());
    }
    return id;
  }
  size_t Findings(JobId job) {
    size_t n = 0;
    const Snapshot s = *store_->ReadSnapshot();
    for (const AuditEntry& a : s.audit) {
      n += a.event == AuditEvent::kDrill && a.job_id == job ? 1 : 0;
    }
    return n;
  }

  ManualClock clock_{1'000};
  std::unique_ptr<RecordStore> store_;
};

TEST_F(DrillTest, ClassifiesRepairsAndRecordsEveryDifference) {
  const JobId charged_dead = Job("charge-1", JobState::kDead);   // Held downstream: extra.
  const JobId plain_dead = Job("charge-2", JobState::kDead);     // Not held: agrees.
  const JobId agreeing = Job("charge-3", JobState::kSucceeded);  // Its handler called out.
  const JobId mismatched = Job("mail-5", JobState::kSucceeded, "to: ann");
  const JobId missing = Job("mail-6", JobState::kSucceeded, "to: bob");
  const JobId in_flight = Job("charge-4", JobState::kPending);  // Held, not judged yet.
  const std::vector<HeldEffect> held = {{"default/charge-1", "charged 10"},
                                        {"default/charge-3", "charged 30"},
                                        {"default/charge-4", "charged 40"},
                                        {"default/mail-5", "to: eve"},
                                        {"someone-else/x", "?"}};
  auto report = RunDrill(*store_, held, {.ledger_delivered = true});
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->held, 5);
  EXPECT_EQ(report->unknown, 1);
  ASSERT_EQ(report->findings.size(), 3u) << report->ToString();
  std::map<JobId, DrillFinding> by_job;
  for (const DrillFinding& f : report->findings) by_job.emplace(f.job, f);
  EXPECT_EQ(by_job.at(charged_dead).kind, Divergence::kExtra);
  EXPECT_TRUE(by_job.at(charged_dead).repaired);
  EXPECT_EQ(by_job.at(mismatched).kind, Divergence::kMismatched);
  EXPECT_EQ(by_job.at(missing).kind, Divergence::kMissing);
  EXPECT_FALSE(by_job.at(missing).repaired);
  // Redriven, and each finding recorded on its job.
  EXPECT_EQ(store_->GetJob(charged_dead)->state, JobState::kPending);
  EXPECT_EQ(store_->GetJob(plain_dead)->state, JobState::kDead);
  for (JobId job : {charged_dead, mismatched, missing}) EXPECT_EQ(Findings(job), 1u) << job;
  for (JobId job : {plain_dead, agreeing, in_flight}) EXPECT_EQ(Findings(job), 0u) << job;
  EXPECT_NE(report->ToString().find("3 finding(s), 1 repaired"), std::string::npos)
      << report->ToString();
  // Without the ledger delivered, a ledger effect is not missing anywhere.
  auto again = RunDrill(*store_, held);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->findings.size(), 1u);  // The mismatch, still there.
}

TEST_F(DrillTest, ARedriveAFullQueueRefusesIsRecordedAndTriedAgainLater) {
  const JobId dead = Job("charge-1", JobState::kDead);
  Job("charge-2", JobState::kPending);
  ASSERT_TRUE(store_->SetQueueLimit({.queue = "default", .max_depth = 1}).has_value());
  const std::vector<HeldEffect> held = {{"default/charge-1", "charged"}};
  auto report = RunDrill(*store_, held);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  ASSERT_EQ(report->findings.size(), 1u);
  EXPECT_FALSE(report->findings[0].repaired);
  EXPECT_NE(report->findings[0].detail.find("redrive refused"), std::string::npos);
  EXPECT_EQ(store_->GetJob(dead)->state, JobState::kDead);
  EXPECT_EQ(Findings(dead), 2u);  // What it saw, and why it could not repair it.
  ASSERT_TRUE(store_->SetQueueLimit({.queue = "default", .max_depth = 0}).has_value());
  report = RunDrill(*store_, held);
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->findings[0].repaired);
  EXPECT_EQ(store_->GetJob(dead)->state, JobState::kPending);
}

}  // namespace
}  // namespace lab
