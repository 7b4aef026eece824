#include "check/liveness.h"

#include <fmt/core.h>

#include <map>

#include "core/trace.h"
#include "store/state_machine.h"

namespace lab {
namespace {

std::string WhyStuck(const Job& job, const std::vector<const Execution*>& execs, TimeMs now) {
  for (const Execution* e : execs) {
    if (!IsLive(e->state)) continue;
    const bool expired = e->lease_expires_at_ms <= now;
    if (e->state == ExecState::kCommitted) {
      return fmt::format("exec {} COMMITTED{} but never finalized to DONE", e->id,
                         expired ? " with an expired lease" : "");
    }
    return fmt::format("exec {} {} on a lease {} at {}", e->id, ToString(e->state),
                       expired ? "that expired and was never reaped" : "still held, expiring",
                       RunTime(e->lease_expires_at_ms));
  }
  if (job.state == JobState::kPending) {
    return job.run_at_ms > now ? fmt::format("PENDING until {}", RunTime(job.run_at_ms))
                               : "PENDING and ready, but no worker ran it";
  }
  return fmt::format("{} with no live execution", ToString(job.state));
}

}  // namespace

std::vector<Violation> CheckLiveness(const Snapshot& snapshot, TimeMs now_ms) {
  std::map<JobId, std::vector<const Execution*>> execs_of;
  for (const Execution& e : snapshot.executions) execs_of[e.job_id].push_back(&e);
  std::vector<Violation> out;
  for (const Job& j : snapshot.jobs) {
    if (IsFinished(j.state)) continue;
    out.push_back({Invariant::kLiveness,
                   j.id,
                   fmt::format("job {} is {} at the liveness bound {}: {}", j.id, ToString(j.state),
                               RunTime(now_ms), WhyStuck(j, execs_of[j.id], now_ms)),
                   {}});
  }
  return out;
}

std::vector<Violation> CheckLeasesKeptOnceQuiet(const Snapshot& snapshot, TimeMs quiet_from_ms,
                                                const std::set<ExecutionId>& died) {
  std::vector<Violation> out;
  // A deferral ends an execution ABORTED too, by its own worker's choice;
  // and an attempt held to its lease cap (the store refused to extend it
  // further, audited `capped`) loses its lease by design.
  const std::set<ExecutionId> deferred = DeferredExecutions(snapshot);
  std::set<ExecutionId> capped;
  for (const AuditEntry& a : snapshot.audit) {
    if (a.event == AuditEvent::kCapped) capped.insert(a.execution_id);
  }
  for (const Execution& e : snapshot.executions) {
    if (e.leased_at_ms < quiet_from_ms || e.state != ExecState::kAborted) continue;
    if (died.contains(e.id) || deferred.contains(e.id) || capped.contains(e.id)) continue;
    out.push_back({Invariant::kLiveness,
                   e.job_id,
                   fmt::format("job {}: exec {} by {}, claimed at {} after faults stopped (at {}), "
                               "lost its lease while its worker was alive: {}",
                               e.job_id, e.id, e.worker, RunTime(e.leased_at_ms),
                               RunTime(quiet_from_ms), e.reason),
                   {}});
  }
  return out;
}

}  // namespace lab
