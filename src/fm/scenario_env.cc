#include "fm/scenario_env.h"

#include <fmt/core.h>

#include "core/assert.h"

namespace lab {

Result<std::unique_ptr<ScenarioEnv>> ScenarioEnv::Create(const std::string& store_url,
                                                         Guards guards) {
  std::unique_ptr<ScenarioEnv> env(new ScenarioEnv(store_url, guards));
  LAB_RETURN_IF_ERROR(env->OpenQueue());
  return env;
}

Result<void> ScenarioEnv::OpenQueue() {
  LAB_ASSIGN_OR_RETURN(queue_, Queue::Open(url_, clock_, {.guards = guards_, .trace = &trace_}));
  return {};
}

Result<JobId> ScenarioEnv::Enqueue(const NewJob& job) {
  LAB_ASSIGN_OR_RETURN(EnqueueResult r, queue_->Enqueue(job));
  acknowledged_.push_back(r.job_id);
  return r.job_id;
}

Worker& ScenarioEnv::AddWorker(const std::string& name, Handler handler, DurationMs lease_ms) {
  // Seeds are derived from the worker's position, never from anything outside.
  const uint64_t seed = 0x1ab0000 + workers_.size();
  workers_.push_back(std::make_unique<Worker>(
      *queue_, std::move(handler), WorkerOptions{.name = name, .lease_ms = lease_ms, .seed = seed},
      &effects_));
  return *workers_.back();
}

void ScenarioEnv::Advance(DurationMs ms, const std::string& why) {
  clock_.AdvanceMs(ms);
  Note(fmt::format("{}s pass: {}", static_cast<double>(ms) / 1000.0, why));
}

void ScenarioEnv::Note(const std::string& text) {
  trace_.Emit({.time_ms = clock_.NowMs(), .actor = "scenario", .event = "note", .result = text});
}

Result<void> ScenarioEnv::Restart() {
  for (auto& w : workers_) w->Crash();
  workers_.clear();
  Note("restart: every worker process is gone; the store is reopened");
  LAB_ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(url_));
  if (parsed.kind == StoreKind::kMemory) return {};  // Nothing on disk to reopen.
  queue_.reset();
  return OpenQueue();
}

Result<std::vector<Violation>> ScenarioEnv::Check() {
  LAB_ASSIGN_OR_RETURN(Snapshot snapshot, queue_->store().ReadSnapshot());
  return CheckAll({snapshot, effects_.applied(), acknowledged_, recovered_at_ms_});
}

}  // namespace lab
