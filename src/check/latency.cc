#include "check/latency.h"

#include <fmt/core.h>

#include <map>
#include <optional>
#include <set>
#include <string>

#include "core/trace.h"
#include "store/state_machine.h"

namespace lab {
namespace {

// An audit entry's state is an unfinished job's (an entity's first entry
// has none).
bool Open(std::string_view state) {
  const auto s = ParseJobState(state);
  return s && !IsFinished(*s);
}

// 1: executions leased after their job's deadline, one violation a queue.
void LateStarts(const Snapshot& snapshot, std::vector<Violation>& out) {
  std::map<JobId, const Job*> jobs;
  for (const Job& j : snapshot.jobs) jobs.emplace(j.id, &j);
  struct Late {
    int64_t jobs = 0;
    int64_t with_deadline = 0;
    JobId worst = 0;
    DurationMs worst_by_ms = 0;
    std::vector<std::string> evidence;
  };
  std::map<std::string, Late> by_queue;
  std::set<JobId> counted;
  for (const Job& j : snapshot.jobs) {
    if (j.deadline_at_ms != 0) ++by_queue[j.queue].with_deadline;
  }
  for (const Execution& e : snapshot.executions) {
    auto it = jobs.find(e.job_id);
    if (it == jobs.end()) continue;
    const Job& j = *it->second;
    if (j.deadline_at_ms == 0 || e.leased_at_ms <= j.deadline_at_ms) continue;
    Late& late = by_queue[j.queue];
    const DurationMs by = e.leased_at_ms - j.deadline_at_ms;
    if (counted.insert(j.id).second) ++late.jobs;
    if (by > late.worst_by_ms) {
      late.worst = j.id;
      late.worst_by_ms = by;
    }
    if (late.evidence.size() < 5) {
      late.evidence.push_back(fmt::format("job {} (enqueued {}, deadline {}) started {}", j.id,
                                          RunTime(j.created_at_ms), RunTime(j.deadline_at_ms),
                                          RunTime(e.leased_at_ms)));
    }
  }
  for (auto& [queue, late] : by_queue) {
    if (late.jobs == 0) continue;
    out.push_back({Invariant::kBoundedLatency, late.worst,
                   fmt::format("queue '{}': {} of its {} jobs with a deadline started after it, "
                               "the latest {:.1f}s late (job {}): work nobody was waiting for",
                               queue, late.jobs, late.with_deadline,
                               static_cast<double>(late.worst_by_ms) / 1'000, late.worst),
                   std::move(late.evidence)});
  }
}

// 2: a queue's unfinished jobs over its limit, replayed from the audit log.
void DepthOverLimit(const Snapshot& snapshot, std::span<const QueueLimit> limits,
                    std::vector<Violation>& out) {
  std::map<std::string, int64_t> limit_of;
  for (const QueueLimit& l : limits) {
    if (l.max_depth > 0) limit_of[l.queue] = l.max_depth;
  }
  if (limit_of.empty()) return;
  std::map<JobId, const std::string*> queue_of;
  for (const Job& j : snapshot.jobs) queue_of.emplace(j.id, &j.queue);
  struct Depth {
    int64_t now = 0;
    int64_t peak = 0;
    TimeMs peak_at = 0;
    std::optional<const AuditEntry*> first_over;
  };
  std::map<std::string, Depth> depth;
  for (const AuditEntry& a : snapshot.audit) {
    if (a.job_id == 0 || a.execution_id != 0) continue;  // Job-level transitions only.
    auto q = queue_of.find(a.job_id);
    if (q == queue_of.end()) continue;  // Pruned: its transitions are gone with it.
    auto limit = limit_of.find(*q->second);
    if (limit == limit_of.end()) continue;
    Depth& d = depth[*q->second];
    d.now += static_cast<int64_t>(Open(a.to)) - static_cast<int64_t>(Open(a.from));
    if (d.now > limit->second && !d.first_over) d.first_over = &a;
    if (d.now > d.peak) {
      d.peak = d.now;
      d.peak_at = a.at_ms;
    }
  }
  for (const auto& [queue, d] : depth) {
    if (!d.first_over) continue;
    const AuditEntry& first = **d.first_over;
    out.push_back(
        {Invariant::kBoundedLatency,
         first.job_id,
         fmt::format("queue '{}' held up to {} unfinished jobs ({}), over its limit of {}: "
                     "excess load was queued instead of refused",
                     queue, d.peak, RunTime(d.peak_at), limit_of.at(queue)),
         {fmt::format("first over the limit at {}: job {} {}", RunTime(first.at_ms), first.job_id,
                      ToString(first.event))}});
  }
}

// 3: every EXPIRED job has its reason and its audited expiry.
void SilentExpiries(const Snapshot& snapshot, std::vector<Violation>& out) {
  std::set<JobId> audited;
  for (const AuditEntry& a : snapshot.audit) {
    if (a.event == AuditEvent::kExpire) audited.insert(a.job_id);
  }
  for (const Job& j : snapshot.jobs) {
    if (j.state != JobState::kExpired) continue;
    if (!j.last_error.empty() && audited.contains(j.id)) continue;
    out.push_back({Invariant::kBoundedLatency,
                   j.id,
                   fmt::format("job {} is EXPIRED without {}", j.id,
                               j.last_error.empty() ? "a reason" : "an audited expiry"),
                   {}});
  }
}

}  // namespace

std::vector<Violation> CheckBoundedLatency(const Snapshot& snapshot,
                                           std::span<const QueueLimit> limits) {
  std::vector<Violation> out;
  LateStarts(snapshot, out);
  DepthOverLimit(snapshot, limits, out);
  SilentExpiries(snapshot, out);
  return out;
}

}  // namespace lab
