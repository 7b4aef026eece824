// Goal: where a backend enforces a rule a second time, below the rules (the
// fencing token in the UPDATE of an execution; UNIQUE constraints on the
// ledger, the executions' attempts and the jobs' keys), that second check
// holds on its own. Method: each case goes around RecordStore and its
// rules, straight to the backend's primitives, makes the write the rules
// would never ask for, and checks it is refused and nothing of it stays.
// So removing the SQL-level check is noticed even while the rules' check
// still holds.
#include <gtest/gtest.h>

#include "store/testing/backends.h"

namespace lab {
namespace {

class BackendDefenceTest : public ::testing::TestWithParam<testing::StorageBackend> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make(dir_);
    ASSERT_NE(backend_, nullptr);
    // A job RUNNING its first attempt, committed.
    ASSERT_TRUE(backend_->BeginWrite().has_value());
    job_.id = *backend_->InsertJob(job_);
    exec_.job_id = job_.id;
    exec_.id = *backend_->InsertExecution(exec_);
    ASSERT_TRUE(backend_->CommitWrite().has_value());
  }
  // Runs `write` in a transaction that must be refused by it; rolls back.
  template <typename F>
  void ExpectRefused(F write) {
    ASSERT_TRUE(backend_->BeginWrite().has_value());
    auto r = write();
    EXPECT_FALSE(r.has_value()) << "the backend accepted the write";
    ASSERT_TRUE(backend_->Rollback().has_value());
  }
  Snapshot Snap() { return *backend_->LoadSnapshot(); }

  testing::TempDir dir_;
  std::shared_ptr<StoreBackend> backend_;
  Job job_{.queue = "q", .key = "k", .max_attempts = 3, .attempts = 1, .state = JobState::kRunning};
  Execution exec_{.attempt = 1,
                  .worker = "w",
                  .state = ExecState::kInProgress,
                  .leased_at_ms = 10,
                  .lease_expires_at_ms = 1'010};
};

TEST_P(BackendDefenceTest, AnExecutionIsWrittenOnlyByTheAttemptItHolds) {
  Execution stale = exec_;
  stale.attempt = 2;  // A token the row does not hold.
  stale.state = ExecState::kCommitted;
  ExpectRefused([&] { return backend_->SaveExecution(stale); });
  EXPECT_EQ(**backend_->LoadExecution(exec_.id), exec_);
  // The holder's own write goes through.
  Execution held = exec_;
  held.state = ExecState::kCommitted;
  ASSERT_TRUE(backend_->BeginWrite().has_value());
  ASSERT_TRUE(backend_->SaveExecution(held).has_value());
  ASSERT_TRUE(backend_->CommitWrite().has_value());
  EXPECT_EQ(**backend_->LoadExecution(exec_.id), held);
}

TEST_P(BackendDefenceTest, TheLedgerHoldsOneEffectPerJob) {
  const EffectRecord first{
      .job_id = job_.id, .execution_id = exec_.id, .key = "q/k", .payload = "once"};
  ASSERT_TRUE(backend_->BeginWrite().has_value());
  ASSERT_TRUE(backend_->InsertEffect(first).has_value());
  ASSERT_TRUE(backend_->CommitWrite().has_value());
  EffectRecord second = first;
  second.payload = "twice";
  ExpectRefused([&] { return backend_->InsertEffect(second); });
  const Snapshot s = Snap();
  ASSERT_EQ(s.effects.size(), 1u);
  EXPECT_EQ(s.effects[0].payload, "once");
}

TEST_P(BackendDefenceTest, OneExecutionHoldsEachFencingToken) {
  Execution twin = exec_;
  twin.worker = "another";
  ExpectRefused([&] { return backend_->InsertExecution(twin); });
  EXPECT_EQ(Snap().executions.size(), 1u);
}

TEST_P(BackendDefenceTest, AQueueHasOneJobForAKey) {
  Job twin = job_;
  twin.payload = "another";
  ExpectRefused([&] { return backend_->InsertJob(twin); });
  EXPECT_EQ(Snap().jobs.size(), 1u);
  // The same key in another queue is another job.
  twin.queue = "other";
  ASSERT_TRUE(backend_->BeginWrite().has_value());
  EXPECT_TRUE(backend_->InsertJob(twin).has_value());
  ASSERT_TRUE(backend_->CommitWrite().has_value());
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendDefenceTest,
                         ::testing::ValuesIn(testing::StorageBackends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace lab
