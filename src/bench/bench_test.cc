// Goal: lab bench's own check fails a run that lost or left a job (seen to
// fail on planted records), and a small run completes and verifies every
// job on SQLite and on PostgreSQL, batched and not. The figures are not
// asserted: a benchmark in a test measures the machine, not the code.
#include "bench/bench.h"

#include <gtest/gtest.h>

#include "queue/worker.h"
#include "store/testing/pg_env.h"

namespace lab {
namespace {

TEST(BenchVerifyTest, ALeftOrMissingJobFailsTheRun) {
  ManualClock clock(0);
  auto queue = std::move(*Queue::Open("memory:", clock));
  EffectLog sink;
  Worker w(
      *queue, [](const JobContext&) { return HandlerResult::Ok(""); },
      WorkerOptions{.queue = "bench"}, &sink);
  ASSERT_TRUE(queue->Enqueue({.queue = "bench"}).has_value());
  ASSERT_TRUE(queue->Enqueue({.queue = "bench"}).has_value());
  ASSERT_TRUE(*w.ProcessOne());
  BenchLatency latency;
  auto left = VerifyBenchStore(queue->store(), {{"bench", 2}}, latency);
  ASSERT_FALSE(left.has_value());
  EXPECT_EQ(left.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(left.error().message.find("job 2 is PENDING with 0 effect(s)"), std::string::npos)
      << left.error().message;

  ASSERT_TRUE(*w.ProcessOne());
  EXPECT_EQ(VerifyBenchStore(queue->store(), {{"bench", 2}}, latency), 2);
  auto missing = VerifyBenchStore(queue->store(), {{"bench", 3}}, latency);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("3 jobs enqueued and acknowledged, 2 in the store"),
            std::string::npos)
      << missing.error().message;
}

void ExpectASmallRunVerifies(const std::string& db, int batch) {
  const BenchOptions o{.db = db, .jobs = 60, .producers = 2, .consumers = 2, .batch = batch};
  auto r = RunBench(o, [](const std::string&, int64_t, int64_t) {});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->verified, 60 + 60 + 30);  // Enqueued then drained, end to end, latency.
  ASSERT_EQ(r->phases.size(), 3u);
  EXPECT_EQ(r->latency.jobs, 30);
  EXPECT_GT(r->sync_rate, 0);
  EXPECT_NE(FormatBench(o, *r).find("verified: 150 jobs"), std::string::npos);
}

TEST(BenchTest, ASmallSqliteRunCompletesAndVerifiesEveryJob) {
  ExpectASmallRunVerifies("sqlite:", 1);
  ExpectASmallRunVerifies("sqlite:", 7);
}

TEST(BenchTest, ASmallPostgresRunCompletesAndVerifiesEveryJob) {
  const auto url = testing::PgUrlFromEnv();
  ASSERT_TRUE(url.has_value()) << "LAB_PG_URL is not set: run through ctest";
  ExpectASmallRunVerifies(*url, 7);
}

TEST(BenchTest, AMemoryStoreIsRefused) {
  auto r = RunBench({.db = "memory:"}, {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace lab
