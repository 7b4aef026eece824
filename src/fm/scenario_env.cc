#include "fm/scenario_env.h"

#include <fmt/core.h>

#include <atomic>

#include "check/liveness.h"
#include "core/assert.h"
#include "core/marks.h"
#include "store/fault_backend.h"

namespace lab {

Result<std::unique_ptr<ScenarioEnv>> ScenarioEnv::Create(const std::string& store_url,
                                                         Guards guards, bool sim_disk) {
  std::unique_ptr<ScenarioEnv> env(new ScenarioEnv(store_url, guards));
  if (sim_disk) {
    LAB_ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(store_url));
    if (parsed.kind != StoreKind::kSqlite) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("the simulated disk runs SQLite only, not '{}'", store_url));
    }
    // One disk per environment, named uniquely in the process (SQLite's
    // VFS list is process-wide); its seed is fixed, so runs repeat.
    static std::atomic<uint64_t> disks{0};
    env->disk_ = std::make_unique<SimDisk>(fmt::format("lab-scenario-disk-{}", ++disks), 0x5ce9e);
    env->disk_->set_hook([e = env.get()](DiskOp op, int64_t) -> std::optional<DiskFault> {
      return e->DiskFaultAt(op);
    });
  }
  LAB_RETURN_IF_ERROR(env->OpenQueue());
  return env;
}

std::optional<DiskFault> ScenarioEnv::DiskFaultAt(DiskOp op) {
  if (op != DiskOp::kSync || !fail_next_sync_) return std::nullopt;
  fail_next_sync_ = false;
  Note("the disk fails a sync (EIO); the kernel forgets the pages it could not write");
  return DiskFault::kSyncError;
}

Result<void> ScenarioEnv::OpenQueue() {
  QueueOptions options{.guards = guards_, .trace = &trace_};
  if (disk_) options.sqlite_vfs = disk_->vfs_name();
  LAB_ASSIGN_OR_RETURN(std::shared_ptr<StoreBackend> backend, OpenBackend(url_, options));
  // The process's death between two transactions: after the commit it was
  // told to die after, every call of this process fails as a dead
  // connection's would, until Restart().
  auto dies = [this](BackendOp op, int64_t) -> std::optional<BackendFault> {
    if (dead_) return BackendFault{StorageFault::kConnectionLost};
    if (op == BackendOp::kCommit && die_after_commit_) {
      die_after_commit_ = false;
      dead_ = true;
    }
    return std::nullopt;
  };
  auto opened = std::make_unique<RecordStore>(
      std::make_shared<FaultBackend>(std::move(backend), dies), clock_, StoreOptionsFor(guards_));
  record_ = opened.get();
  auto hook = [this](StoreOp op, int) -> std::optional<InjectedFault> {
    if (lose_reply_ != op) return std::nullopt;
    lose_reply_.reset();
    return InjectedFault{{ErrorCode::kUnknownOutcome, "the reply was lost on the way back"},
                         /*applied=*/true};
  };
  // The store the queue opened, now behind the fault layer.
  auto store = std::make_unique<FaultStore>(std::move(opened), hook);
  faults_ = store.get();
  queue_ = Queue::Adopt(std::move(store), clock_, options);
  return {};
}

Result<void> JobThread::Finish() {
  while (worker->phase() != WorkerPhase::kIdle) LAB_RETURN_IF_ERROR(worker->Step());
  return {};
}

Result<bool> JobThread::TakeNext() {
  LAB_RETURN_IF_ERROR(Finish());
  LAB_ASSIGN_OR_RETURN(StepResult claimed, worker->Step());
  if (claimed.kind == StepKind::kNoJob) return false;
  LAB_RETURN_IF_ERROR(worker->Step());
  return true;
}

Result<JobId> ScenarioEnv::Enqueue(const NewJob& job, std::string request) {
  if (request.empty()) request = job.key.value_or("");
  auto r = queue_->Enqueue(job);
  if (!r) {
    if (faults_->lost_enqueue()) {
      requests_.push_back({request, faults_->lost_enqueue()->job_id});
      Note(fmt::format("the enqueue of '{}' created job {}, but its reply was lost", request,
                       faults_->lost_enqueue()->job_id));
    }
    return std::unexpected(r.error());
  }
  acknowledged_.push_back(r->job_id);
  requests_.push_back({request, r->job_id});
  return r->job_id;
}

Handler ScenarioEnv::CallsApi(std::string verb) {
  return [this, verb = std::move(verb)](const JobContext& ctx) {
    api_.Apply({.job_id = ctx.job_id,
                .key = ctx.key,
                .execution_id = ctx.execution_id,
                .token = ctx.attempt,
                .payload = verb + " " + ctx.payload,
                .at_ms = clock_.NowMs(),
                .from_handler = true});
    return HandlerResult::OkCalledOut();
  };
}

Worker& ScenarioEnv::AddWorker(const std::string& name, Handler handler, DurationMs lease_ms,
                               Clock* own_clock) {
  return AddWorker(std::move(handler),
                   WorkerOptions{.name = name, .lease_ms = lease_ms, .own_clock = own_clock});
}

