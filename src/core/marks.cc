#include "core/marks.h"

#include <atomic>

#include "core/enum_names.h"

namespace lab {
namespace {

constexpr EnumNames<Mark, static_cast<size_t>(Mark::kCount)> kMarkNames = {{
    {Mark::kFencedStaleToken, "fenced: stale token"},
    {Mark::kFencedEnded, "fenced: execution ended"},
    {Mark::kZombieCallAccepted, "zombie call accepted (fencing off)"},
    {Mark::kCommitDuplicate, "commit short-circuited: job already committed"},
    {Mark::kEffectOutsideCommit, "effect applied outside the commit"},
    {Mark::kExecutionScopedKey, "handler given a per-execution key"},
    {Mark::kLeaseReaped, "expired lease reaped"},
    {Mark::kLostAttemptNotCounted, "lost attempt not counted"},
    {Mark::kDeadLettered, "job dead-lettered"},
    {Mark::kReconciled, "committed execution finalized by the reconciler"},
    {Mark::kLeaseFromClientClock, "lease timed by the claimant's clock"},
    {Mark::kEnqueueFoundExisting, "enqueue found the existing job for its key"},
    {Mark::kEnqueueKeyDropped, "enqueue key ignored"},
    {Mark::kReplyLost, "reply lost after the call took effect"},
    {Mark::kDownstreamDeduplicated, "downstream deduplicated a repeated key"},
    {Mark::kStorageFaultInjected, "storage primitive failed by a fault backend"},
    {Mark::kHandleReopened, "fail-stopped store handle reopened"},
    {Mark::kLogRecovered, "log folded into the database on reopen"},
    {Mark::kEffectApartFromCommit, "effect written in a transaction apart from its commit"},
    {Mark::kDeferred, "job put back unrun, its attempt given back"},
    {Mark::kRetryHeld, "retry held back by the retry budget"},
    {Mark::kBreakerHeld, "call held back by the open circuit breaker"},
    {Mark::kJobExpired, "job expired: its deadline passed before it started"},
    {Mark::kEnqueueRefused, "enqueue refused: the queue was at its depth limit"},
    {Mark::kAttemptCapped, "a heartbeat refused: its attempt reached its lease cap"},
}};

std::atomic<uint64_t> counts[static_cast<size_t>(Mark::kCount)];

}  // namespace

std::string_view ToString(Mark mark) { return NameOf(kMarkNames, mark); }

uint64_t MarkCount(Mark mark) {
  return counts[static_cast<size_t>(mark)].load(std::memory_order_relaxed);
}

void HitMark(Mark mark) {
  counts[static_cast<size_t>(mark)].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace lab
