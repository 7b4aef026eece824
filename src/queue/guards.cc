#include "queue/guards.h"

#include <fmt/core.h>

#include <utility>

namespace lab {
namespace {

// The one list of guards: every name, member and description below is read
// from here (parsing, printing, All/None, the --guards help), so a guard
// added to the struct and to this table cannot be forgotten anywhere else.
constexpr GuardInfo kGuards[] = {
    {"commit_boundary", &Guards::commit_boundary,
     "effects only at COMMITTED, inside the store's transaction, once per job"},
    {"fencing", &Guards::fencing, "the store refuses calls with a stale fencing token"},
    {"reaper", &Guards::reaper, "expired leases are aborted and their jobs re-queued"},
    {"reconcile", &Guards::reconcile,
     "committed-but-unfinished executions of dead workers are finalized"},
    {"lost_attempts", &Guards::lost_attempts,
     "an attempt lost with its worker counts toward max_attempts (a poison job ends DEAD)"},
    {"store_clock", &Guards::store_clock,
     "leases are timed by the store's clock, never a worker's own"},
    {"enqueue_key", &Guards::enqueue_key,
     "an enqueue with a key already used returns that job instead of adding another"},
    {"stable_key", &Guards::stable_key,
     "the handler's effect key is the job's, the same on every attempt"},
    {"one_transaction", &Guards::one_transaction,
     "a commit writes the effect and the COMMITTED record in one transaction"},
    {"sync_before_ack", &Guards::sync_before_ack,
     "a call is acknowledged only once its commit is synced (SQLite synchronous=FULL)"},
    {"log_recovery", &Guards::log_recovery,
     "after a failed sync, reopening folds the log into the database before acknowledging "
     "again"},
    {"control_plane", &Guards::control_plane,
     "heartbeats and sweeps run on a thread and store handle of their own, never starved by "
     "job work"},
    {"retry_budget", &Guards::retry_budget,
     "retries call downstream only within a budget (a share of first attempts per window); "
     "a held retry waits, its attempt given back"},
    {"admission_control", &Guards::admission_control,
     "a queue at its depth limit refuses enqueues explicitly; a job past its deadline is "
     "expired, not run"},
    {"circuit_breaker", &Guards::circuit_breaker,
     "once a downstream system fails enough calls, jobs wait unrun (attempts given back) until "
     "a probe finds it back"},
    {"lease_cap", &Guards::lease_cap,
     "an attempt's lease is extended only up to its cap (the job's timeout, or an hour), so a "
     "worker cut off from what its handler calls cannot hold a job forever"},
    {"drill", &Guards::drill,
     "a reconciliation drill compares the queue with what the downstream system holds, records "
     "every difference and redrives a dead letter whose effect the system holds"},
};

std::string NameList() {
  std::string out;
  for (const GuardInfo& g : kGuards) out += fmt::format("{}{}", out.empty() ? "" : ", ", g.name);
  return out;
}

}  // namespace

std::span<const GuardInfo> Guards::Table() { return kGuards; }

Guards Guards::None() {
  Guards g;
  for (const GuardInfo& info : kGuards) g.*info.member = false;
  return g;
}

const std::vector<std::string_view>& Guards::Names() {
  static const std::vector<std::string_view> kNames = [] {
    std::vector<std::string_view> names;
    for (const GuardInfo& g : kGuards) names.push_back(g.name);
    return names;
  }();
  return kNames;
}

std::string Guards::Help() {
  std::string out = "all (default), none, or -NAME[,-NAME] to turn guards off; NAME is one of:";
  for (const GuardInfo& g : kGuards) out += fmt::format(" {} ({});", g.name, g.description);
  out.pop_back();
  return out;
}

bool* Guards::Find(std::string_view name) {
  return const_cast<bool*>(std::as_const(*this).Find(name));
}

const bool* Guards::Find(std::string_view name) const {
  for (const GuardInfo& g : kGuards) {
    if (g.name == name) return &(this->*g.member);
  }
  return nullptr;
}

Result<Guards> Guards::Parse(std::string_view spec) {
  if (spec == "all") return All();
  if (spec == "none") return None();
  Guards g = All();
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = spec.find(',', start);
    const std::string_view item = spec.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.size() < 2 || (item[0] != '-' && item[0] != '+')) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("bad guard spec '{}': expected all, none, or -NAME[,-NAME] "
                                   "with NAME one of {}",
                                   spec, NameList()));
    }
    bool* flag = g.Find(item.substr(1));
    if (flag == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("unknown guard '{}' (known: {})", item.substr(1), NameList()));
    }
    *flag = item[0] == '+';
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return g;
}

std::string Guards::ToString() const {
  if (*this == All()) return "all";
  if (*this == None()) return "none";
  std::string out;
  for (const GuardInfo& g : kGuards) {
    if (!(this->*g.member)) out += fmt::format("{}-{}", out.empty() ? "" : ",", g.name);
  }
  return out;
}

}  // namespace lab
