#include "queue/control_plane.h"

#include <fmt/core.h>

#include <algorithm>

#include "core/assert.h"

namespace lab {

namespace {

std::vector<HeldLease> LeasesIn(const std::vector<const Lease*>& leases, DurationMs lease_ms) {
  std::vector<HeldLease> held;
  for (const Lease* lease : leases) {
    held.push_back({.ref = {lease->execution_id, lease->token},
                    .lease_ms = lease_ms,
                    .expires_at_ms = lease->expires_at_ms});
  }
  return held;
}

}  // namespace

std::vector<HeldLease> LeasesOf(const Worker& worker, DurationMs lease_ms) {
  if (!worker.lease()) return {};
  return LeasesIn({&*worker.lease()}, lease_ms);
}

std::vector<HeldLease> LeasesOf(const BatchWorker& worker, DurationMs lease_ms) {
  return LeasesIn(worker.held(), lease_ms);
}

void LeaseBook::Publish(int slot, const std::vector<HeldLease>& leases) {
  std::lock_guard lock(mu_);
  std::vector<HeldLease>& held = held_[slot];
  std::vector<HeldLease> next = leases;
  for (HeldLease& lease : next) {
    for (const HeldLease& before : held) {
      if (before.ref == lease.ref) {
        lease.expires_at_ms = std::max(lease.expires_at_ms, before.expires_at_ms);
        lease.fenced = lease.fenced || before.fenced;
      }
    }
  }
  held = std::move(next);
}

TimeMs LeaseBook::ExpiresAt(int slot) const {
  std::lock_guard lock(mu_);
  auto it = held_.find(slot);
  if (it == held_.end() || it->second.empty()) return 0;
  TimeMs first = it->second.front().expires_at_ms;
  for (const HeldLease& lease : it->second) first = std::min(first, lease.expires_at_ms);
  return first;
}

std::vector<std::pair<int, HeldLease>> LeaseBook::All() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<int, HeldLease>> all;
  for (const auto& [slot, leases] : held_) {
    for (const HeldLease& lease : leases) all.emplace_back(slot, lease);
  }
  return all;
}

void LeaseBook::Update(const LeaseRef& ref, const std::function<void(HeldLease&)>& change) {
  std::lock_guard lock(mu_);
  for (auto& [slot, leases] : held_) {
    for (HeldLease& lease : leases) {
      if (lease.ref == ref) change(lease);
    }
  }
}

void LeaseBook::Extended(const LeaseRef& ref, TimeMs expires_at_ms) {
  Update(ref, [&](HeldLease& lease) {
    lease.expires_at_ms = std::max(lease.expires_at_ms, expires_at_ms);
  });
}

void LeaseBook::Fenced(const LeaseRef& ref) {
  Update(ref, [](HeldLease& lease) { lease.fenced = true; });
}

bool LeaseBook::Holds(const LeaseRef& ref) const {
  std::lock_guard lock(mu_);
  for (const auto& [slot, leases] : held_) {
    for (const HeldLease& lease : leases) {
      if (lease.ref == ref) return true;
    }
  }
  return false;
}

SweepTally& SweepTally::operator+=(const SweepTally& o) {
  reaped += o.reaped;
  reconciled += o.reconciled;
  pruned += o.pruned;
  errors += o.errors;
  return *this;
}

SweepTally RunSweeps(Queue& queue, std::optional<DurationMs> retain, const ControlLog& log,
                     std::vector<Error>* errors) {
  SweepTally t;
  const auto failed = [&](std::string_view sweep, const Error& error) {
    ++t.errors;
    if (errors) errors->push_back(error);
    if (log) log(fmt::format("{}: {}", sweep, error.ToString()));
  };
  if (auto reaped = queue.Reap(); reaped) {
    t.reaped = *reaped;
  } else {
    failed("reaper", reaped.error());
  }
  if (auto reconciled = queue.Reconcile(); reconciled) {
    t.reconciled = *reconciled;
  } else {
    failed("reconciler", reconciled.error());
  }
  if (!retain) return t;
  if (auto pruned = queue.Prune(*retain); pruned) {
    t.pruned = pruned->jobs;
  } else {
    failed("retention", pruned.error());
  }
  return t;
}

ControlPlane::ControlPlane(Queue& queue, LeaseBook& book, Cadence cadence,
                           std::optional<DurationMs> retain, ControlLog log)
    : queue_(queue),
      book_(book),
      cadence_(cadence),
      retain_(retain),
      log_(std::move(log)),
      next_sweep_ms_(queue.clock().NowMs()) {
  LAB_ASSERT(cadence_.heartbeat_ms > 0 && cadence_.sweep_ms > 0);
}

TimeMs ControlPlane::BeatWhatIsDue(std::vector<Error>& errors) {
  const TimeMs now = queue_.clock().NowMs();
  TimeMs next = now + cadence_.heartbeat_ms;
  for (const auto& [slot, lease] : book_.All()) {
    if (lease.fenced) continue;
    // Beaten once two thirds of it are left; each lease its own lease_ms.
    const DurationMs keep = std::max<DurationMs>(1, lease.lease_ms - cadence_.heartbeat_ms);
    const TimeMs due = lease.expires_at_ms - keep;
    if (due > now) {
      next = std::min(next, due);
      continue;
    }
    const TimeMs sent_at = queue_.clock().NowMs();
    auto beat = queue_.store().Heartbeat(lease.ref, lease.lease_ms);
    if (beat) {
      ++tally_.heartbeats;
      book_.Extended(lease.ref, sent_at + lease.lease_ms);
      next = std::min(next, sent_at + lease.lease_ms - keep);
      continue;
    }
    // A lease its thread let go of meanwhile (the job ended) is no news.
    if (!book_.Holds(lease.ref)) continue;
    if (beat.error().code == ErrorCode::kAborted) {
      ++tally_.fenced;  // Its job thread learns it at its next call.
      book_.Fenced(lease.ref);
    } else {
      ++tally_.errors;
      errors.push_back(beat.error());
    }
    if (log_) {
      log_(fmt::format("control plane: heartbeat for execution {} (token {}) of thread {}: {}",
                       lease.ref.execution_id, lease.ref.token, slot, beat.error().ToString()));
    }
  }
  return next;
}

ControlPlane::Next ControlPlane::Tick() {
  std::vector<Error> errors;
  TimeMs next = BeatWhatIsDue(errors);
  // A beat that came due during that pass (the thread was descheduled) is
  // sent before the reaper runs, so the sweep never ends a lease this
  // process would have kept.
  if (next <= queue_.clock().NowMs()) next = BeatWhatIsDue(errors);
  const TimeMs now = queue_.clock().NowMs();
  if (now >= next_sweep_ms_) {
    tally_.swept += RunSweeps(queue_, retain_, log_, &errors);
    next_sweep_ms_ = now + cadence_.sweep_ms;
  }
  Next out{.at_ms = std::min(next, next_sweep_ms_)};
  for (const Error& error : errors) {
    const AfterError action =
        DecideAfterStepError({.code = error.code, .phase = WorkerPhase::kIdle, .now_ms = now});
    if (out.after_error && action <= *out.after_error) continue;
    out.after_error = action;
    out.error = error;
  }
  return out;
}

}  // namespace lab
