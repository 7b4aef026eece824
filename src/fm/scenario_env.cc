#include "fm/scenario_env.h"

#include <fmt/core.h>

#include "check/liveness.h"
#include "core/assert.h"

namespace lab {

Result<std::unique_ptr<ScenarioEnv>> ScenarioEnv::Create(const std::string& store_url,
                                                         Guards guards) {
  std::unique_ptr<ScenarioEnv> env(new ScenarioEnv(store_url, guards));
  LAB_RETURN_IF_ERROR(env->OpenQueue());
  return env;
}

Result<void> ScenarioEnv::OpenQueue() {
  const QueueOptions options{.guards = guards_, .trace = &trace_};
  LAB_ASSIGN_OR_RETURN(std::unique_ptr<Store> opened, OpenStore(url_, clock_, options));
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

Worker& ScenarioEnv::AddWorker(const std::string& name, Handler handler, DurationMs lease_ms,
                               Clock* own_clock) {
  // Seeds are derived from the worker's position, never from anything outside.
  const uint64_t seed = 0x1ab0000 + workers_.size();
  workers_.push_back(std::make_unique<Worker>(
      *queue_, std::move(handler),
      WorkerOptions{.name = name, .lease_ms = lease_ms, .seed = seed, .own_clock = own_clock},
      &effects_));
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
  if (parsed.kind == StoreKind::kMemory) return {};  // Nothing on disk to reopen.
  queue_.reset();
  return OpenQueue();
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
  return violations;
}

}  // namespace lab
