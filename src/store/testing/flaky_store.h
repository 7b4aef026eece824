// FlakyStore: a Store decorator that fails chosen calls with chosen errors,
// for tests of what callers do when the store misbehaves.
//
// Before each call it asks `fail(op, token)` (token: the call's fencing
// token, 0 for calls without a lease); an Error there is returned instead of
// calling the inner store, which is left untouched ("nothing written").
// Test-only. Thread-safety: as the inner store; `fail` may be called from
// the thread using this handle.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "store/store.h"

namespace lab::testing {

enum class StoreOp {
  kEnqueue,
  kClaim,
  kHeartbeat,
  kBegin,
  kCommit,
  kFinish,
  kRelease,
  kFail,
  kReap,
  kReconcile,
  kRedrive,
  kRead
};

using FailHook = std::function<std::optional<Error>(StoreOp op, int token)>;

class FlakyStore final : public Store {
 public:
  FlakyStore(std::unique_ptr<Store> inner, FailHook fail)
      : inner_(std::move(inner)), fail_(std::move(fail)) {}

  Result<EnqueueResult> Enqueue(const NewJob& job) override {
    return Call(StoreOp::kEnqueue, 0, [&] { return inner_->Enqueue(job); });
  }
  Result<std::vector<Lease>> Claim(const ClaimRequest& r) override {
    return Call(StoreOp::kClaim, 0, [&] { return inner_->Claim(r); });
  }
  Result<void> Heartbeat(const LeaseRef& l, DurationMs ms) override {
    return Call(StoreOp::kHeartbeat, l.token, [&] { return inner_->Heartbeat(l, ms); });
  }
  Result<void> Begin(const LeaseRef& l) override {
    return Call(StoreOp::kBegin, l.token, [&] { return inner_->Begin(l); });
  }
  Result<CommitOutcome> Commit(const LeaseRef& l, const std::optional<Effect>& e) override {
    return Call(StoreOp::kCommit, l.token, [&] { return inner_->Commit(l, e); });
  }
  Result<void> Finish(const LeaseRef& l) override {
    return Call(StoreOp::kFinish, l.token, [&] { return inner_->Finish(l); });
  }
  Result<void> Release(const LeaseRef& l, std::string_view why) override {
    return Call(StoreOp::kRelease, l.token, [&] { return inner_->Release(l, why); });
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
    if (auto error = fail_(op, token)) return std::unexpected(*error);
    return call();
  }

  std::unique_ptr<Store> inner_;
  FailHook fail_;
};

}  // namespace lab::testing
