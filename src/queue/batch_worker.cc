#include "queue/batch_worker.h"

#include <fmt/core.h>

#include <algorithm>

#include "core/assert.h"

namespace lab {

BatchWorker::BatchWorker(Queue& queue, Handler handler, WorkerOptions options, int batch,
                         EffectSink* sink)
    : queue_(queue),
      handler_(std::move(handler)),
      options_(std::move(options)),
      batch_(batch),
      sink_(sink),
      rng_(options_.seed),
      gates_(GatesFor(options_)) {
  LAB_ASSERT(handler_ != nullptr && options_.lease_ms > 0);
  LAB_ASSERT(batch_ >= 1 && batch_ <= kMaxClaimBatch);
  LAB_ASSERT(queue_.guards().commit_boundary || sink_ != nullptr);
}

Result<BatchStep> BatchWorker::Step() {
  switch (phase_) {
    case WorkerPhase::kIdle:
      return Claim();
    case WorkerPhase::kInProgress:
      return Run();
    case WorkerPhase::kRan:
      return Complete();
    default:
      break;
  }
  LAB_UNREACHABLE("a batch worker is idle, in progress or ran");
}

TimeMs BatchWorker::lease_expires_at_ms() const {
  TimeMs earliest = 0;
  for (const Held& h : held_) {
    if (h.dropped) continue;
    if (earliest == 0 || h.lease.expires_at_ms < earliest) earliest = h.lease.expires_at_ms;
  }
  return earliest;
}

Result<BatchStep> BatchWorker::Claim() {
  LAB_ASSERT(held_.empty());
  LAB_ASSIGN_OR_RETURN(auto leases,
                       queue_.store().Claim(ClaimFor(options_, queue_, batch_, /*begin=*/true)));
  BatchStep step;
  if (leases.empty()) return step;
  step.kind = StepKind::kClaimed;
  for (Lease& lease : leases) {
    if (lease.token > 1) ++step.redelivered;
    held_.push_back(Held{std::move(lease)});
  }
  step.claimed = static_cast<int>(held_.size());
  phase_ = WorkerPhase::kInProgress;
  return step;
}

Result<void> BatchWorker::Extend(Held& held) {
  auto beat = ExtendLease(queue_, options_, held.lease);
  if (!beat && beat.error().code == ErrorCode::kAborted) {
    held.dropped = true;  // Taken over: its outcome is not ours to report.
    fenced_.push_back(held.lease.execution_id);
  }
  return beat;
}

Result<void> BatchWorker::Heartbeat() {
  Result<void> first;
  for (Held& h : held_) {
    if (h.dropped) continue;
    auto beat = Extend(h);
    if (!beat && beat.error().code != ErrorCode::kAborted && first) {
      first = std::unexpected(beat.error());
    }
  }
  return first;
}

std::vector<const Lease*> BatchWorker::held() const {
  std::vector<const Lease*> out;
  for (const Held& h : held_) {
    if (!h.dropped) out.push_back(&h.lease);
  }
  return out;
}

BatchStep BatchWorker::Run() {
  BatchStep step{.kind = StepKind::kRan};
  for (Held& h : held_) {
    const Lease& lease = h.lease;
    if (auto held = HeldBack(queue_.guards(), gates_, lease, queue_.clock().NowMs())) {
      h.outcome = Completion{.lease = {lease.execution_id, lease.token}, .defer = std::move(*held)};
      continue;
    }
    const std::string key = HandlerKey(queue_.guards(), lease);
    HandlerResult result = handler_(JobContext{.job_id = lease.job.id,
                                               .key = key,
                                               .payload = lease.job.payload,
                                               .attempt = lease.token,
                                               .execution_id = lease.execution_id,
                                               .timeout_ms = lease.job.timeout_ms,
                                               .enqueued_at_ms = lease.job.created_at_ms,
                                               .keep_alive = [this, &h] { return Extend(h); }});
    RecordCall(queue_.guards(), gates_, result, queue_.clock().NowMs());
    if (h.dropped) {
      ++step.fenced;
      continue;
    }
    Completion c{.lease = {lease.execution_id, lease.token}};
    const TimeMs now = queue_.clock().NowMs();
    if (result.status != HandlerResult::Status::kOk) {
      const bool permanent = result.status == HandlerResult::Status::kPermanentError;
      c.fail = FailRequest{result.error, RetryAt(options_.retry, lease, permanent, now, rng_)};
    } else if (result.has_effect && !queue_.guards().commit_boundary) {
      ApplyOutsideCommit(*sink_, lease, key, result.effect, now);
    } else if (result.has_effect) {
      c.effect = Effect{std::move(result.effect), options_.outbox};
    }
    h.outcome = std::move(c);
  }
  phase_ = WorkerPhase::kRan;
  return step;
}

Result<BatchStep> BatchWorker::Complete() {
  std::vector<Completion> items;
  std::vector<ExecutionId> sent;
  for (const Held& h : held_) {
    if (h.dropped) continue;
    items.push_back(*h.outcome);
    sent.push_back(h.lease.execution_id);
  }
  BatchStep step{.kind = StepKind::kFinished};
  if (!items.empty()) {
    auto done = queue_.store().Complete(items);
    if (!done) {
      // Refused unwritten: the outcomes stay held, to be sent again while
      // the leases last. Unknown: the store, the reaper and the reconciler
      // own the jobs now.
      if (done.error().code == ErrorCode::kUnknownOutcome) Forget();
      return std::unexpected(done.error());
    }
    for (size_t i = 0; i < done->size(); ++i) {
      const auto& r = (*done)[i];
      if (!r) {
        ++step.fenced;  // Refused on its own: fenced, or no longer ours.
        if (r.error().code == ErrorCode::kAborted) fenced_.push_back(sent[i]);
        continue;
      }
      switch (*r) {
        case CompleteOutcome::kFinished:
          ++step.finished;
          break;
        case CompleteOutcome::kDuplicate:
          ++step.duplicates;
          break;
        case CompleteOutcome::kRetryScheduled:
          ++step.failed;
          break;
        case CompleteOutcome::kDeadLettered:
          ++step.failed;
          ++step.dead_lettered;
          break;
        case CompleteOutcome::kDeferred:
          ++step.deferred;
          break;
      }
    }
  }
  held_.clear();
  phase_ = WorkerPhase::kIdle;
  return step;
}

Result<void> BatchWorker::GiveUp(std::string_view why) {
  Result<void> first;
  for (const Held& h : held_) {
    if (h.dropped) continue;
    auto released = queue_.store().Release({h.lease.execution_id, h.lease.token}, why);
    if (!released && first) first = std::unexpected(released.error());
  }
  Forget();
  return first;
}

void BatchWorker::Forget() {
  held_.clear();
  phase_ = WorkerPhase::kIdle;
}

void BatchWorker::Crash() {
  Forget();
  // A budget and a breaker of its own die with the process.
  gates_ = GatesFor(options_);
}

std::string BatchWorker::Describe() const {
  if (held_.empty()) return "no job";
  return fmt::format("{} job(s) (ids {}..{})", held_.size(), held_.front().lease.job.id,
                     held_.back().lease.job.id);
}

}  // namespace lab
