// Goal: the liveness checker holds when every job is terminal and fires,
// with a reason, on each way a job can be stuck.
#include "check/liveness.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

Snapshot OneJob(JobState state, std::optional<Execution> exec = std::nullopt) {
  Snapshot s;
  s.jobs.push_back(Job{.id = 1, .state = state});
  if (exec) s.executions.push_back(*exec);
  return s;
}

TEST(LivenessTest, TerminalJobsHold) {
  EXPECT_TRUE(CheckLiveness(OneJob(JobState::kSucceeded), 100).empty());
  EXPECT_TRUE(CheckLiveness(OneJob(JobState::kDead), 100).empty());
}

TEST(LivenessTest, UnreapedExpiredLeaseIsNamed) {
  auto vs = CheckLiveness(
      OneJob(JobState::kRunning,
             Execution{
                 .id = 7, .job_id = 1, .state = ExecState::kInProgress, .lease_expires_at_ms = 50}),
      100);
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_EQ(vs[0].invariant, Invariant::kLiveness);
  EXPECT_NE(vs[0].message.find("never reaped"), std::string::npos) << vs[0].message;
}

TEST(LivenessTest, UnfinalizedCommitIsNamed) {
  auto vs = CheckLiveness(
      OneJob(JobState::kRunning,
             Execution{
                 .id = 7, .job_id = 1, .state = ExecState::kCommitted, .lease_expires_at_ms = 50}),
      100);
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_NE(vs[0].message.find("never finalized"), std::string::npos) << vs[0].message;
}

TEST(LivenessTest, ReadyPendingJobIsNamed) {
  auto vs = CheckLiveness(OneJob(JobState::kPending), 100);
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_NE(vs[0].message.find("no worker ran it"), std::string::npos);
}

// Once quiet, a lease taken from a live worker is named; one claimed
// before the quiet time, one that ended otherwise, one its worker deferred
// or one that died with its worker is not.
TEST(LivenessTest, ALeaseLostOnceQuietIsNamedUnlessItsWorkerDied) {
  const Execution lost{.id = 7,
                       .job_id = 1,
                       .worker = "w2",
                       .state = ExecState::kAborted,
                       .leased_at_ms = 1'000,
                       .reason = "lease expired at 4000 (attempt 1)"};
  auto vs = CheckLeasesKeptOnceQuiet(OneJob(JobState::kPending, lost), 1'000, {});
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_EQ(vs[0].invariant, Invariant::kLiveness);
  EXPECT_NE(vs[0].message.find("lost its lease while its worker was alive"), std::string::npos)
      << vs[0].message;
  EXPECT_TRUE(CheckLeasesKeptOnceQuiet(OneJob(JobState::kPending, lost), 1'001, {}).empty());
  EXPECT_TRUE(CheckLeasesKeptOnceQuiet(OneJob(JobState::kPending, lost), 1'000, {7}).empty());
  Execution done = lost;
  done.state = ExecState::kDone;
  EXPECT_TRUE(CheckLeasesKeptOnceQuiet(OneJob(JobState::kSucceeded, done), 0, {}).empty());
  Snapshot deferred = OneJob(JobState::kPending, lost);
  deferred.audit.push_back({.job_id = 1, .execution_id = 7, .event = AuditEvent::kDefer});
  EXPECT_TRUE(CheckLeasesKeptOnceQuiet(deferred, 1'000, {}).empty());
}

}  // namespace
}  // namespace lab
