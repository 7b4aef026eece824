#include "check/invariants.h"

#include <fmt/core.h>

#include <map>
#include <set>

#include "core/trace.h"
#include "store/state_machine.h"

namespace lab {
namespace {

// Every effect of a job, wherever it landed.
// One effect, from the ledger or the external system's log. Its words are
// made only when a violation quotes it: the checks run after every
// simulated seed, and almost never fire.
struct EffectView {
  ExecutionId execution_id;
  std::string where;  // "ledger" or "external"
  const EffectRecord* ledger = nullptr;
  const AppliedEffect* external = nullptr;

  std::string Describe() const {
    if (ledger != nullptr) {
      return fmt::format("ledger effect #{} key '{}' by exec {} at {}", ledger->id, ledger->key,
                         ledger->execution_id, RunTime(ledger->applied_at_ms));
    }
    return fmt::format("external effect key '{}' by exec {} (token {}) at {}", external->key,
                       external->execution_id, external->token, RunTime(external->at_ms));
  }
};

std::map<JobId, std::vector<EffectView>> EffectsByJob(const CheckInput& in) {
  std::map<JobId, std::vector<EffectView>> by_job;
  for (const EffectRecord& e : in.snapshot.effects) {
    by_job[e.job_id].push_back({e.execution_id, "ledger", &e, nullptr});
  }
  for (const AppliedEffect& e : in.external) {
    by_job[e.job_id].push_back({e.execution_id, "external", nullptr, &e});
  }
  return by_job;
}

std::map<ExecutionId, const Execution*> ExecutionsById(const Snapshot& s) {
  std::map<ExecutionId, const Execution*> by_id;
  for (const Execution& e : s.executions) by_id[e.id] = &e;
  return by_id;
}

std::string Describe(const AuditEntry& a) {
  return fmt::format("audit #{} at {} job {} exec {} {}: {} -> {}{}", a.seq, RunTime(a.at_ms),
                     a.job_id, a.execution_id, a.event, a.from.empty() ? "(new)" : a.from, a.to,
                     a.detail.empty() ? "" : " (" + a.detail + ")");
}

// Follows one entity's audit trail, reporting breaks in the chain and
// illegal moves. `legal` judges (from, to); `final_state` is the snapshot's.
template <typename State>
void CheckTrail(const std::vector<const AuditEntry*>& trail, std::string_view what, JobId job,
                const std::string& final_state, bool (*legal)(std::optional<State>, State),
                std::optional<State> (*parse)(std::string_view), std::vector<Violation>& out) {
  std::optional<std::string> current;
  for (const AuditEntry* a : trail) {
    const bool signal = !a->from.empty() && a->from == a->to;
    if (signal) {
      if (a->event != "fenced") {
        out.push_back(
            {"INV_003", job, fmt::format("{} has a non-transition entry", what), {Describe(*a)}});
      }
      continue;
    }
    const std::optional<State> from = a->from.empty() ? std::nullopt : parse(a->from);
    const std::optional<State> to = parse(a->to);
    const bool chained = a->from.empty() ? !current.has_value() : current == a->from;
    if (!to || (!a->from.empty() && !from) || !chained || !legal(from, *to)) {
      out.push_back(
          {"INV_003",
           job,
           fmt::format("{} moved {} -> {} (state was {})", what,
                       a->from.empty() ? "(new)" : a->from, a->to, current.value_or("(new)")),
           {Describe(*a)}});
    }
    current = a->to;
  }
  if (current != final_state) {
    out.push_back({"INV_003",
                   job,
                   fmt::format("{} is {} but its audit trail ends at {}", what, final_state,
                               current.value_or("(nothing)")),
                   {}});
  }
}

// Job state must agree with its executions (executions are the truth).
void CheckDerivedState(const Job& job, const std::vector<const Execution*>& execs,
                       std::vector<Violation>& out) {
  int live = 0, done = 0;
  for (const Execution* e : execs) {
    live += IsLive(e->state) ? 1 : 0;
    done += e->state == ExecState::kDone ? 1 : 0;
  }
  std::string problem;
  if (job.state == JobState::kSucceeded && done == 0) problem = "SUCCEEDED with no DONE execution";
  if (job.state != JobState::kSucceeded && done > 0)
    problem = "has a DONE execution but is not SUCCEEDED";
  if (job.state == JobState::kRunning && live == 0) problem = "RUNNING with no live execution";
  if ((job.state == JobState::kPending || job.state == JobState::kDead) && live > 0) {
    problem = fmt::format("{} while {} execution(s) are live", ToString(job.state), live);
  }
  if (live > 1) problem = fmt::format("{} live executions at once", live);
  if (!problem.empty()) {
    out.push_back({"INV_003", job.id, fmt::format("job {} {}", job.id, problem), {}});
  }
}

}  // namespace

std::string Violation::ToString() const {
  std::string s = fmt::format("{} job {}: {}", invariant, job_id, message);
  for (const auto& e : evidence) s += "\n    " + e;
  return s;
}

const std::vector<InvariantInfo>& Invariants() {
  static const std::vector<InvariantInfo> kInvariants = {
      {"INV_001", "At most one committed effect per job (per idempotency key)."},
      {"INV_002", "No effect without a durable commit; never a partial one."},
      {"INV_003", "State transitions are explicit and monotonic, and all audited."},
      {"INV_004",
       "Recovery restores correctness: nothing acknowledged lost, done without its "
       "effect, or duplicated."},
      {"INV_005", "Failure is detectable: every abnormal outcome leaves a durable signal."},
      {"INV_006",
       "Liveness: once faults stop, every job reaches a terminal state in bounded time."},
      {"INV_007", "Bounded amplification: work and downstream load stay within the retry budget."},
      {"INV_008",
       "Bounded latency under overload: accepted jobs meet deadlines; excess is refused "
       "explicitly."},
  };
  return kInvariants;
}

std::string_view InvariantStatement(std::string_view id) {
  for (const auto& inv : Invariants()) {
    if (inv.id == id) return inv.statement;
  }
  return "";
}

const std::vector<std::string_view>& CheckedInvariants() {
  static const std::vector<std::string_view> kChecked = {"INV_001", "INV_002", "INV_003",
                                                         "INV_004"};
  return kChecked;
}

std::vector<Violation> CheckInv001(const CheckInput& in) {
  std::vector<Violation> out;
  for (const auto& [job, effects] : EffectsByJob(in)) {
    if (effects.size() <= 1) continue;
    Violation v{"INV_001", job, fmt::format("{} effects applied for one job", effects.size()), {}};
    for (const auto& e : effects) v.evidence.push_back(e.Describe());
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<Violation> CheckInv002(const CheckInput& in) {
  std::vector<Violation> out;
  const auto execs = ExecutionsById(in.snapshot);
  for (const auto& [job, effects] : EffectsByJob(in)) {
    for (const auto& e : effects) {
      auto it = execs.find(e.execution_id);
      if (it == execs.end()) {
        out.push_back({"INV_002",
                       job,
                       fmt::format("effect by unknown execution {}", e.execution_id),
                       {e.Describe()}});
      } else if (!IsCommitted(it->second->state)) {
        out.push_back({"INV_002",
                       job,
                       fmt::format("effect applied by exec {} which never committed (it is {})",
                                   e.execution_id, ToString(it->second->state)),
                       {e.Describe()}});
      }
    }
  }
  return out;
}

std::vector<Violation> CheckInv003(const CheckInput& in) {
  std::vector<Violation> out;
  const Snapshot& s = in.snapshot;
  std::map<JobId, std::vector<const AuditEntry*>> job_trail;
  std::map<ExecutionId, std::vector<const AuditEntry*>> exec_trail;
  int64_t last_seq = 0;
  for (const AuditEntry& a : s.audit) {
    if (a.seq <= last_seq) {
      out.push_back({"INV_003", a.job_id, "audit sequence is not increasing", {Describe(a)}});
    }
    last_seq = a.seq;
    (a.execution_id == 0 ? job_trail[a.job_id] : exec_trail[a.execution_id]).push_back(&a);
  }
  std::map<JobId, std::vector<const Execution*>> execs_of;
  for (const Execution& e : s.executions) {
    execs_of[e.job_id].push_back(&e);
    CheckTrail<ExecState>(exec_trail[e.id], fmt::format("execution {}", e.id), e.job_id,
                          std::string(ToString(e.state)), &IsLegalExecTransition, &ParseExecState,
                          out);
  }
  for (const Job& j : s.jobs) {
    CheckTrail<JobState>(job_trail[j.id], fmt::format("job {}", j.id), j.id,
                         std::string(ToString(j.state)), &IsLegalJobTransition, &ParseJobState,
                         out);
    CheckDerivedState(j, execs_of[j.id], out);
  }
  return out;
}

std::vector<Violation> CheckInv004(const CheckInput& in) {
  std::vector<Violation> out;
  const Snapshot& s = in.snapshot;
  std::set<JobId> present;
  std::set<std::pair<std::string, std::string>> keys;
  for (const Job& j : s.jobs) {
    present.insert(j.id);
    if (j.key && !keys.insert({j.queue, *j.key}).second) {
      out.push_back({"INV_004",
                     j.id,
                     fmt::format("duplicate job for key '{}' in queue '{}'", *j.key, j.queue),
                     {}});
    }
  }
  for (JobId id : in.acknowledged) {
    if (!present.contains(id)) {
      out.push_back({"INV_004", id, "acknowledged job is missing from the store", {}});
    }
  }
  const auto effects = EffectsByJob(in);
  for (const Job& j : s.jobs) {
    auto it = effects.find(j.id);
    const size_t n = it == effects.end() ? 0 : it->second.size();
    if (j.state == JobState::kSucceeded && n == 0) {
      out.push_back({"INV_004", j.id, "reported SUCCEEDED without its effect", {}});
    }
    if (n > 1) {
      Violation v{
          "INV_004",
          j.id,
          fmt::format("job {} ended with its effect duplicated ({} effects)", ToString(j.state), n),
          {}};
      for (const auto& e : it->second) v.evidence.push_back(e.Describe());
      out.push_back(std::move(v));
    }
  }
  if (in.recovered_at_ms) {
    for (const Execution& e : s.executions) {
      if (IsLive(e.state) && e.lease_expires_at_ms <= *in.recovered_at_ms) {
        out.push_back({"INV_004",
                       e.job_id,
                       fmt::format("after recovery, exec {} is still {} on a lease that expired "
                                   "at {}",
                                   e.id, ToString(e.state), RunTime(e.lease_expires_at_ms)),
                       {}});
      }
    }
  }
  return out;
}

std::vector<Violation> CheckAll(const CheckInput& in) {
  std::vector<Violation> all;
  for (auto* check : {&CheckInv001, &CheckInv002, &CheckInv003, &CheckInv004}) {
    auto found = check(in);
    all.insert(all.end(), std::make_move_iterator(found.begin()),
               std::make_move_iterator(found.end()));
  }
  return all;
}

}  // namespace lab
