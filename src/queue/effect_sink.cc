#include "queue/effect_sink.h"

#include <fmt/core.h>

#include "core/marks.h"

namespace lab {

void ExternalSystem::Apply(const AppliedEffect& effect) {
  const bool duplicate = honours_keys_ && !seen_.insert(effect.key).second;
  if (trace_ != nullptr) {
    trace_->Emit({.time_ms = effect.at_ms,
                  .actor = "external",
                  .event = duplicate ? "dedupe" : "effect",
                  .job = effect.job_id,
                  .execution = effect.execution_id,
                  .token = effect.token,
                  .result = duplicate
                                ? fmt::format("key '{}' seen before: not applied again", effect.key)
                                : fmt::format("applied under key '{}'", effect.key)});
  }
  if (duplicate) {
    LAB_MARK(kDownstreamDeduplicated);
    return;
  }
  log_.Apply(effect);
  ++per_job_[effect.job_id];
}

void ExternalSystem::Lose(const std::string& key, TimeMs at_ms) {
  for (const AppliedEffect& e : log_.applied()) {
    if (e.key == key && --per_job_[e.job_id] == 0) per_job_.erase(e.job_id);
  }
  const size_t lost = log_.Forget(key);
  seen_.erase(key);
  if (trace_ != nullptr) {
    trace_->Emit({.time_ms = at_ms,
                  .actor = "external",
                  .event = "lost",
                  .result = fmt::format("{} effect(s) under key '{}' lost", lost, key)});
  }
}

}  // namespace lab
