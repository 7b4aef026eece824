// Schedule: everything a simulation will do, written out explicitly.
//
// A seed draws a Schedule (DrawSchedule); the world then runs it. The
// schedule lists the workload (when each job arrives), every fault (crash,
// pause or delay a worker at its k-th step; skew its clock or set it
// ahead), poison jobs and enqueues whose reply is lost, and every
// abnormal handler outcome (transient or permanent failure, slow run) keyed
// by job and attempt. The only randomness left at run time is step latency,
// drawn from `seed`. Because faults are data, a failing run can be shrunk by
// deleting entries, saved as JSON, and replayed after the code has changed.
// Thread-safety: plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "check/invariants.h"
#include "core/clock.h"
#include "core/status.h"
#include "sim/downstream.h"
#include "store/fault_backend.h"
#include "store/sim_disk.h"

namespace lab {

enum class FaultKind {
  kCrash,  // The worker process dies before step k; restarts after duration.
  kPause,  // Stop-the-world pause (GC) before step k: no steps, no heartbeats.
  kDelay,  // Step k's store call is slow; heartbeats continue meanwhile.
  kSkew,   // From step k the worker's clock runs `rate` times slow: late heartbeats.
  kJump,   // From step k the worker's machine clock reads `duration` ahead.
};

enum class HandlerOutcome { kTransient, kPermanent, kSlow };

struct ScheduledJob {
  TimeMs at_ms = 0;
  std::string key;
  int max_attempts = 5;
  // The handler kills its worker process on every attempt, in the fault
  // window and after it: only a dead letter ends such a job.
  bool poison = false;
  // The enqueue takes effect but its reply is lost; the producer retries.
  bool lost_reply = false;
  // A long job: its handler computes this long on every attempt, in the
  // fault window and after it (0: a step's latency). Longer than a lease,
  // it keeps its lease only if heartbeats run while it computes.
  DurationMs run_ms = 0;
  // Its deadline, this long after it arrives (0: none): not started by
  // then, it must not run (admission control expires it).
  DurationMs deadline_ms = 0;
  // How long one attempt may run (NewJob::timeout_ms; 0: none): with the
  // lease_cap guard, its lease is extended no further than this and a lease.
  DurationMs timeout_ms = 0;
};

// What running the schedule with `guards` must violate (exactly): files in
// a failure-mode bundle carry their own verdicts, checked by the catalogue
// suite on every simulated store.
struct ScheduleExpectation {
  std::string guards;  // As --guards takes it.
  std::vector<Invariant> violated;
};

struct ScheduledFault {
  int worker = 0;
  int step = 0;
  FaultKind kind = FaultKind::kCrash;
  DurationMs duration_ms = 0;
  double rate = 1.0;  // kSkew only.
};

// The handle a store fault is injected on: a worker's (0 .. workers-1) or
// the control plane's, which runs the reaper and the reconciler.
inline constexpr int kSweeperActor = -1;

// A storage fault (fault_backend.h) at the `call`-th storage primitive of
// one handle (counted from 1 over the run, reopens included), in the fault
// window: what a busy file, a lost connection or a failed sync does to the
// engine, and whether a commit whose outcome is unknown was applied.
struct ScheduledStoreFault {
  int actor = 0;  // A worker index, or kSweeperActor.
  int64_t call = 1;
  StorageFault fault = StorageFault::kIoError;
  bool applied = false;
};

// A disk fault (sim_disk.h) at the `op`-th operation (reads, writes,
// truncates and syncs, counted from 1 over the run) of the simulated disk
// a sqlite: run keeps its file on, in the fault window: an I/O error, a
// full disk, or the machine losing power just before it.
struct ScheduledDiskFault {
  int64_t op = 1;
  DiskFault fault = DiskFault::kIoError;
};

// A partial partition: from `from_ms` on, for the rest of the run, worker
// `worker` still reaches the store (it claims, heartbeats) but not the
// downstream system: a call it makes is never answered, and its handler
// waits for ever (FM_014).
struct ScheduledPartition {
  int worker = 0;
  TimeMs from_ms = 0;
};

// What the network does to a worker's messages to and from the downstream
// system while a link fault lasts: each a different thing for the engine
// to meet. A request lost never reaches the system (nothing happened
// there; the caller hears nothing and gives up at its timeout); a reply
// lost comes back from a call that took effect (the caller cannot tell it
// from the first); a duplicated request reaches the system twice (its key
// must make the second harmless); a delayed reply arrives late (the caller
// waits for it); a reordered request is held up and overtaken: it reaches
// the system delay_ms later, after the caller gave up on it and, it may
// be, after its retry, and its reply is lost (the late original must not
// apply a second time what the retry applied). A store link only loses
// messages.
enum class LinkFault { kLoseRequest, kLoseReply, kDuplicate, kDelay, kReorder };
// Whether a link fault holds a message for delay_ms.
inline bool Delays(LinkFault f) { return f == LinkFault::kDelay || f == LinkFault::kReorder; }
std::string_view ToString(LinkFault f);
std::optional<LinkFault> ParseLinkFault(std::string_view name);

// Which of a worker's links: to the store (its store calls: a lost request
// writes nothing and the call fails; a lost reply comes from a transaction
// that committed, an unknown outcome to the worker), or to the downstream
// system its handlers call. A store link only loses messages (TCP neither
// duplicates nor reorders them; a slow store call is a worker fault).
enum class Link { kDownstream, kStore };
std::string_view ToString(Link link);
std::optional<Link> ParseLink(std::string_view name);

// One way of one worker's link misbehaving over a window of the fault
// window. Where two windows of one link overlap, the first listed holds.
struct ScheduledLinkFault {
  // A worker index, or kSweeperActor: the control plane (its store link;
  // its downstream link is its outbox relay's).
  int worker = 0;
  Link link = Link::kDownstream;
  TimeWindow window;
  LinkFault fault = LinkFault::kLoseReply;
  DurationMs delay_ms = 0;  // kDelay, kReorder only: how late each reply (request) arrives.
};
inline constexpr DurationMs kMaxLinkDelayMs = 60'000;

// The downstream system the handlers call is down from `from_ms` until
// `to_ms` (in the fault window): every call in between fails with a
// transient error, and the failed attempts retry, as a retry storm's
// trigger does (FM_005).
using ScheduledOutage = TimeWindow;

struct ScheduledHandler {
  std::string job_key;
  int attempt = 1;
  HandlerOutcome outcome = HandlerOutcome::kTransient;
  DurationMs duration_ms = 0;  // kSlow only.
};

struct Schedule {
  uint64_t seed = 0;
  int workers = 4;
  DurationMs lease_ms = 5'000;
  DurationMs reaper_interval_ms = 1'000;
  // Workers 0 .. fused_workers-1 claim+begin and commit+finish in one store
  // call each (WorkerOptions::fused); the others take every step apart.
  int fused_workers = 0;
  // Above 1, those fused workers are BatchWorkers that claim, run and
  // record this many jobs at a time.
  int claim_batch = 1;
  // Faults and abnormal handler outcomes happen only before this time; after
  // it, the liveness phase runs fault-free.
  TimeMs fault_window_ms = 0;
  std::vector<ScheduledJob> jobs;
  std::vector<ScheduledFault> faults;
  std::vector<ScheduledHandler> handlers;
  std::vector<ScheduledStoreFault> store_faults;
  std::vector<ScheduledDiskFault> disk_faults;  // sqlite: runs only.
  std::vector<ScheduledOutage> outages;
  // The downstream system's capacity (sim/downstream.h): how many requests
  // it serves at once and how fast, the handlers' timeout, and brownouts
  // (in the fault window). None: it answers every call at once.
  std::optional<DownstreamCapacity> downstream;
  std::vector<ScheduledPartition> partitions;  // At most one a worker, never every worker.
  // The network between the workers and the downstream system.
  std::vector<ScheduledLinkFault> links;
  // The queue's depth limit (0: none): admission control refuses an
  // arrival that finds this many unfinished jobs; the producer is told.
  int64_t max_depth = 0;
  // How the schedule was run when it was written (lab shrink records them),
  // so a replay of the file reproduces the failure without repeating flags.
  std::optional<std::string> guards;  // As --guards takes it.
  std::optional<std::string> store;   // memory: or sqlite:.
  std::optional<bool> external_keys;
  // Also: the run has an outbox, so the control plane's downstream link
  // (its relay's) may have faults.
  std::optional<bool> outbox;
  std::vector<ScheduleExpectation> expect;

