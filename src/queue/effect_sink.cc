#include "queue/effect_sink.h"

#include <fmt/core.h>

#include "core/marks.h"

namespace lab {
namespace {

// An effect as the external system's event on a run's timeline: applied,
// or (a key it holds) deduplicated.
void Tell(TraceSink* trace, const AppliedEffect& effect, bool duplicate) {
  if (trace == nullptr) return;
  trace->Emit({.time_ms = effect.at_ms,
               .actor = "external",
               .event = duplicate ? "dedupe" : "effect",
               .job = effect.job_id,
               .execution = effect.execution_id,
               .token = effect.token,
               .result = duplicate
                             ? fmt::format("key '{}' seen before: not applied again", effect.key)
                             : fmt::format("applied under key '{}'", effect.key)});
}

}  // namespace

void EffectLog::Apply(const AppliedEffect& effect) {
  Tell(trace_, effect, /*duplicate=*/false);
  applied_.push_back(effect);
}

void ExternalSystem::Apply(const AppliedEffect& effect) {
  const bool duplicate = honours_keys_ && !seen_.insert(effect.key).second;
  Tell(trace_, effect, duplicate);
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
