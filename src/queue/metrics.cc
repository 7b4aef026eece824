#include "queue/metrics.h"

#include <fmt/core.h>

#include <algorithm>

#include "core/assert.h"

namespace lab {
namespace {

// A label value as the exposition format writes it: backslash, quote and
// newline escaped.
std::string LabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void Counter(std::string& out, std::string_view name, std::string_view help, int64_t value) {
  Family(out, name, "counter", help);
  out += fmt::format("{} {}\n", name, value);
}

// Each Timing's family: name and help.
constexpr std::pair<std::string_view, std::string_view> kTimings[] = {
    {"lab_handler_duration_seconds", "How long each handler ran."},
    {"lab_enqueue_to_start_seconds",
     "From a job's enqueue to its first attempt's start (its claim), for the jobs this worker "
     "started first."},
    {"lab_enqueue_to_done_seconds",
     "From a job's enqueue to its handler's success (its commit follows in the same step), for "
     "the jobs this worker ran to success."},
};

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1, 0) {
  LAB_ASSERT(std::is_sorted(bounds_.begin(), bounds_.end()));
}

void Histogram::Observe(double value) {
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                       bounds_.begin());
  std::lock_guard lock(mu_);
  ++buckets_[i];
  ++count_;
  sum_ += value;
}

Histogram::Reading Histogram::Read() const {
  std::lock_guard lock(mu_);
  Reading r{.bounds = bounds_, .count = count_, .sum = sum_};
  uint64_t running = 0;
  for (uint64_t b : buckets_) r.cumulative.push_back(running += b);
  return r;
}

int64_t Quantile(const std::vector<int64_t>& sorted, double q) {
  LAB_ASSERT(!sorted.empty());
  return sorted[std::min(sorted.size() - 1,
                         static_cast<size_t>(q * static_cast<double>(sorted.size())))];
}

std::vector<double> DurationBuckets() {
  return {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600};
}

std::vector<QueueAge> OldestPending(Store& store, TimeMs now,
                                    const std::vector<std::string>& queues) {
  std::vector<QueueAge> out;
  for (const std::string& queue : queues) {
    auto first = store.ListJobs({.queue = queue, .state = JobState::kPending, .limit = 1});
    if (first && !first->empty()) {
      out.push_back({queue, static_cast<double>(now - first->front().created_at_ms) / 1'000});
    }
  }
  return out;
}

std::string RenderMetrics(const MetricsInput& in) {
  std::string out;
  if (in.pool) {
    const PoolStats& p = *in.pool;
    Counter(out, "lab_jobs_claimed_total", "Leases this worker took (a job's attempt each).",
            p.claimed);
    Counter(out, "lab_jobs_finished_total", "Jobs this worker ran to DONE.", p.finished);
    Counter(out, "lab_attempts_failed_total", "Attempts that failed (retried or dead-lettered).",
            p.failed);
    Counter(out, "lab_dead_lettered_total",
            "Jobs this worker's failed attempts dead-lettered (their last attempt, or a "
            "permanent error).",
            p.dead_lettered);
    Counter(out, "lab_redeliveries_total", "Jobs claimed that had run before (attempt > 1).",
            p.redelivered);
    Counter(out, "lab_duplicate_commits_total",
            "Executions that found their job already committed (short-circuited).", p.duplicates);
    Counter(out, "lab_fenced_total", "Jobs dropped because another worker had taken them over.",
            p.fenced);
    Counter(out, "lab_leases_given_up_total",
            "Jobs given up (released, or left to expire) after a store error.",
            p.released + p.abandoned);
    Counter(out, "lab_store_calls_retried_total", "Failed store calls retried within a lease.",
            p.retried);
    Counter(out, "lab_store_errors_total", "Store errors seen.", p.errors);
    Counter(out, "lab_deferred_total",
            "Jobs a guard put back unrun (the retry budget, the circuit breaker).", p.deferred);
    Counter(out, "lab_leases_extended_total", "Leases the control plane extended (heartbeats).",
            p.heartbeats);
    Counter(out, "lab_leases_reaped_total",
            "Expired leases the control plane aborted (their jobs re-queued or dead-lettered).",
            p.reaped);
    Counter(out, "lab_executions_reconciled_total",
            "Committed executions whose worker died before finishing, finalized by the control "
            "plane.",
            p.reconciled);
    Counter(out, "lab_outbox_delivered_total", "Outbox intents the relay delivered.", p.delivered);
    Counter(out, "lab_outbox_unacknowledged_total",
            "Outbox sends the receiver did not acknowledge (sent again).", p.undelivered);
  }
  if (in.redriven) {
    Counter(out, "lab_redriven_total", "Dead jobs redriven from this dashboard's pages.",
            *in.redriven);
  }
  Family(out, "lab_jobs", "gauge", "Jobs in the store, by queue and state.");
  for (const StateCount& c : in.jobs) {
    out += fmt::format("lab_jobs{{queue=\"{}\",state=\"{}\"}} {}\n", LabelValue(c.queue),
                       ToString(c.state), c.count);
  }
  Family(out, "lab_oldest_pending_job_age_seconds", "gauge",
         "How long the oldest pending job of a queue has waited since its enqueue (0: none).");
  std::vector<QueueAge> ages = in.oldest_pending;
  for (const std::string& q : in.queues) {
    if (std::none_of(ages.begin(), ages.end(), [&](const QueueAge& a) { return a.queue == q; })) {
      ages.push_back({q, 0});
    }
  }
  for (const QueueAge& a : ages) {
    out += fmt::format("lab_oldest_pending_job_age_seconds{{queue=\"{}\"}} {:.3f}\n",
                       LabelValue(a.queue), a.seconds);
  }
  if (in.leases_held) {
    Family(out, "lab_leases_held", "gauge", "Leases this worker's job threads hold now.");
    out += fmt::format("lab_leases_held {}\n", *in.leases_held);
  }
  for (const auto& [timing, h] : in.timings) {
    const auto [name, help] = kTimings[static_cast<size_t>(timing)];
    Family(out, name, "histogram", help);
    for (size_t i = 0; i < h.bounds.size(); ++i) {
      out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, h.bounds[i], h.cumulative[i]);
    }
    out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, h.cumulative.back());
    out += fmt::format("{}_sum {:.6f}\n", name, h.sum);
    out += fmt::format("{}_count {}\n", name, h.count);
  }
  return out;
}

}  // namespace lab
