// Guards: every prevention mechanism of the engine, as one named switch.
//
// Production has all of them on. A failure mode's baseline turns exactly the
// guard it is about off, and must then see its invariant violated; the
// guarded run turns it back on and must see every invariant hold.
// Thread-safety: plain value.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace lab {

struct GuardInfo;

struct Guards {
  // Effects happen only at COMMITTED, inside the store's transaction, and at
  // most one execution per job crosses it. Off: the handler applies its
  // effect itself, before the commit (the classic "do it, then ack").
  bool commit_boundary = true;
  // The store refuses calls carrying a stale fencing token.
  bool fencing = true;
  // Expired leases are aborted and their jobs re-queued.
  bool reaper = true;
  // COMMITTED-but-not-DONE executions of dead workers are finalized.
  bool reconcile = true;
  // An attempt lost with its worker counts toward max_attempts, so a job
  // that kills every worker that runs it ends DEAD.
  bool lost_attempts = true;
  // Leases are timed by the store's clock, never a worker's.
  bool store_clock = true;
  // An enqueue carrying a key already used returns that job.
  bool enqueue_key = true;
  // The handler's effect key is the job's, the same on every attempt.
  bool stable_key = true;
  // A commit writes the effect and the COMMITTED record in one
  // transaction. Off: two transactions, and a crash between them leaves an
  // effect no commit owns.
  bool one_transaction = true;
  // A call is acknowledged only once its commit is synced (SQLite
  // synchronous=FULL). Off: acknowledged once it is in the log, before the
  // sync (synchronous=NORMAL), so a power loss can take it back.
  bool sync_before_ack = true;
  // After a failed sync the store fail-stops, and reopening it folds the
  // log into the database (a checkpoint: rewrite, sync, start a new log)
  // before it acknowledges anything again. Off: reopen and carry on
  // appending to a log whose unsynced pages the kernel may have forgotten.
  bool log_recovery = true;
  // Heartbeats and the sweeps (reaper, reconciler) run on capacity of their
  // own: a control-plane thread with its own store handle in WorkerPool
  // (ControlPlane), their own events in the simulator. Off: they share the
  // job threads, so a handler that computes without yielding lets its lease
  // expire while it works, and sweeps run only when some thread is idle.
  bool control_plane = true;
  // A retry calls the downstream system only within the retry budget: in
  // each window a worker process retries at most a share of its first
  // attempts, plus a small floor (RetryGate). A retry held back is put back
  // unrun for later, its attempt given back (Store::Defer). Off: every
  // failed attempt retries as its backoff says, however many fail at once,
  // and a failing downstream system gets a multiple of its load.
  bool retry_budget = true;
  // Admission control: a queue given a depth limit refuses enqueues past it
  // (kOverloaded: the producer is told, nothing is written), and a job
  // whose deadline passed before it started is EXPIRED, its reason
  // recorded, never run. Off: every enqueue is accepted and every job runs
  // however late, so an overload grows the queue without bound and the
  // workers spend their time on work nobody is waiting for.
  bool admission_control = true;
  // A worker process given a circuit breaker on its downstream system
  // (BreakerGate) asks it before each call: once enough calls failed, it
  // opens, and jobs wait unrun (their attempts given back) until a probe
  // finds the system back. Off: every job calls the failing system and
  // fails its attempt, however long the outage.
  bool circuit_breaker = true;
  // An attempt's lease is extended only up to its cap (the job's
  // timeout_ms, or an hour, and one lease): past it a heartbeat is refused, the lease runs
  // out and the reaper gives the job to another worker. Off: a worker that
  // still reaches the store but not what its handler calls (a partial
  // partition) renews its lease for ever, and its job never moves (FM_014).
  bool lease_cap = true;
  // The reconciliation drill runs (queue/drill.h): what the queue says
  // happened is compared with what the downstream system holds, key by
  // key; every difference is recorded in the job's audit trail, and a dead
  // letter whose effect the system holds is redriven (its call under the
  // same key is deduplicated). Run by an operator (a scenario), and by the
  // simulator once every job has ended. Off: a charge whose reply was lost
  // stays a silent dead letter (FM_015).
  bool drill = true;

  static Guards All() { return Guards{}; }
  static Guards None();
  // Every guard on but this one: a failure mode's baseline.
  template <typename... Off>
  static Guards AllExcept(Off... off) {
    Guards g;
    ((g.*off = false), ...);
    return g;
  }
  // Every guard: name, member and a one-line description (guards.cc).
  static std::span<const GuardInfo> Table();
  // The --guards help text, naming and describing every guard.
  static std::string Help();
  // "all", "none", or a comma list of -NAME / +NAME applied to all
  // (e.g. "-commit_boundary,-reaper").
  static Result<Guards> Parse(std::string_view spec);
  static const std::vector<std::string_view>& Names();

  // "all", "none", or the list of guards that are off, e.g. "-fencing".
  std::string ToString() const;
  // The switch named `name`, or nullptr when there is none.
  bool* Find(std::string_view name);
  const bool* Find(std::string_view name) const;
  bool operator==(const Guards&) const = default;
};

struct GuardInfo {
  std::string_view name;
  bool Guards::*member;
  std::string_view description;
};

}  // namespace lab
