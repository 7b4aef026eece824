// EffectSink: the outside world that a handler's effect lands in.
//
// With the commit boundary on, effects never come here directly: they are
// recorded in the store's ledger in the COMMITTED transaction. With it off,
// the worker applies the handler's effect here itself, before committing,
// as a naive worker would. EffectLog records every application so checkers
// can count effects per job. Thread-safety: EffectLog is not synchronized.
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "store/types.h"

namespace lab {

struct AppliedEffect {
  JobId job_id = 0;
  std::string key;  // The job's stable effect key.
  ExecutionId execution_id = 0;
  int token = 0;
  std::string payload;
  TimeMs at_ms = 0;
};

class EffectSink {
 public:
  virtual ~EffectSink() = default;
  virtual void Apply(const AppliedEffect& effect) = 0;
};

class EffectLog final : public EffectSink {
 public:
  void Apply(const AppliedEffect& effect) override { applied_.push_back(effect); }
  const std::vector<AppliedEffect>& applied() const { return applied_; }

 private:
  std::vector<AppliedEffect> applied_;
};

}  // namespace lab