  int MaxAttempts() const;
  // The longest of one duration over the jobs: Longest(&ScheduledJob::run_ms),
  // the longest a handler computes on any attempt.
  DurationMs Longest(DurationMs ScheduledJob::*field) const;
};

// The ranges a schedule must keep, so that every entry can take effect and
// no time arithmetic can overflow.
inline constexpr int kMaxSimWorkers = 256;
inline constexpr int kMaxSimJobs = 10'000;
inline constexpr int kMaxSimAttempts = 1'000;
inline constexpr int kMaxSimStep = 1'000'000;
inline constexpr int kMaxSimClaimBatch = 100;
inline constexpr int64_t kMaxSimStoreCall = 100'000'000;
inline constexpr DurationMs kMaxSimLeaseMs = 24 * 3'600'000LL;
inline constexpr TimeMs kMaxSimTimeMs = 7 * 24 * 3'600'000LL;

// Checks every field, reference and uniqueness rule: ranges; each job's key
// is a valid key and unique, and it arrives within the fault window; each
// fault names an existing worker, once per (worker, step); each handler
// outcome names an existing job and an attempt the job can reach, once per
// (job, attempt); each store fault names a worker or the sweeper, once per
// (handle, call), and not kCorrupt (corrupt data stops a worker for good:
// not a fault a run can recover from); each disk fault once per operation;
// each outage within the fault window, ending after it starts; the
// downstream system's capacity in range, its timeout at least a request's
// service, each brownout within the fault window; each partition of an
// existing worker, once, from within the fault window, and some worker left
// whole; each link fault of an existing worker, within the fault window,
// a delay (only for kDelay and kReorder) within kMaxLinkDelayMs, a store link's only
// losing requests or replies; each expectation's
// guards parse. kInvalidArgument says which entry and why.
Result<void> ValidateSchedule(const Schedule& schedule);

struct DrawOptions {
  bool swarm = true;           // Draw workers, jobs, lease and fault rates per seed.
  std::optional<int> jobs;     // Fix the number of jobs.
  std::optional<int> workers;  // Fix the number of workers.
  // Storage faults too (busy, lost connections, I/O errors, a full disk,
  // lost replies) on every handle, at a rate drawn per seed.
  bool store_faults = false;
  // Disk faults too (I/O errors, a full disk, power losses), for runs on
  // the simulated disk (sqlite:).
  bool disk_faults = false;
  // The run has an outbox: the relay's downstream link may be drawn too.
  bool outbox = false;
};

// The configuration a seed drew, for printing.
struct DrawnConfig {
  int jobs = 0;
  int workers = 0;
  DurationMs lease_ms = 0;
  double p_crash = 0, p_pause = 0, p_delay = 0, p_skew = 0;
  double p_transient = 0, p_permanent = 0, p_slow = 0;
  double p_jump = 0, p_poison = 0, p_lost_reply = 0;
  double p_long = 0;  // A job is a long job (ScheduledJob::run_ms).
  int outages = 0;    // Downstream outages (ScheduledOutage).
  // The downstream system's capacity (Schedule::downstream): the share of
  // it the arrivals alone ask for (0: no capacity drawn).
  double utilisation = 0;
  int partitions = 0;     // Workers cut off from the downstream system (Schedule::partitions).
  int links = 0;          // Link faults between workers and the downstream system.
  int64_t max_depth = 0;  // The queue's depth limit (Schedule::max_depth).
  double p_deadline = 0;  // A job has a deadline (ScheduledJob::deadline_ms).
  double p_store = 0;     // A storage primitive fails (with DrawOptions::store_faults).
  double p_disk = 0;      // A disk operation fails or the power goes (DrawOptions::disk_faults).
  int fused_workers = 0;
  int claim_batch = 1;

  std::string ToString() const;
};

Schedule DrawSchedule(uint64_t seed, const DrawOptions& options, DrawnConfig* drawn = nullptr);

std::string_view ToString(FaultKind kind);
std::string_view ToString(HandlerOutcome outcome);

std::string ScheduleToJson(const Schedule& schedule);
Result<Schedule> ScheduleFromJson(const std::string& text);

}  // namespace lab
