#include "check/invariants.h"

#include <fmt/core.h>

#include <cctype>
#include <iterator>
#include <map>
#include <set>

#include "core/assert.h"
#include "core/text.h"
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

  std::string_view key() const { return ledger != nullptr ? ledger->key : external->key; }
  JobId job_id() const { return ledger != nullptr ? ledger->job_id : external->job_id; }
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
    // An outbox's intent is not the effect: its delivery is (in `external`).
    if (e.delivery != Delivery::kNone) continue;
    by_job[e.job_id].push_back({e.execution_id, "ledger", &e, nullptr});
  }
  for (const AppliedEffect& e : in.external) {
    by_job[e.job_id].push_back({e.execution_id, "external", nullptr, &e});
  }
  return by_job;
}

// Jobs the queue has given up (DEAD or EXPIRED) whose handler's downstream
// call the system applied all the same: the queue and the system disagree
// (FM_015), each with the effect that proves it.
struct Divergent {
  const Job* job;
  EffectView effect;
};
std::map<JobId, Divergent> GivenUpButApplied(const CheckInput& in) {
  std::map<JobId, const Job*> given_up;
  for (const Job& j : in.snapshot.jobs) {
    if (j.state == JobState::kDead || j.state == JobState::kExpired) given_up.emplace(j.id, &j);
  }
  std::map<JobId, Divergent> out;
  for (const AppliedEffect& e : in.external) {
    auto it = given_up.find(e.job_id);
    if (!e.from_handler || it == given_up.end()) continue;
    out.emplace(e.job_id, Divergent{it->second, {e.execution_id, "external", nullptr, &e}});
  }
  return out;
}

std::map<ExecutionId, const Execution*> ExecutionsById(const Snapshot& s) {
  std::map<ExecutionId, const Execution*> by_id;
  for (const Execution& e : s.executions) by_id[e.id] = &e;
  return by_id;
}

std::string Describe(const AuditEntry& a) {
  return fmt::format("audit #{} at {} job {} exec {} {}: {} -> {}{}", a.seq, RunTime(a.at_ms),
                     a.job_id, a.execution_id, ToString(a.event), a.from.empty() ? "(new)" : a.from,
                     a.to, a.detail.empty() ? "" : " (" + a.detail + ")");
}

