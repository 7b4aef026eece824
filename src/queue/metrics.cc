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

std::vector<double> DurationBuckets() {
  return {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600};
}

std::string RenderMetrics(const MetricsInput& in) {
  std::string out;
  const PoolStats& p = in.pool;
  Counter(out, "lab_jobs_finished_total", "Jobs this worker ran to DONE.", p.finished);
  Counter(out, "lab_attempts_failed_total", "Attempts that failed (retried or dead-lettered).",
          p.failed);
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
  Counter(out, "lab_outbox_delivered_total", "Outbox intents the relay delivered.", p.delivered);
  Counter(out, "lab_outbox_unacknowledged_total",
          "Outbox sends the receiver did not acknowledge (sent again).", p.undelivered);
  Family(out, "lab_jobs", "gauge", "Jobs in the store, by queue and state.");
  for (const StateCount& c : in.jobs) {
    out += fmt::format("lab_jobs{{queue=\"{}\",state=\"{}\"}} {}\n", LabelValue(c.queue),
                       ToString(c.state), c.count);
  }
  Family(out, "lab_oldest_pending_job_age_seconds", "gauge",
         "How long the oldest pending job of the worker's queue has waited (0: none).");
  out += fmt::format("lab_oldest_pending_job_age_seconds{{queue=\"{}\"}} {:.3f}\n",
                     LabelValue(in.queue), in.oldest_pending_age_s.value_or(0));
  Family(out, "lab_leases_held", "gauge", "Leases this worker's job threads hold now.");
  out += fmt::format("lab_leases_held {}\n", in.leases_held);
  if (in.handler_s) {
    const Histogram::Reading& h = *in.handler_s;
    Family(out, "lab_handler_duration_seconds", "histogram", "How long each handler ran.");
    for (size_t i = 0; i < h.bounds.size(); ++i) {
      out += fmt::format("lab_handler_duration_seconds_bucket{{le=\"{}\"}} {}\n", h.bounds[i],
                         h.cumulative[i]);
    }
    out +=
        fmt::format("lab_handler_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", h.cumulative.back());
    out += fmt::format("lab_handler_duration_seconds_sum {:.6f}\n", h.sum);
    out += fmt::format("lab_handler_duration_seconds_count {}\n", h.count);
  }
  return out;
}

}  // namespace lab
