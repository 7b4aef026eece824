#include "check/consistency.h"

#include <fmt/core.h>

#include <map>
#include <set>

#include "check/invariants.h"
#include "store/state_machine.h"

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

namespace {

// One entity's audited moves in one call, checked against its states
// before (nullopt: it is new) and after.
template <typename State>
void CheckMoves(const std::string& what, std::optional<State> before, State after,
                const std::vector<const AuditEntry*>& moves,
                bool (*audited)(std::optional<State>, State, AuditEvent),
                std::optional<State> (*parse)(std::string_view), std::vector<std::string>& out) {
  std::optional<State> at = before;
  for (const AuditEntry* a : moves) {
    const std::optional<State> from = a->from.empty() ? std::nullopt : parse(a->from);
    const std::optional<State> to = parse(a->to);
    if (!to || from != at || !audited(from, *to, a->event)) {
      out.push_back(fmt::format("{}: audit #{} records {} {} -> {} but it was {}", what, a->seq,
                                ToString(a->event), a->from.empty() ? "(new)" : a->from, a->to,
                                at ? ToString(*at) : "(new)"));
      return;
    }
    at = to;
  }
  if (at != after) {
    out.push_back(fmt::format("{} moved {} -> {} with no audit entry for it", what,
                              at ? ToString(*at) : "(new)", ToString(after)));
  }
}

template <typename Record>
std::map<int64_t, const Record*> ById(const std::vector<Record>& records) {
  std::map<int64_t, const Record*> out;
  for (const Record& r : records) out[r.id] = &r;
  return out;
}

// One kind of entity (jobs, executions) in one call: each one there after
// it moved only as its entries say, and no entry moves one that is not
// there (a pruned one's entries went with it).
template <typename Record, typename State>
void CheckKind(std::string_view kind, const std::vector<Record>& before,
               const std::vector<Record>& after,
               std::map<int64_t, std::vector<const AuditEntry*>>& moves,
               bool (*audited)(std::optional<State>, State, AuditEvent),
               std::optional<State> (*parse)(std::string_view), std::vector<std::string>& out) {
  const auto was = ById(before);
  const auto is = ById(after);
  for (const auto& [id, record] : is) {
    auto it = was.find(id);
    CheckMoves<State>(fmt::format("{} {}", kind, id),
                      it == was.end() ? std::nullopt : std::optional<State>(it->second->state),
                      record->state, moves[id], audited, parse, out);
  }
  for (const auto& [id, recorded] : moves) {
    if (!recorded.empty() && !is.contains(id)) {
      out.push_back(fmt::format("audit records moves of {} {}, which is not there", kind, id));
    }
  }
}

}  // namespace

std::vector<std::string> FindUnauditedChanges(const Snapshot& before, const Snapshot& after,
                                              TimeMs now_ms, bool refused) {
  std::vector<std::string> out;
  const int64_t last_seq = before.audit.empty() ? 0 : before.audit.back().seq;
  // The call's entries: moves by entity, and what else it recorded.
  std::map<JobId, std::vector<const AuditEntry*>> job_moves;
  std::map<ExecutionId, std::vector<const AuditEntry*>> exec_moves;
  std::set<ExecutionId> committed;
  std::map<JobId, AuditEvent> deliveries;  // A job's deliver or redeliver entry.
  bool pruned = false;
  for (const AuditEntry& a : after.audit) {
    if (a.seq <= last_seq) continue;
    if (a.event == AuditEvent::kDeliver || a.event == AuditEvent::kRedeliver) {
      deliveries.emplace(a.job_id, a.event);
    }
    if (a.at_ms != now_ms) {
      out.push_back(
          fmt::format("audit #{} is dated {}, the call was made at {}", a.seq, a.at_ms, now_ms));
    }
    const bool signal = !a.from.empty() && a.from == a.to;
    if (refused && !IsRefusal(a.event)) {
      out.push_back(
          fmt::format("a refused call appended audit #{} ({})", a.seq, ToString(a.event)));
    }
    if (a.event == AuditEvent::kPrune) pruned = true;
    if (signal || a.job_id == 0) continue;
    if (a.execution_id == 0) {
      job_moves[a.job_id].push_back(&a);
    } else {
      exec_moves[a.execution_id].push_back(&a);
      if (a.event == AuditEvent::kCommit) committed.insert(a.execution_id);
    }
  }
  if (refused) {
    const bool same = before.jobs == after.jobs && before.executions == after.executions &&
                      before.effects == after.effects;
    if (!same) out.push_back("a refused call changed the store's records");
  }
  CheckKind<Job, JobState>("job", before.jobs, after.jobs, job_moves, &IsAuditedJobTransition,
                           &ParseJobState, out);
  CheckKind<Execution, ExecState>("execution", before.executions, after.executions, exec_moves,
                                  &IsAuditedExecTransition, &ParseExecState, out);
  const auto jobs_after = ById(after.jobs);
  for (const Job& j : before.jobs) {
    if (!jobs_after.contains(j.id) && !pruned) {
      out.push_back(fmt::format("job {} is gone with no prune entry", j.id));
    }
  }
  const auto effects_before = ById(before.effects);
  for (const EffectRecord& e : after.effects) {
    auto was = effects_before.find(e.id);
    if (was == effects_before.end()) {
      if (!committed.contains(e.execution_id)) {
        out.push_back(fmt::format("ledger effect {} of execution {} has no commit entry", e.id,
                                  e.execution_id));
      }
      continue;
    }
    // An outbox effect's delivery moves only with its entry, and only so.
    if (was->second->delivery == e.delivery) continue;
    auto entry = deliveries.find(e.job_id);
    const AuditEvent wanted =
        e.delivery == Delivery::kDelivered ? AuditEvent::kDeliver : AuditEvent::kRedeliver;
    if (entry == deliveries.end() || entry->second != wanted) {
      out.push_back(fmt::format("ledger effect {} went from {} to {} with no {} entry", e.id,
                                ToString(was->second->delivery), ToString(e.delivery),
                                ToString(wanted)));
    }
  }
  return out;
}

}  // namespace lab
