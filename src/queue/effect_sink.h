// EffectSink: the outside world that a handler's effect lands in.
//
// With the commit boundary on, effects never come here directly: they are
// recorded in the store's ledger in the COMMITTED transaction. With it off,
// the worker applies the handler's effect here itself, before committing,
// as a naive worker would. EffectLog records every application so checkers
// can count effects per job. ExternalSystem is a downstream service (a
// payment API) that may honour idempotency keys: an effect under a key it
// has seen is acknowledged but not applied again. It says in the trace
// whether it applied an effect or deduplicated it. Thread-safety: neither
// is synchronized.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/trace.h"
#include "store/types.h"

namespace lab {

struct AppliedEffect {
  JobId job_id = 0;
  std::string key;  // The key it was applied under (JobContext::key).
  ExecutionId execution_id = 0;
  int token = 0;
  std::string payload;
  TimeMs at_ms = 0;
  // Made by the handler itself (a downstream call under its key, before any
  // commit), not applied by the worker on the handler's behalf.
  bool from_handler = false;
};

class EffectSink {
 public:
  virtual ~EffectSink() = default;
  virtual void Apply(const AppliedEffect& effect) = 0;
};

class EffectLog final : public EffectSink {
 public:
  // `trace`: where each effect applied is told, as the external system's
  // (actor "external"), for a run's timeline; none: untold.
  explicit EffectLog(TraceSink* trace = nullptr) : trace_(trace) {}
  void Apply(const AppliedEffect& effect) override;
  const std::vector<AppliedEffect>& applied() const { return applied_; }
  // Forgets every effect under `key`; returns how many.
  size_t Forget(const std::string& key) {
    return std::erase_if(applied_, [&](const AppliedEffect& e) { return e.key == key; });
  }

 private:
  TraceSink* trace_;
  std::vector<AppliedEffect> applied_;
};

class ExternalSystem final : public EffectSink {
 public:
  ExternalSystem(bool honours_keys, TraceSink* trace)
      : honours_keys_(honours_keys), trace_(trace) {}
  void Apply(const AppliedEffect& effect) override;
  const EffectLog& log() const { return log_; }
  // The system loses what it held under `key` (restored from a backup
  // older than it, say), acknowledged or not: as if it had never come.
  void Lose(const std::string& key, TimeMs at_ms);
  // Whether a call under `key` would be deduplicated: the system honours
  // keys and already holds an effect under it.
  bool Holds(const std::string& key) const { return honours_keys_ && seen_.contains(key); }
  int CountFor(JobId job) const {
    auto it = per_job_.find(job);
    return it == per_job_.end() ? 0 : it->second;
  }

 private:
  bool honours_keys_;
  TraceSink* trace_;
  EffectLog log_;
  std::set<std::string> seen_;
  std::map<JobId, int> per_job_;
};

}  // namespace lab
