// ControlPlane: the heartbeats and the sweeps of one worker process, on
// capacity of their own.
//
// Job threads publish the leases they hold in a LeaseBook; the control
// plane, on its own store handle, extends each of them every heartbeat (a
// third of its lease) and runs the sweeps (the reaper, the reconciler and
// the retention policy) every sweep interval. So a handler that computes
// without ever calling JobContext::keep_alive keeps its lease, and a
// process whose every job thread is busy still takes over the jobs of dead
// workers: the control_plane guard (FM_013). Without it, heartbeats are the
// handler's own business and a sweep runs only on an idle job thread
// (WorkerPool), which is what FM_013's baseline shows starving.
//
// Tick() does whatever is due at the handle's clock and returns when it is
// next due; it never waits. WorkerPool calls it from a thread of its own; a
// failure-mode scenario calls it between the workers' steps.
// Thread-safety: LeaseBook, any thread; ControlPlane, one thread at a time
// (the book it reads may be written meanwhile).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "queue/batch_worker.h"
#include "queue/queue.h"
#include "queue/step_policy.h"
#include "queue/worker.h"

namespace lab {

// A lease as its job thread holds it.
struct HeldLease {
  LeaseRef ref;
  DurationMs lease_ms = 0;
  TimeMs expires_at_ms = 0;  // As the holder knows it.
  // A heartbeat was refused as fenced: the lease was taken over, and is
  // not beaten again (each refusal is an audit entry) until its thread,
  // at its next call, learns it and lets it go.
  bool fenced = false;
};

// The leases `worker` holds, as its job thread publishes them.
std::vector<HeldLease> LeasesOf(const Worker& worker, DurationMs lease_ms);
std::vector<HeldLease> LeasesOf(const BatchWorker& worker, DurationMs lease_ms);

class LeaseBook {
 public:
  // What job thread `slot` holds now, replacing what it held. A lease it
  // held before keeps the later of the two expiries (the control plane may
  // have extended it meanwhile) and its fenced mark.
  void Publish(int slot, const std::vector<HeldLease>& leases);
  // When the first of `slot`'s leases ends, as far as the book knows (0:
  // it holds none). Its job thread, deciding whether a lease can still be
  // kept, takes the later of this and its own reckoning.
  TimeMs ExpiresAt(int slot) const;
  // Every lease in the book, by slot.
  std::vector<std::pair<int, HeldLease>> All() const;
  // A heartbeat extended `ref` to `expires_at_ms`, if the lease is still in
  // the book.
  void Extended(const LeaseRef& ref, TimeMs expires_at_ms);
  // A heartbeat for `ref` was refused as fenced.
  void Fenced(const LeaseRef& ref);
  // Whether some slot still holds `ref`.
  bool Holds(const LeaseRef& ref) const;

 private:
  // Applies `change` to `ref` wherever a slot holds it.
  void Update(const LeaseRef& ref, const std::function<void(HeldLease&)>& change);

  mutable std::mutex mu_;
  std::map<int, std::vector<HeldLease>> held_;  // Guarded by mu_.
};

// What the sweeps did (each count from one pass).
struct SweepTally {
  int64_t reaped = 0;
  int64_t reconciled = 0;
  int64_t pruned = 0;
  int64_t errors = 0;  // Sweeps that failed (each logged).

  SweepTally& operator+=(const SweepTally& o);
};

using ControlLog = std::function<void(const std::string&)>;

// One pass of the sweeps on `queue`: the reaper, the reconciler and, with
// `retain`, the retention policy. Each error is logged and counted (and,
// with `errors`, kept); the pass goes on to the next sweep.
SweepTally RunSweeps(Queue& queue, std::optional<DurationMs> retain, const ControlLog& log,
                     std::vector<Error>* errors = nullptr);

struct ControlTally {
  int64_t heartbeats = 0;  // Leases extended.
  int64_t fenced = 0;      // Heartbeats refused: the lease was taken over.
  int64_t errors = 0;      // Heartbeats that failed otherwise (each logged).
  SweepTally swept;        // Summed over every sweep.
};

class ControlPlane {
 public:
  // `queue` is the control plane's own handle; `cadence` spaces the beats
  // and the sweeps.
  ControlPlane(Queue& queue, LeaseBook& book, Cadence cadence, std::optional<DurationMs> retain,
               ControlLog log = {});

  struct Next {
    TimeMs at_ms = 0;  // When something is next due (at most a heartbeat away).
    // What the worker pool's policy (step_policy.h, as for an idle worker)
    // says to do after the worst error of this tick: nothing, kRetry (at
    // the next tick), kReopen (the handle fail-stopped) or kStop.
    std::optional<AfterError> after_error;
    std::optional<Error> error;  // That error.
  };
  // Extends every lease in the book whose beat is due (a lease is beaten
  // once no more than lease - heartbeat of it is left, so two beats can be
  // lost before it ends), then sweeps if due.
  Next Tick();
  const ControlTally& tally() const { return tally_; }

 private:
  // One pass over the book, extending each lease whose beat is due; the
  // errors other than fenced are added to `errors`. Returns when the next
  // beat is due.
  TimeMs BeatWhatIsDue(std::vector<Error>& errors);

  Queue& queue_;
  LeaseBook& book_;
  Cadence cadence_;
  std::optional<DurationMs> retain_;
  ControlLog log_;
  TimeMs next_sweep_ms_ = 0;
  ControlTally tally_;
};

}  // namespace lab
