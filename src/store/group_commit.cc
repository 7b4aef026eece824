#include "store/group_commit.h"

#include "core/assert.h"

namespace lab {

namespace {

// One thread's view of the group: a Store whose writes are batched. It is
// fail-stopped, as any handle, once a call of its came back with an unknown
// outcome or a fail-stopped store.
class GroupHandle final : public Store {
 public:
  explicit GroupHandle(std::shared_ptr<CommitGroup> group) : group_(std::move(group)) {}

  Result<EnqueueResult> Enqueue(const NewJob& job) override {
    return Write<EnqueueResult>([&](RecordStore& s) { return s.Enqueue(job); });
  }
  Result<std::vector<EnqueueResult>> EnqueueBatch(std::span<const NewJob> jobs) override {
    return Write<std::vector<EnqueueResult>>([&](RecordStore& s) { return s.EnqueueBatch(jobs); });
  }
  Result<std::vector<Lease>> Claim(const ClaimRequest& request) override {
    return Write<std::vector<Lease>>([&](RecordStore& s) { return s.Claim(request); });
  }
  Result<void> Heartbeat(const LeaseRef& lease, DurationMs lease_ms) override {
    return Write<void>([&](RecordStore& s) { return s.Heartbeat(lease, lease_ms); });
  }
  Result<void> Begin(const LeaseRef& lease) override {
    return Write<void>([&](RecordStore& s) { return s.Begin(lease); });
  }
  using Store::Commit;
  Result<CommitOutcome> Commit(const LeaseRef& lease, const std::optional<Effect>& effect,
                               CommitThen then) override {
    return Write<CommitOutcome>([&](RecordStore& s) { return s.Commit(lease, effect, then); });
  }
  Result<std::vector<Result<CompleteOutcome>>> Complete(
      std::span<const Completion> items) override {
    return Write<std::vector<Result<CompleteOutcome>>>(
        [&](RecordStore& s) { return s.Complete(items); });
  }
  Result<void> Finish(const LeaseRef& lease) override {
    return Write<void>([&](RecordStore& s) { return s.Finish(lease); });
  }
  Result<void> Release(const LeaseRef& lease, std::string_view why) override {
    return Write<void>([&](RecordStore& s) { return s.Release(lease, why); });
  }
  Result<void> Defer(const LeaseRef& lease, const DeferRequest& request) override {
    return Write<void>([&](RecordStore& s) { return s.Defer(lease, request); });
  }
  Result<FailOutcome> Fail(const LeaseRef& lease, const FailRequest& request) override {
    return Write<FailOutcome>([&](RecordStore& s) { return s.Fail(lease, request); });
  }
  Result<int> ReapExpired() override {
    return Write<int>([&](RecordStore& s) { return s.ReapExpired(); });
  }
  Result<int> Reconcile() override {
    return Write<int>([&](RecordStore& s) { return s.Reconcile(); });
  }
  Result<void> Redrive(JobId job) override {
    return Write<void>([&](RecordStore& s) { return s.Redrive(job); });
  }
  Result<void> RecordFinding(JobId job, std::string_view finding) override {
    return Write<void>([&](RecordStore& s) { return s.RecordFinding(job, finding); });
  }
  Result<std::vector<EffectRecord>> Outbox(int limit) override {
    return Read<std::vector<EffectRecord>>([&](RecordStore& s) { return s.Outbox(limit); });
  }
  Result<void> MarkDelivered(int64_t effect) override {
    return Write<void>([&](RecordStore& s) { return s.MarkDelivered(effect); });
  }
  Result<void> Redeliver(int64_t effect, std::string_view why) override {
    return Write<void>([&](RecordStore& s) { return s.Redeliver(effect, why); });
  }
  Result<PruneResult> Prune(const PruneRequest& request) override {
    return Write<PruneResult>([&](RecordStore& s) { return s.Prune(request); });
  }

  Result<void> SetQueueLimit(const QueueLimit& limit) override {
    return Write<void>([&](RecordStore& s) { return s.SetQueueLimit(limit); });
  }
  Result<std::vector<QueueLimit>> QueueLimits() override {
    return Read<std::vector<QueueLimit>>([&](RecordStore& s) { return s.QueueLimits(); });
  }

