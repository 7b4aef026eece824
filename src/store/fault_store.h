// FaultStore: a Store decorator that fails chosen calls with chosen errors,
// for tests, scenarios and the simulator to see what callers do when the
// store misbehaves.
//
// Before each call it asks `fail(op, token)` (token: the call's fencing
// token, 0 for calls without a lease). A fault that is not `applied` is
// returned instead of calling the inner store, which is left untouched
// ("nothing written"). An `applied` fault is a lost reply: the inner store
// performs the call, then the caller sees the error (kUnknownOutcome, say)
// as if the answer had been lost on the way back. What an enqueue whose
// reply was lost did is kept until the next enqueue, for a checker that
// wants to know what the caller could not. Thread-safety: as the inner store; `fail` is called
// from the thread using this handle.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>

#include "core/marks.h"
#include "store/store.h"

namespace lab {

enum class StoreOp {
  kEnqueue,
  kClaim,
  kHeartbeat,
  kBegin,
  kCommit,
  kComplete,  // Store::Complete: several attempts' ends in one call.
  kFinish,
  kRelease,
  kDefer,
  kFail,
  kReap,
  kReconcile,
  kRedrive,
  kFinding,
  kDeliver,    // Store::MarkDelivered.
  kRedeliver,  // Store::Redeliver.
  kPrune,
  kLimit,
  kRead
};

struct InjectedFault {
  Error error;
  bool applied = false;  // True: a lost reply (the call took effect).
};

using FaultHook = std::function<std::optional<InjectedFault>(StoreOp op, int token)>;

class FaultStore final : public Store {
 public:
  FaultStore(std::unique_ptr<Store> inner, FaultHook fail)
      : inner_(std::move(inner)), fail_(std::move(fail)) {}

  Result<EnqueueResult> Enqueue(const NewJob& job) override {
    auto r = Call(StoreOp::kEnqueue, 0, [&] { return inner_->Enqueue(job); });
    lost_enqueue_ = !r && applied_ ? applied_enqueue_ : std::nullopt;
    return r;
  }
  Result<std::vector<EnqueueResult>> EnqueueBatch(std::span<const NewJob> jobs) override {
    return Call(StoreOp::kEnqueue, 0, [&] { return inner_->EnqueueBatch(jobs); });
  }
  // What the last enqueue call did, when its reply was lost.
  const std::optional<EnqueueResult>& lost_enqueue() const { return lost_enqueue_; }
  int64_t reconnects() const override { return inner_->reconnects(); }
  Result<std::vector<Lease>> Claim(const ClaimRequest& r) override {
    return Call(StoreOp::kClaim, 0, [&] { return inner_->Claim(r); });
  }
  Result<void> Heartbeat(const LeaseRef& l, DurationMs ms) override {
    return Call(StoreOp::kHeartbeat, l.token, [&] { return inner_->Heartbeat(l, ms); });
  }
  Result<void> Begin(const LeaseRef& l) override {
    return Call(StoreOp::kBegin, l.token, [&] { return inner_->Begin(l); });
  }
  using Store::Commit;
  Result<CommitOutcome> Commit(const LeaseRef& l, const std::optional<Effect>& e,
                               CommitThen then) override {
    return Call(StoreOp::kCommit, l.token, [&] { return inner_->Commit(l, e, then); });
  }
  Result<std::vector<Result<CompleteOutcome>>> Complete(std::span<const Completion> c) override {
    return Call(StoreOp::kComplete, c.empty() ? 0 : c.front().lease.token,
                [&] { return inner_->Complete(c); });
  }
  Result<void> Finish(const LeaseRef& l) override {
    return Call(StoreOp::kFinish, l.token, [&] { return inner_->Finish(l); });
  }
  Result<void> Release(const LeaseRef& l, std::string_view why) override {
    return Call(StoreOp::kRelease, l.token, [&] { return inner_->Release(l, why); });
  }
  Result<void> Defer(const LeaseRef& l, const DeferRequest& r) override {
    return Call(StoreOp::kDefer, l.token, [&] { return inner_->Defer(l, r); });
  }
  Result<FailOutcome> Fail(const LeaseRef& l, const FailRequest& r) override {
    return Call(StoreOp::kFail, l.token, [&] { return inner_->Fail(l, r); });
  }
  Result<int> ReapExpired() override {
    return Call(StoreOp::kReap, 0, [&] { return inner_->ReapExpired(); });
  }
  Result<int> Reconcile() override {
    return Call(StoreOp::kReconcile, 0, [&] { return inner_->Reconcile(); });
  }
  Result<void> Redrive(JobId job) override {
    return Call(StoreOp::kRedrive, 0, [&] { return inner_->Redrive(job); });
  }
  Result<void> RecordFinding(JobId job, std::string_view finding) override {
    return Call(StoreOp::kFinding, 0, [&] { return inner_->RecordFinding(job, finding); });
  }
  Result<std::vector<EffectRecord>> Outbox(int limit) override {
    return Call(StoreOp::kRead, 0, [&] { return inner_->Outbox(limit); });
  }
  Result<void> MarkDelivered(int64_t effect) override {
    return Call(StoreOp::kDeliver, 0, [&] { return inner_->MarkDelivered(effect); });
  }
  Result<void> Redeliver(int64_t effect, std::string_view why) override {
    return Call(StoreOp::kRedeliver, 0, [&] { return inner_->Redeliver(effect, why); });
  }
  Result<PruneResult> Prune(const PruneRequest& request) override {
    return Call(StoreOp::kPrune, 0, [&] { return inner_->Prune(request); });
  }
  Result<void> SetQueueLimit(const QueueLimit& limit) override {
    return Call(StoreOp::kLimit, 0, [&] { return inner_->SetQueueLimit(limit); });
  }
  Result<std::vector<QueueLimit>> QueueLimits() override {
    return Call(StoreOp::kRead, 0, [&] { return inner_->QueueLimits(); });
  }
  Result<Job> GetJob(JobId job) override {
    return Call(StoreOp::kRead, 0, [&] { return inner_->GetJob(job); });
  }
  Result<std::vector<Job>> ListJobs(const JobFilter& f) override {
    return Call(StoreOp::kRead, 0, [&] { return inner_->ListJobs(f); });
  }
  Result<JobDetail> InspectJob(JobId job) override {
    return Call(StoreOp::kRead, 0, [&] { return inner_->InspectJob(job); });
  }
  Result<std::vector<StateCount>> CountJobs() override {
    return Call(StoreOp::kRead, 0, [&] { return inner_->CountJobs(); });
  }
  Result<Snapshot> ReadSnapshot() override {
    return Call(StoreOp::kRead, 0, [&] { return inner_->ReadSnapshot(); });
  }

 private:
  template <typename F>
  auto Call(StoreOp op, int token, F call) -> decltype(call()) {
    applied_ = false;
    auto fault = fail_(op, token);
    if (!fault) return call();
    if (!fault->applied) return std::unexpected(fault->error);
    auto r = call();
    if (!r) return r;  // It failed on its own: that answer is not lost.
    applied_ = true;
    LAB_MARK(kReplyLost);
    if constexpr (std::is_same_v<decltype(r), Result<EnqueueResult>>) applied_enqueue_ = *r;
    return std::unexpected(fault->error);
  }

  std::unique_ptr<Store> inner_;
  FaultHook fail_;
  bool applied_ = false;
  std::optional<EnqueueResult> applied_enqueue_;
  std::optional<EnqueueResult> lost_enqueue_;
};

}  // namespace lab
