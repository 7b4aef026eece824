#include "check/consistency.h"

#include <fmt/core.h>

#include <map>
#include <set>

#include "check/invariants.h"

namespace lab {

std::vector<std::string> FindInconsistencies(const Snapshot& s, const Guards& guards) {
  std::vector<std::string> out;
  std::map<JobId, const Job*> jobs;
  for (const Job& j : s.jobs) {
    if (!jobs.emplace(j.id, &j).second) out.push_back(fmt::format("job id {} twice", j.id));
    if (j.attempts < 0 || j.attempts_at_redrive > j.attempts) {
      out.push_back(fmt::format("job {} counts {} attempts, {} before its redrive", j.id,
                                j.attempts, j.attempts_at_redrive));
    }
  }
  std::set<ExecutionId> execs;
  for (const Execution& e : s.executions) {
    if (!execs.insert(e.id).second) out.push_back(fmt::format("execution id {} twice", e.id));
    auto job = jobs.find(e.job_id);
    if (job == jobs.end()) {
      out.push_back(fmt::format("execution {} belongs to no job ({})", e.id, e.job_id));
    } else if (e.attempt < 1 || e.attempt > job->second->attempts) {
      out.push_back(fmt::format("execution {} is attempt {} of job {}, which counts {}", e.id,
                                e.attempt, e.job_id, job->second->attempts));
    }
  }
  std::map<JobId, int> effects;
  for (const EffectRecord& e : s.effects) {
    if (!jobs.contains(e.job_id) || !execs.contains(e.execution_id)) {
      out.push_back(fmt::format("ledger effect {} names job {} / execution {}, not both there",
                                e.id, e.job_id, e.execution_id));
    }
    if (++effects[e.job_id] > 1 && guards.commit_boundary) {
      out.push_back(fmt::format("job {} has {} ledger effects with the commit boundary on",
                                e.job_id, effects[e.job_id]));
    }
  }
  int64_t seq = 0;
  for (const AuditEntry& a : s.audit) {
    if (a.seq <= seq) out.push_back(fmt::format("audit seq {} after {}", a.seq, seq));
    seq = a.seq;
    // Store-level entries (a prune, a queue's limit) are job 0's.
    const bool store_level = a.event == AuditEvent::kPrune || a.event == AuditEvent::kLimit;
    if (store_level != (a.job_id == 0)) {
      out.push_back(fmt::format("audit #{} ({}) names job {}", a.seq, ToString(a.event), a.job_id));
    } else if (!store_level && !jobs.contains(a.job_id)) {
      out.push_back(fmt::format("audit #{} names no job", a.seq));
    }
  }
  if (guards.fencing) {
    const std::vector<AppliedEffect> none;
    for (const Violation& v : CheckInv003({s, none, {}, std::nullopt})) {
      out.push_back("with fencing on, " + v.ToString());
    }
  }
  return out;
}

}  // namespace lab