  Result<Job> GetJob(JobId job) override {
    return Read<Job>([&](RecordStore& s) { return s.GetJob(job); });
  }
  Result<std::vector<Job>> ListJobs(const JobFilter& filter) override {
    return Read<std::vector<Job>>([&](RecordStore& s) { return s.ListJobs(filter); });
  }
  Result<JobDetail> InspectJob(JobId job) override {
    return Read<JobDetail>([&](RecordStore& s) { return s.InspectJob(job); });
  }
  Result<std::vector<StateCount>> CountJobs() override {
    return Read<std::vector<StateCount>>([&](RecordStore& s) { return s.CountJobs(); });
  }
  Result<Snapshot> ReadSnapshot() override {
    return Read<Snapshot>([&](RecordStore& s) { return s.ReadSnapshot(); });
  }
  int64_t reconnects() const override { return group_->reconnects(); }

 private:
  template <typename T>
  Result<T> Write(const std::function<Result<T>(RecordStore&)>& op) {
    LAB_RETURN_IF_ERROR(CheckNotFailed());
    std::optional<Result<T>> out;
    CommitGroup::Call call{.run = [&](RecordStore& s) { out.emplace(op(s)); }};
    group_->Write(call);
    if (call.batch_error) return Failed<T>(*call.batch_error);
    LAB_ASSERT(out.has_value());
    if (!*out) return Failed<T>(out->error());
    return std::move(*out);
  }
  template <typename T>
  Result<T> Read(const std::function<Result<T>(RecordStore&)>& op) {
    LAB_RETURN_IF_ERROR(CheckNotFailed());
    std::optional<Result<T>> out;
    LAB_RETURN_IF_ERROR(group_->Read([&](RecordStore& s) -> Result<void> {
      out.emplace(op(s));
      return {};
    }));
    if (!*out) return Failed<T>(out->error());
    return std::move(*out);
  }
  template <typename T>
  Result<T> Failed(const Error& error) {
    if (error.code == ErrorCode::kUnknownOutcome || error.code == ErrorCode::kFailStopped) {
      failed_ = true;
    }
    return std::unexpected(error);
  }
  Result<void> CheckNotFailed() const {
    if (!failed_) return {};
    return FailStopped();
  }

  std::shared_ptr<CommitGroup> group_;
  bool failed_ = false;
};

}  // namespace

Result<std::shared_ptr<CommitGroup>> CommitGroup::Open(Opener open, int max_batch) {
  LAB_ASSERT(open != nullptr && max_batch >= 1);
  std::shared_ptr<CommitGroup> group(new CommitGroup(std::move(open), max_batch));
  std::lock_guard lock(group->backend_mu_);
  LAB_RETURN_IF_ERROR(group->Backend());
  return group;
}

std::unique_ptr<Store> CommitGroup::NewHandle() {
  return std::make_unique<GroupHandle>(shared_from_this());
}

GroupStats CommitGroup::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

int CommitGroup::waiting() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(queue_.size());
}

int64_t CommitGroup::reconnects() const {
  std::lock_guard lock(mu_);
  return reopened_;
}

Result<RecordStore*> CommitGroup::Backend() {
  if (backend_ && !backend_->failed()) return backend_.get();
  const bool reopening = backend_ != nullptr;
  backend_.reset();
  LAB_ASSIGN_OR_RETURN(backend_, open_());
  LAB_ASSERT(backend_ != nullptr);
  if (reopening) {
    std::lock_guard lock(mu_);
    ++reopened_;
  }
  return backend_.get();
}

void CommitGroup::Write(Call& call) {
  std::unique_lock lock(mu_);
  queue_.push_back(&call);
  for (;;) {
    cv_.wait(lock, [&] { return call.done || !leader_; });
    if (call.done) return;
    // Lead one batch: every call queued so far, this one among the first
    // max_batch unless more were waiting before it (then lead again).
    leader_ = true;
    std::deque<Call*> batch;
    while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    lock.unlock();
    {
      std::lock_guard backend_lock(backend_mu_);
      RunBatch(batch);
    }
    lock.lock();
    for (Call* c : batch) c->done = true;
    ++stats_.batches;
    stats_.calls += static_cast<int64_t>(batch.size());
    leader_ = false;
    cv_.notify_all();
  }
}

void CommitGroup::RunBatch(std::deque<Call*>& batch) {
  auto fail_all = [&](const Error& error) {
    for (Call* c : batch) c->batch_error = error;
  };
  auto backend = Backend();
  if (!backend) return fail_all(backend.error());
  RecordStore& store = **backend;
  if (auto begun = store.BeginGroup(); !begun) return fail_all(begun.error());
  for (Call* c : batch) c->run(store);
  if (auto ended = store.EndGroup(); !ended) fail_all(ended.error());
}

Result<void> CommitGroup::Read(const std::function<Result<void>(RecordStore&)>& read) {
  std::lock_guard lock(backend_mu_);
  LAB_ASSIGN_OR_RETURN(RecordStore * store, Backend());
  return read(*store);
}

}  // namespace lab