Worker& ScenarioEnv::AddWorker(Handler handler, WorkerOptions options) {
  // Seeds are derived from the worker's position, never from anything outside.
  options.seed = 0x1ab0000 + workers_.size();
  workers_.push_back(
      std::make_unique<Worker>(*queue_, std::move(handler), std::move(options), &effects_));
  return *workers_.back();
}

Result<void> ScenarioEnv::Steps(Worker& worker, int n) {
  for (int i = 0; i < n; ++i) LAB_RETURN_IF_ERROR(worker.Step());
  return {};
}

Result<void> ScenarioEnv::NoteJob(JobId job) {
  LAB_ASSIGN_OR_RETURN(Job j, queue_->store().GetJob(job));
  Note(fmt::format("job {} is {}", job, ToString(j.state)));
  return {};
}

Result<void> ScenarioEnv::Settle(Worker& worker, int polls, DurationMs every) {
  for (int poll = 0; poll < polls; ++poll) {
    Advance(every, fmt::format("{} polls again; the sweeps run", worker.name()));
    LAB_RETURN_IF_ERROR(queue_->Reap());
    LAB_RETURN_IF_ERROR(queue_->Reconcile());
    LAB_ASSIGN_OR_RETURN(bool ran, worker.ProcessOne());
    if (ran) Note(fmt::format("{} ran a job", worker.name()));
  }
  MarkSettled();
  return {};
}

void ScenarioEnv::Advance(DurationMs ms, const std::string& why) {
  clock_.AdvanceMs(ms);
  Note(fmt::format("{}s pass: {}", static_cast<double>(ms) / 1000.0, why));
}

void ScenarioEnv::AddFigure(std::string name, std::string value) {
  Note(fmt::format("{}: {}", name, value));
  figures_.push_back({std::move(name), std::move(value)});
}

void ScenarioEnv::Note(const std::string& text) {
  trace_.Emit({.time_ms = clock_.NowMs(), .actor = "scenario", .event = "note", .result = text});
}

std::vector<ExecutionId> ScenarioEnv::Fenced() const {
  std::vector<ExecutionId> all = fenced_;
  for (const auto& w : workers_) {
    all.insert(all.end(), w->fenced_executions().begin(), w->fenced_executions().end());
  }
  return all;
}

Result<void> ScenarioEnv::Restart() {
  for (auto& w : workers_) w->Crash();
  fenced_ = Fenced();  // What the dead workers saw outlives them.
  workers_.clear();
  Note("restart: every worker process is gone; the store is reopened");
  LAB_ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(url_));
  dead_ = false;
  if (parsed.kind == StoreKind::kMemory) {  // Nothing on disk to reopen.
    return record_->failed() ? record_->Reopen() : Result<void>();
  }
  queue_.reset();
  return OpenQueue();
}

Result<void> ScenarioEnv::ReopenStore() {
  Note("the store handle fail-stopped; the process reopens it, as a worker pool does");
  const MarkCheck recovered(Mark::kLogRecovered);
  LAB_RETURN_IF_ERROR(record_->Reopen());
  Note(recovered.hit() ? "the reopen folded the log into the database: checkpoint, sync, new log"
                       : "the reopen carries on with the log as it is");
  return {};
}

Result<void> ScenarioEnv::PowerLoss() {
  LAB_ASSERT_MSG(disk_ != nullptr, "a power loss needs the simulated disk");
  disk_->Crash();
  Note("the machine loses power: unsynced writes are kept, dropped or torn");
  LAB_RETURN_IF_ERROR(Restart());
  return record_->CheckIntegrity();
}

std::vector<Invariant> ScenarioEnv::Judged() const {
  std::vector<Invariant> judged = CheckedInvariants();
  if (settled_at_ms_) judged.push_back(Invariant::kLiveness);
  if (amplification_) judged.push_back(Invariant::kBoundedAmplification);
  if (judge_latency_) judged.push_back(Invariant::kBoundedLatency);
  return judged;
}

Result<std::vector<Violation>> ScenarioEnv::Check() {
  LAB_ASSIGN_OR_RETURN(Snapshot snapshot, queue_->store().ReadSnapshot());
  std::vector<AppliedEffect> external = effects_.applied();
  external.insert(external.end(), api_.log().applied().begin(), api_.log().applied().end());
  auto violations = CheckAll({.snapshot = snapshot,
                              .external = external,
                              .acknowledged = acknowledged_,
                              .recovered_at_ms = recovered_at_ms_,
                              .requests = requests_,
                              .fenced = Fenced()});
  if (settled_at_ms_) {
    auto stuck = CheckLiveness(snapshot, *settled_at_ms_);
    violations.insert(violations.end(), stuck.begin(), stuck.end());
  }
  if (amplification_) {
    auto amplified = CheckAmplification(snapshot, amplification_->calls, amplification_->budget,
                                        amplification_->breaker);
    violations.insert(violations.end(), amplified.begin(), amplified.end());
  }
  if (judge_latency_) {
    LAB_ASSIGN_OR_RETURN(auto limits, queue_->store().QueueLimits());
    auto late = CheckBoundedLatency(snapshot, limits);
    violations.insert(violations.end(), late.begin(), late.end());
  }
  return violations;
}

}  // namespace lab