// Follows one entity's audit trail, reporting breaks in the chain and
// illegal moves. `legal` judges (from, to, event); `final_state` is the snapshot's.
template <typename State>
void CheckTrail(const std::vector<const AuditEntry*>& trail, std::string_view what, JobId job,
                const std::string& final_state,
                bool (*legal)(std::optional<State>, State, AuditEvent),
                std::optional<State> (*parse)(std::string_view), std::vector<Violation>& out) {
  std::optional<std::string> current;
  for (const AuditEntry* a : trail) {
    const bool signal = !a->from.empty() && a->from == a->to;
    if (signal) {
      if (!IsSignal(a->event)) {
        out.push_back({Invariant::kAuditedTransitions,
                       job,
                       fmt::format("{} has a non-transition entry", what),
                       {Describe(*a)}});
      }
      continue;
    }
    const std::optional<State> from = a->from.empty() ? std::nullopt : parse(a->from);
    const std::optional<State> to = parse(a->to);
    const bool chained = a->from.empty() ? !current.has_value() : current == a->from;
    if (!to || (!a->from.empty() && !from) || !chained || !legal(from, *to, a->event)) {
      out.push_back({Invariant::kAuditedTransitions,
                     job,
                     fmt::format("{} moved {} -> {} by {} (state was {})", what,
                                 a->from.empty() ? "(new)" : a->from, a->to, ToString(a->event),
                                 current.value_or("(new)")),
                     {Describe(*a)}});
    }
    current = a->to;
  }
  if (current != final_state) {
    out.push_back({Invariant::kAuditedTransitions,
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
  if (job.state != JobState::kRunning && job.state != JobState::kSucceeded && live > 0) {
    problem = fmt::format("{} while {} execution(s) are live", ToString(job.state), live);
  }
  if (live > 1) problem = fmt::format("{} live executions at once", live);
  if (!problem.empty()) {
    out.push_back(
        {Invariant::kAuditedTransitions, job.id, fmt::format("job {} {}", job.id, problem), {}});
  }
}

}  // namespace

std::string Violation::ToString() const {
  std::string s = fmt::format("{} job {}: {}", lab::ToString(invariant), job_id, message);
  for (const auto& e : evidence) s += "\n    " + e;
  return s;
}

namespace {

struct InvariantInfo {
  Invariant invariant;
  std::string_view id;
  std::string_view statement;
};

constexpr InvariantInfo kInvariants[] = {
    {Invariant::kOneEffect, "INV_001",
     "At most one committed effect per job (per idempotency key)."},
    {Invariant::kNoEffectWithoutCommit, "INV_002",
     "No effect without a durable commit; never a partial one."},
    {Invariant::kAuditedTransitions, "INV_003",
     "State transitions are explicit and monotonic, and all audited."},
    {Invariant::kRecovery, "INV_004",
     "Recovery restores correctness: nothing acknowledged lost, done without its effect, or "
     "duplicated."},
    {Invariant::kDetectable, "INV_005",
     "Failure is detectable: every abnormal outcome leaves a durable signal."},
    {Invariant::kLiveness, "INV_006",
     "Liveness: once faults stop, every job reaches a terminal state in bounded time."},
    {Invariant::kBoundedAmplification, "INV_007",
     "Bounded amplification: work and downstream load stay within the retry budget."},
    {Invariant::kBoundedLatency, "INV_008",
     "Bounded latency under overload: accepted jobs meet deadlines; excess is refused "
     "explicitly."},
};
static_assert(std::size(kInvariants) == std::size(kAllInvariants));

const InvariantInfo& Info(Invariant invariant) {
  const auto i = static_cast<size_t>(invariant) - 1;
  LAB_ASSERT(i < std::size(kInvariants) && kInvariants[i].invariant == invariant);
  return kInvariants[i];
}

}  // namespace

std::string_view ToString(Invariant invariant) { return Info(invariant).id; }

std::string_view InvariantStatement(Invariant invariant) { return Info(invariant).statement; }

Result<Invariant> ParseInvariant(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const InvariantInfo& info : kInvariants) {
    if (info.id == upper) return info.invariant;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("unknown invariant '{}' (known: INV_001 to INV_{:03})",
                               Sanitize(text), std::size(kInvariants)));
}

std::string JoinInvariants(const std::vector<Invariant>& invariants) {
  std::set<Invariant> sorted(invariants.begin(), invariants.end());
  std::string out;
  for (Invariant inv : sorted) out += fmt::format("{}{}", out.empty() ? "" : ",", ToString(inv));
  return out;
}

std::vector<Invariant> ViolatedInvariants(const std::vector<Violation>& violations) {
  std::set<Invariant> ids;
  for (const Violation& v : violations) ids.insert(v.invariant);
  return {ids.begin(), ids.end()};
}

const std::vector<Invariant>& CheckedInvariants() {
  static const std::vector<Invariant> kChecked = {
      Invariant::kOneEffect, Invariant::kNoEffectWithoutCommit, Invariant::kAuditedTransitions,
      Invariant::kRecovery, Invariant::kDetectable};
  return kChecked;
}

std::set<ExecutionId> DeferredExecutions(const Snapshot& snapshot) {
  std::set<ExecutionId> deferred;
  for (const AuditEntry& a : snapshot.audit) {
    if (a.event == AuditEvent::kDefer && a.execution_id != 0) deferred.insert(a.execution_id);
  }
  return deferred;
}

std::vector<Violation> CheckInv001(const CheckInput& in) {
  std::vector<Violation> out;
  // Per job, and per effect key across jobs: a key is the effect's identity
  // downstream, so two jobs applying one key is one effect twice.
  std::map<std::string_view, std::vector<EffectView>> by_key;
  for (const auto& [job, effects] : EffectsByJob(in)) {
    for (const auto& e : effects) by_key[e.key()].push_back(e);
    if (effects.size() <= 1) continue;
    Violation v{Invariant::kOneEffect,
                job,
                fmt::format("{} effects applied for one job", effects.size()),
                {}};
    for (const auto& e : effects) v.evidence.push_back(e.Describe());
    out.push_back(std::move(v));
  }
  for (const auto& [key, effects] : by_key) {
    std::set<JobId> jobs;
    for (const auto& e : effects) jobs.insert(e.job_id());
    if (jobs.size() <= 1) continue;
    Violation v{Invariant::kOneEffect,
                *jobs.begin(),
                fmt::format("effect key '{}' applied by {} different jobs", key, jobs.size()),
                {}};
    for (const auto& e : effects) v.evidence.push_back(e.Describe());
    out.push_back(std::move(v));
  }
  // One producer request must be one job, however often it was retried.
  std::map<std::string_view, std::set<JobId>> jobs_of;
  for (const ProducerRequest& r : in.requests) jobs_of[r.id].insert(r.job_id);
  for (const auto& [request, jobs] : jobs_of) {
    if (jobs.size() <= 1) continue;
    std::string ids;
    for (JobId j : jobs) ids += fmt::format("{}{}", ids.empty() ? "" : ", ", j);
    out.push_back({Invariant::kOneEffect,
                   *jobs.begin(),
                   fmt::format("producer request '{}' became {} jobs ({}): each will apply "
                               "its effect",
                               request, jobs.size(), ids),
                   {}});
  }
  return out;
}

std::vector<Violation> CheckInv002(const CheckInput& in) {
  std::vector<Violation> out;
  const auto execs = ExecutionsById(in.snapshot);
  std::set<JobId> committed_jobs, given_up;  // Given up: DEAD or EXPIRED, with the reason.
  for (const Execution& e : in.snapshot.executions) {
    if (IsCommitted(e.state)) committed_jobs.insert(e.job_id);
  }
  for (const Job& j : in.snapshot.jobs) {
    if (j.state == JobState::kDead || j.state == JobState::kExpired) given_up.insert(j.id);
  }
  for (const auto& [job, effects] : EffectsByJob(in)) {
    for (const auto& e : effects) {
      auto it = execs.find(e.execution_id);
      if (e.external != nullptr && e.external->from_handler) {
        // A handler's own call under the job's key happens before any
        // commit by design; what must follow is the job's commit (by this
        // execution or the retry whose call the downstream deduplicated).
        // A job dead-lettered (or expired: a retry past its deadline) after
        // its call is the divergence between the queue and the downstream
        // system that the reconciliation drill is for: INV_004 and INV_005
        // judge it (FM_015).
        if (!committed_jobs.contains(job) && !given_up.contains(job)) {
          out.push_back({Invariant::kNoEffectWithoutCommit,
                         job,
                         fmt::format("the handler's downstream call was applied, and job {} "
                                     "never committed",
                                     job),
                         {e.Describe()}});
        }
        continue;
      }
      if (it == execs.end()) {
        out.push_back({Invariant::kNoEffectWithoutCommit,
                       job,
                       fmt::format("effect by unknown execution {}", e.execution_id),
                       {e.Describe()}});
      } else if (!IsCommitted(it->second->state)) {
        out.push_back({Invariant::kNoEffectWithoutCommit,
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
      out.push_back({Invariant::kAuditedTransitions,
                     a.job_id,
                     "audit sequence is not increasing",
                     {Describe(a)}});
    }
    last_seq = a.seq;
    (a.execution_id == 0 ? job_trail[a.job_id] : exec_trail[a.execution_id]).push_back(&a);
  }
  std::map<JobId, std::vector<const Execution*>> execs_of;
  for (const Execution& e : s.executions) {
    execs_of[e.job_id].push_back(&e);
    CheckTrail<ExecState>(exec_trail[e.id], fmt::format("execution {}", e.id), e.job_id,
                          std::string(ToString(e.state)), &IsAuditedExecTransition, &ParseExecState,
                          out);
  }
  for (const Job& j : s.jobs) {
    CheckTrail<JobState>(job_trail[j.id], fmt::format("job {}", j.id), j.id,
                         std::string(ToString(j.state)), &IsAuditedJobTransition, &ParseJobState,
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
      out.push_back({Invariant::kRecovery,
                     j.id,
                     fmt::format("duplicate job for key '{}' in queue '{}'", *j.key, j.queue),
                     {}});
    }
  }
  for (JobId id : in.acknowledged) {
    if (!present.contains(id)) {
      out.push_back({Invariant::kRecovery, id, "acknowledged job is missing from the store", {}});
    }
  }
  const auto effects = EffectsByJob(in);
  for (const Job& j : s.jobs) {
    auto it = effects.find(j.id);
    const size_t n = it == effects.end() ? 0 : it->second.size();
    if (j.state == JobState::kSucceeded && n == 0) {
      out.push_back({Invariant::kRecovery, j.id, "reported SUCCEEDED without its effect", {}});
    }
    if (n > 1) {
      Violation v{
          Invariant::kRecovery,
          j.id,
          fmt::format("job {} ended with its effect duplicated ({} effects)", ToString(j.state), n),
          {}};
      for (const auto& e : it->second) v.evidence.push_back(e.Describe());
      out.push_back(std::move(v));
    }
  }
  // A dead letter whose effect the downstream system holds: failed in the
  // queue, done in the world (the reconciliation drill redrives it, and its
  // call under the same key is deduplicated).
  for (const auto& [job, d] : GivenUpButApplied(in)) {
    if (d.job->state != JobState::kDead) continue;
    out.push_back({Invariant::kRecovery,
                   job,
                   fmt::format("job {} is DEAD ({}), but the downstream system holds its effect "
                               "under key '{}': the queue and the system disagree",
                               job, d.job->last_error, d.effect.key()),
                   {d.effect.Describe()}});
  }
  if (in.recovered_at_ms) {
    for (const Execution& e : s.executions) {
      if (IsLive(e.state) && e.lease_expires_at_ms <= *in.recovered_at_ms) {
        out.push_back({Invariant::kRecovery,
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

std::vector<Violation> CheckInv005(const CheckInput& in) {
  std::vector<Violation> out;
  const Snapshot& s = in.snapshot;
  // The audit entries that carry a reason: transitions with a detail, and
  // fenced signals.
  std::set<std::pair<ExecutionId, std::string_view>> exec_signals;
  std::set<JobId> dead_signals;
  for (const AuditEntry& a : s.audit) {
    if (a.execution_id != 0 && !a.detail.empty()) exec_signals.insert({a.execution_id, a.to});
    // A refusal (fenced, or capped at its lease cap) is what a worker that
    // was turned away records as fenced.
    if (a.execution_id != 0 && IsRefusal(a.event)) exec_signals.insert({a.execution_id, "fenced"});
    if (a.execution_id == 0 && a.to == ToString(JobState::kDead) && !a.detail.empty()) {
      dead_signals.insert(a.job_id);
    }
  }
  for (const Execution& e : s.executions) {
    if (e.state != ExecState::kAborted && e.state != ExecState::kFailed) continue;
    if (e.reason.empty() || !exec_signals.contains({e.id, ToString(e.state)})) {
      out.push_back(
          {Invariant::kDetectable,
           e.job_id,
           fmt::format("exec {} ended {} without a recorded reason", e.id, ToString(e.state)),
           {}});
    }
  }
  // A divergence between the queue and a downstream system is abnormal
  // too: a drill's finding must record it.
  std::set<JobId> drilled;
  for (const AuditEntry& a : s.audit) {
    if (a.event == AuditEvent::kDrill) drilled.insert(a.job_id);
  }
  for (const auto& [job, d] : GivenUpButApplied(in)) {
    if (drilled.contains(job)) continue;
    out.push_back({Invariant::kDetectable,
                   job,
                   fmt::format("job {} was given up, but the downstream system holds its effect "
                               "under key '{}', and no drill recorded the divergence",
                               job, d.effect.key()),
                   {d.effect.Describe()}});
  }
  // So is an outbox effect its receiver acknowledged and no longer holds.
  std::set<std::string_view> held;
  for (const AppliedEffect& e : in.external) held.insert(e.key);
  for (const EffectRecord& e : s.effects) {
    if (e.delivery != Delivery::kDelivered || held.contains(e.key) || drilled.contains(e.job_id)) {
      continue;
    }
    out.push_back({Invariant::kDetectable,
                   e.job_id,
                   fmt::format("job {}'s outbox effect under key '{}' was acknowledged at {}, the "
                               "receiver no longer holds it, and no drill recorded the divergence",
                               e.job_id, e.key, RunTime(e.delivered_at_ms)),
                   {}});
  }
  for (const Job& j : s.jobs) {
    if (j.state == JobState::kDead && (j.last_error.empty() || !dead_signals.contains(j.id))) {
      out.push_back({Invariant::kDetectable,
                     j.id,
                     fmt::format("job {} is DEAD without a dead-letter record saying why", j.id),
                     {}});
    }
    // An exhausted budget must end in a dead letter, not a silent loop.
    const bool over = j.AttemptsUsed() > j.max_attempts ||
                      (j.state == JobState::kPending && j.AttemptsUsed() >= j.max_attempts);
    if (over) {
      out.push_back({Invariant::kDetectable,
                     j.id,
                     fmt::format("job {} has used {} of its {} attempts and is {}, not "
                                 "dead-lettered",
                                 j.id, j.AttemptsUsed(), j.max_attempts, ToString(j.state)),
                     {}});
    }
  }
  const auto execs = ExecutionsById(s);
  for (ExecutionId id : std::set<ExecutionId>(in.fenced.begin(), in.fenced.end())) {
    if (!exec_signals.contains({id, "fenced"})) {
      auto it = execs.find(id);
      out.push_back({Invariant::kDetectable,
                     it == execs.end() ? 0 : it->second->job_id,
                     fmt::format("a call of exec {} was refused as fenced, with no fenced "
                                 "or capped record in the audit trail",
                                 id),
                     {}});
    }
  }
  return out;
}

std::vector<Violation> CheckAll(const CheckInput& in) {
  std::vector<Violation> all;
  for (auto* check : {&CheckInv001, &CheckInv002, &CheckInv003, &CheckInv004, &CheckInv005}) {
    auto found = check(in);
    // A violation always names what is wrong, for the reader of the report.
    for (const Violation& v : found) LAB_ASSERT(!v.message.empty());
    all.insert(all.end(), std::make_move_iterator(found.begin()),
               std::make_move_iterator(found.end()));
  }
  return all;
}

}  // namespace lab
