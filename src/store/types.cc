#include "store/types.h"

#include <fmt/core.h>

#include <algorithm>

#include "core/enum_names.h"

namespace lab {
namespace {

constexpr EnumNames<JobState, 5> kJobStates = {{
    {JobState::kPending, "PENDING"},
    {JobState::kRunning, "RUNNING"},
    {JobState::kSucceeded, "SUCCEEDED"},
    {JobState::kDead, "DEAD"},
    {JobState::kExpired, "EXPIRED"},
}};

constexpr EnumNames<ExecState, 6> kExecStates = {{
    {ExecState::kLeased, "LEASED"},
    {ExecState::kInProgress, "IN_PROGRESS"},
    {ExecState::kCommitted, "COMMITTED"},
    {ExecState::kDone, "DONE"},
    {ExecState::kAborted, "ABORTED"},
    {ExecState::kFailed, "FAILED"},
}};

constexpr EnumNames<Delivery, 3> kDeliveries = {{
    {Delivery::kNone, "none"},
    {Delivery::kPending, "pending"},
    {Delivery::kDelivered, "delivered"},
}};

constexpr EnumNames<AuditEvent, 22> kAuditEvents = {{
    {AuditEvent::kEnqueue, "enqueue"},     {AuditEvent::kClaim, "claim"},
    {AuditEvent::kBegin, "begin"},         {AuditEvent::kCommit, "commit"},
    {AuditEvent::kDuplicate, "duplicate"}, {AuditEvent::kFinish, "finish"},
    {AuditEvent::kFail, "fail"},           {AuditEvent::kRetry, "retry"},
    {AuditEvent::kDead, "dead"},           {AuditEvent::kReap, "reap"},
    {AuditEvent::kRelease, "release"},     {AuditEvent::kReconcile, "reconcile"},
    {AuditEvent::kRedrive, "redrive"},     {AuditEvent::kFenced, "fenced"},
    {AuditEvent::kPrune, "prune"},         {AuditEvent::kDefer, "defer"},
    {AuditEvent::kExpire, "expire"},       {AuditEvent::kLimit, "limit"},
    {AuditEvent::kCapped, "capped"},       {AuditEvent::kDrill, "drill"},
    {AuditEvent::kDeliver, "deliver"},     {AuditEvent::kRedeliver, "redeliver"},
}};

}  // namespace

std::string_view ToString(AuditEvent e) { return NameOf(kAuditEvents, e); }
std::optional<AuditEvent> ParseAuditEvent(std::string_view s) { return ValueOf(kAuditEvents, s); }

std::string_view ToString(Delivery d) { return NameOf(kDeliveries, d); }
std::optional<Delivery> ParseDelivery(std::string_view s) { return ValueOf(kDeliveries, s); }

std::string_view ToString(JobState s) { return NameOf(kJobStates, s); }
std::string_view ToString(ExecState s) { return NameOf(kExecStates, s); }
std::optional<JobState> ParseJobState(std::string_view s) { return ValueOf(kJobStates, s); }
std::optional<ExecState> ParseExecState(std::string_view s) { return ValueOf(kExecStates, s); }

// A queue name never holds '/' (core/text.h), so "<queue>/<key>" names one
// job across every queue, and "job:<id>" (no '/') can never equal it.
std::string Job::EffectKey() const {
  return key ? fmt::format("{}/{}", queue, *key) : fmt::format("job:{}", id);
}

PruneResult& PruneResult::operator+=(const PruneResult& other) {
  jobs += other.jobs;
  executions += other.executions;
  effects += other.effects;
  audit += other.audit;
  cutoff_ms = std::max(cutoff_ms, other.cutoff_ms);
  return *this;
}

}  // namespace lab
