// Goal: a worker's figures come out in Prometheus' text exposition format:
// each family with its HELP and TYPE, counters named `_total`, the jobs
// gauge labelled by queue and state (label values escaped), and the
// handler's histogram with cumulative buckets, +Inf, sum and count.
#include "queue/metrics.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndAHistogramInTheExpositionFormat) {
  Histogram handler({0.1, 1, 10});
  for (double s : {0.05, 0.5, 0.7, 20.0}) handler.Observe(s);
  const std::string out =
      RenderMetrics({.pool = PoolStats{.claimed = 6,
                                       .finished = 3,
                                       .failed = 2,
                                       .dead_lettered = 1,
                                       .reaped = 1,
                                       .reconciled = 1,
                                       .delivered = 1},
                     .jobs = {{"mail", JobState::kPending, 4}, {"we\"ird", JobState::kDead, 1}},
                     .oldest_pending = {{"mail", 2.5}},
                     .queues = {"mail", "idle"},
                     .leases_held = 2,
                     .timings = {{Timing::kHandler, handler.Read()},
                                 {Timing::kEnqueueToStart, Histogram({1}).Read()}}});
  EXPECT_NE(out.find("# HELP lab_jobs_finished_total Jobs this worker ran to DONE.\n"
                     "# TYPE lab_jobs_finished_total counter\nlab_jobs_finished_total 3\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("lab_attempts_failed_total 2\n"), std::string::npos);
  EXPECT_NE(out.find("lab_jobs_claimed_total 6\n"), std::string::npos);
  EXPECT_NE(out.find("lab_dead_lettered_total 1\n"), std::string::npos);
  EXPECT_NE(out.find("lab_leases_reaped_total 1\n"), std::string::npos);
  EXPECT_NE(out.find("lab_executions_reconciled_total 1\n"), std::string::npos);
  EXPECT_NE(out.find("lab_outbox_delivered_total 1\n"), std::string::npos);
  EXPECT_NE(out.find("# TYPE lab_jobs gauge\n"), std::string::npos);
  EXPECT_NE(out.find("lab_jobs{queue=\"mail\",state=\"PENDING\"} 4\n"), std::string::npos);
  EXPECT_NE(out.find("lab_jobs{queue=\"we\\\"ird\",state=\"DEAD\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("lab_oldest_pending_job_age_seconds{queue=\"mail\"} 2.500\n"),
            std::string::npos);
  // A queue asked about with nothing pending has waited 0 s.
  EXPECT_NE(out.find("lab_oldest_pending_job_age_seconds{queue=\"idle\"} 0.000\n"),
            std::string::npos);
  EXPECT_NE(out.find("lab_leases_held 2\n"), std::string::npos);
  EXPECT_NE(out.find("# TYPE lab_enqueue_to_start_seconds histogram\n"
                     "lab_enqueue_to_start_seconds_bucket{le=\"1\"} 0\n"
                     "lab_enqueue_to_start_seconds_bucket{le=\"+Inf\"} 0\n"
                     "lab_enqueue_to_start_seconds_sum 0.000000\n"
                     "lab_enqueue_to_start_seconds_count 0\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("# TYPE lab_handler_duration_seconds histogram\n"
                     "lab_handler_duration_seconds_bucket{le=\"0.1\"} 1\n"
                     "lab_handler_duration_seconds_bucket{le=\"1\"} 3\n"
                     "lab_handler_duration_seconds_bucket{le=\"10\"} 3\n"
                     "lab_handler_duration_seconds_bucket{le=\"+Inf\"} 4\n"
                     "lab_handler_duration_seconds_sum 21.250000\n"
                     "lab_handler_duration_seconds_count 4\n"),
            std::string::npos)
      << out;
  // Every line is a comment or "name{labels} value".
  size_t start = 0;
  while (start < out.size()) {
    const size_t end = out.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "the last line must end with a newline";
    const std::string line = out.substr(start, end - start);
    EXPECT_TRUE(line.starts_with("# ") ||
                (line.starts_with("lab_") && line.find(' ') != std::string::npos))
        << line;
    start = end + 1;
  }
}

// The dashboard's form: no worker, so no counters and no leases held; the
// store's gauges only.
TEST(MetricsTest, WithoutAPoolOnlyTheStoresGaugesAreRendered) {
  const std::string out = RenderMetrics({.jobs = {{"mail", JobState::kRunning, 1}}});
  EXPECT_EQ(out.find("_total"), std::string::npos) << out;
  EXPECT_EQ(out.find("lab_leases_held"), std::string::npos) << out;
  EXPECT_NE(out.find("lab_jobs{queue=\"mail\",state=\"RUNNING\"} 1\n"), std::string::npos);
}

// The bench's and the dashboard's percentiles: rank floor(q * n).
TEST(MetricsTest, QuantileIsTheValueAtRankQTimesN) {
  const std::vector<int64_t> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(Quantile(ten, 0.0), 1);
  EXPECT_EQ(Quantile(ten, 0.5), 6);
  EXPECT_EQ(Quantile(ten, 0.99), 10);
  EXPECT_EQ(Quantile(ten, 1.0), 10);
  EXPECT_EQ(Quantile({7}, 0.95), 7);
}

}  // namespace
}  // namespace lab
