#include "sim/downstream.h"

#include <algorithm>

#include "core/assert.h"
#include "core/enum_names.h"

namespace lab {
namespace {

constexpr EnumNames<CallOutcome, 3> kCallOutcomes = {{{CallOutcome::kOk, "ok"},
                                                      {CallOutcome::kTimedOut, "timed out"},
                                                      {CallOutcome::kRefused, "refused"}}};

}  // namespace

std::string_view ToString(CallOutcome outcome) { return NameOf(kCallOutcomes, outcome); }

Downstream::Downstream(DownstreamOptions options) : options_(std::move(options)) {
  if (const auto& c = options_.capacity) {
    LAB_ASSERT(c->concurrency >= 1 && c->service_ms >= 1);
    LAB_ASSERT(c->timeout_ms >= 1 && c->slow_factor >= 1);
    for (int i = 0; i < c->concurrency; ++i) free_at_.push(0);
  }
}

DownstreamSecond& Downstream::Second(TimeMs t) {
  const auto i = static_cast<size_t>(t / 1'000);
  if (seconds_.size() <= i) seconds_.resize(i + 1);
  return seconds_[i];
}

CallReply Downstream::Call(TimeMs now_ms, JobId job, ExecutionId execution,
                           const std::string& caller, bool repeat) {
  LAB_ASSERT(calls_.empty() || calls_.back().at_ms <= now_ms);
  calls_.push_back({.at_ms = now_ms, .job_id = job, .execution_id = execution, .caller = caller});
  ok_at_.push_back(0);
  ++Second(now_ms).calls;
  const auto failed = [&](CallReply reply) {
    calls_.back().failed = true;
    calls_.back().answered_at_ms = reply.reply_at_ms;
    ++Second(now_ms).failed;
    return reply;
  };
  const auto answered = [&](TimeMs at) {
    ++Second(at).ok;
    ok_at_.back() = at;
    calls_.back().answered_at_ms = at;
    return CallReply{CallOutcome::kOk, at};
  };
  if (AnyContains(options_.outages, now_ms)) return failed({CallOutcome::kRefused, now_ms});
  if (!options_.capacity || repeat) return answered(now_ms);
  const DownstreamCapacity& c = *options_.capacity;
  // First come, first served, on whichever server is free first.
  const TimeMs start = std::max(now_ms, free_at_.top());
  free_at_.pop();
  const DurationMs service = c.service_ms * (AnyContains(c.brownouts, start) ? c.slow_factor : 1);
  const TimeMs done = start + service;
  free_at_.push(done);
  done_at_.push(done);
  if (done - now_ms > c.timeout_ms) {
    ++Second(done).wasted;  // Served all the same, for nobody.
    return failed({CallOutcome::kTimedOut, now_ms + c.timeout_ms});
  }
  return answered(done);
}

void Downstream::Fail(size_t index) {
  LAB_ASSERT(index < calls_.size() && !calls_[index].failed && ok_at_[index] > 0);
  calls_[index].failed = true;
  ++Second(calls_[index].at_ms).failed;
  // Its answer came in time, and was an error or never arrived: not goodput.
  --Second(ok_at_[index]).ok;
  ok_at_[index] = 0;
}

void Downstream::HeardAt(size_t index, TimeMs at_ms) {
  LAB_ASSERT(index < calls_.size() && at_ms >= calls_[index].at_ms);
  calls_[index].answered_at_ms = at_ms;
}

void Downstream::Lost(TimeMs now_ms, JobId job, ExecutionId execution, const std::string& caller,
                      TimeMs heard_at_ms) {
  LAB_ASSERT(calls_.empty() || calls_.back().at_ms <= now_ms);
  calls_.push_back({.at_ms = now_ms,
                    .job_id = job,
                    .execution_id = execution,
                    .caller = caller,
                    .failed = true,
                    .answered_at_ms = heard_at_ms,
                    .lost = true});
  ok_at_.push_back(0);
}

void Downstream::MarkLastDuplicate() {
  LAB_ASSERT(calls_.size() >= 2);
  calls_.back().duplicate = true;
}

int64_t Downstream::Backlog(TimeMs now_ms) {
  while (!done_at_.empty() && done_at_.top() <= now_ms) done_at_.pop();
  return static_cast<int64_t>(done_at_.size());
}

}  // namespace lab
