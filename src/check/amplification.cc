#include "check/amplification.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/assert.h"
#include "core/trace.h"

namespace lab {

std::vector<bool> RetryCalls(const Snapshot& snapshot, std::span<const DownstreamCall> calls) {
  // Each job's first execution, and the first after each redrive (which
  // gives the job a fresh budget of attempts, as the worker's retry gate
  // counts them): its lowest attempt, deferrals aside.
  const std::set<ExecutionId> deferred = DeferredExecutions(snapshot);
  std::map<JobId, std::vector<TimeMs>> redriven_at;
  for (const AuditEntry& a : snapshot.audit) {
    if (a.event == AuditEvent::kRedrive && a.execution_id == 0) {
      redriven_at[a.job_id].push_back(a.at_ms);
    }
  }
  const auto epoch = [&](const Execution& e) {
    const std::vector<TimeMs>& at = redriven_at[e.job_id];
    return std::upper_bound(at.begin(), at.end(), e.leased_at_ms) - at.begin();
  };
  std::map<std::pair<JobId, int64_t>, const Execution*> first;
  std::map<ExecutionId, std::pair<JobId, int64_t>> epoch_of;
  for (const Execution& e : snapshot.executions) {
    if (deferred.contains(e.id)) continue;
    const std::pair<JobId, int64_t> key{e.job_id, epoch(e)};
    epoch_of.emplace(e.id, key);
    auto [it, added] = first.emplace(key, &e);
    if (!added && e.attempt < it->second->attempt) it->second = &e;
  }
  std::vector<bool> retry;
  retry.reserve(calls.size());
  for (const DownstreamCall& c : calls) {
    auto of = epoch_of.find(c.execution_id);
    retry.push_back(of != epoch_of.end() && first.at(of->second)->id != c.execution_id);
  }
  return retry;
}

std::vector<Violation> CheckBoundedAmplification(const Snapshot& snapshot,
                                                 std::span<const DownstreamCall> calls,
                                                 const RetryBudgetOptions& budget) {
  LAB_ASSERT(budget.buckets > 0 && budget.window_ms >= budget.buckets);
  const DurationMs slice = budget.window_ms / budget.buckets;
  struct Seen {
    TimeMs at_ms;
    JobId job;
    bool retry;
  };
  // Each caller's calls in time order, each marked first or retry.
  const std::vector<bool> retries_of = RetryCalls(snapshot, calls);
  std::map<std::string, std::vector<Seen>> by_caller;
  for (size_t i = 0; i < calls.size(); ++i) {
    const DownstreamCall& c = calls[i];
    if (c.duplicate) continue;  // The network's, not the caller's.
    const bool retry = retries_of[i];
    auto& seen = by_caller[c.caller];
    LAB_ASSERT(seen.empty() || seen.back().at_ms <= c.at_ms);
    seen.push_back({c.at_ms, c.job_id, retry});
  }
  std::vector<Violation> out;
  for (const auto& [caller, seen] : by_caller) {
    // The window ending with each retry: its slice and the buckets-1 before.
    size_t from = 0;
    int64_t firsts = 0, retries = 0;
    for (size_t i = 0; i < seen.size(); ++i) {
      const int64_t slice_index = seen[i].at_ms / slice;
      while (seen[from].at_ms / slice <= slice_index - budget.buckets) {
        (seen[from].retry ? retries : firsts) -= 1;
        ++from;
      }
      (seen[i].retry ? retries : firsts) += 1;
      if (!seen[i].retry) continue;
      // Firsts later at the same instant count too: the caller may have seen them first.
      int64_t firsts_now = firsts;
      for (size_t j = i + 1; j < seen.size() && seen[j].at_ms == seen[i].at_ms; ++j) {
        if (!seen[j].retry) ++firsts_now;
      }
      const int64_t allowance =
          budget.floor_per_window +
          static_cast<int64_t>(std::floor(budget.ratio * static_cast<double>(firsts_now)));
      if (retries <= allowance) continue;
      std::vector<std::string> evidence;
      for (size_t j = from; j <= i; ++j) {
        if (seen[j].retry) {
          evidence.push_back(
              fmt::format("{} retry of job {}", RunTime(seen[j].at_ms), seen[j].job));
        }
      }
      out.push_back(
          {Invariant::kBoundedAmplification, seen[i].job,
           fmt::format("{} made {} retries downstream in the {}ms window to {}, over its budget "
                       "of {} (a floor of {} plus {:.0f}% of its {} first calls there)",
                       caller, retries, budget.window_ms, RunTime(seen[i].at_ms), allowance,
                       budget.floor_per_window, budget.ratio * 100, firsts_now),
           std::move(evidence)});
      break;  // One violation per caller: the first window over.
    }
  }
  return out;
}

std::vector<Violation> CheckAmplification(const Snapshot& snapshot,
                                          std::span<const DownstreamCall> calls,
                                          const RetryBudgetOptions& budget,
                                          const std::optional<BreakerOptions>& breaker) {
  std::vector<Violation> out = CheckBoundedAmplification(snapshot, calls, budget);
  if (breaker) {
    auto kept_off = CheckBreakerKept(calls, *breaker);
    out.insert(out.end(), kept_off.begin(), kept_off.end());
  }
  return out;
}

std::vector<Violation> CheckBreakerKept(std::span<const DownstreamCall> calls,
                                        const BreakerOptions& breaker) {
  struct Caller {
    CircuitBreaker breaker;
    std::vector<std::string> recent;  // The last outcomes, for the evidence.
    bool reported = false;
  };
  std::map<std::string, Caller> callers;
  std::vector<Violation> out;
  for (const DownstreamCall& c : calls) {
    if (c.duplicate) continue;  // The network's, not the caller's.
    Caller& caller =
        callers.try_emplace(c.caller, Caller{CircuitBreaker(breaker), {}, false}).first->second;
    const BreakerDecision d = caller.breaker.Admit(c.at_ms);
    if (!d.allowed && !caller.reported) {
      caller.reported = true;
      out.push_back({Invariant::kBoundedAmplification, c.job_id,
                     fmt::format("{} called the downstream system at {} for job {} while its "
                                 "circuit breaker was {} (opened {} time(s)): calls into a "
                                 "failing system instead of waiting",
                                 c.caller, RunTime(c.at_ms), c.job_id,
                                 ToString(caller.breaker.state(c.at_ms)), caller.breaker.opened()),
                     caller.recent});
    }
    caller.breaker.Record(c.at_ms, !c.failed, c.answered_at_ms);
    caller.recent.push_back(
        fmt::format("{} job {} {}", RunTime(c.at_ms), c.job_id, c.failed ? "failed" : "ok"));
    if (caller.recent.size() > 8) caller.recent.erase(caller.recent.begin());
  }
  return out;
}

}  // namespace lab
