#include "sim/world.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <queue>
#include <set>

#include "check/amplification.h"
#include "check/consistency.h"
#include "check/latency.h"
#include "check/liveness.h"
#include "core/assert.h"
#include "core/rng.h"
#include "queue/batch_worker.h"
#include "queue/drill.h"
#include "queue/relay.h"
#include "queue/step_policy.h"
#include "queue/worker.h"
#include "store/fault_backend.h"
#include "store/fault_store.h"
#include "store/sim_disk.h"
#include "store/state_machine.h"

namespace lab {
namespace {

// kLate: a request the network held up reaches the downstream system.
enum class EventKind : uint8_t {
  kArrive,
  kStep,
  kHeartbeat,
  kRestart,
  kReap,
  kReconcile,
  kRelay,
  kLate
};

struct Event {
  TimeMs at;
  uint64_t seq;  // Ties broken by insertion order: deterministic.
  EventKind kind;
  int actor;            // Job index (kArrive) or worker index.
  uint64_t generation;  // Worker incarnation; stale events are dropped.

  bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

// When an answer that never comes would come: past any run (a cut-off
// worker's handler waits until then).
constexpr TimeMs kNever = 4 * kMaxSimTimeMs;
// The reconciliation drills a simulated run may hold (drill guard): a
// queue at its depth limit takes its redriven jobs a few at a time.
constexpr int kMaxDrills = 4;
// How long a worker killed by a poison job takes to come back.
constexpr DurationMs kPoisonRestartMs = 1'000;
// The simulated workers' retry policy, and the longest a step takes (a
// handler's run, outside slow-handler faults).
constexpr RetryPolicy kSimRetry{.base_delay_ms = 200, .max_delay_ms = 5'000};
constexpr DurationMs kMaxStepLatencyMs = 20;
// The simulated workers' retry budget (retry_budget guard), and the bound
// INV_007 holds every worker process to, guard on or off: small, so that a
// downstream outage in a swarm of a few dozen jobs can go over it.
constexpr RetryBudgetOptions kSimRetryBudget{
    .ratio = 0.2, .floor_per_window = 2, .window_ms = 2'000, .buckets = 4};
// Each simulated worker process's circuit breaker (circuit_breaker guard),
// and the rule INV_007 replays every caller's calls through, guard on or
// off: it opens on half of four calls in two seconds, for a second, then
// one probe.
constexpr BreakerOptions kSimBreaker{.failure_ratio = 0.5,
                                     .min_calls = 4,
                                     .window_ms = 2'000,
                                     .buckets = 4,
                                     .open_ms = 1'000,
                                     .probes = 1};

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

// FNV-1a style, eight bytes at a step (little-endian words), then the
// length: a field separator, so ("ab", "c") and ("a", "bc") differ.
uint64_t Fnv(uint64_t h, std::string_view bytes) {
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word = 0;
    std::memcpy(&word, bytes.data() + i, 8);
    h = (h ^ word) * kFnvPrime;
    h ^= h >> 29;
  }
  for (; i < bytes.size(); ++i) h = (h ^ static_cast<uint8_t>(bytes[i])) * kFnvPrime;
  return (h ^ bytes.size()) * kFnvPrime;
}

// Every trace event of a run goes through here: its hash covers each field
// of each event (two runs whose traces differ have different hashes), and
// the event goes on to the caller's sink, if any.
class HashingTraceSink final : public TraceSink {
 public:
  explicit HashingTraceSink(TraceSink* next) : next_(next) {}
  void Emit(TraceEvent e) override {
    for (int64_t n : {e.time_ms, e.job, e.execution, e.token}) {
      hash_ = (hash_ ^ static_cast<uint64_t>(n)) * kFnvPrime;
    }
    hash_ = Fnv(Fnv(Fnv(hash_, e.actor), e.event), e.result);
    if (next_ != nullptr) next_->Emit(std::move(e));
  }
  uint64_t hash() const { return hash_; }

 private:
  TraceSink* next_;
  uint64_t hash_ = kFnvOffset;
};

// One process's connection to the store: its own handle (fail-stopped and
// reopened on its own) over the run's one backend, behind a fault backend
// that injects the schedule's storage faults for this actor.
struct StoreHandle {
  std::unique_ptr<Queue> queue;
  RecordStore* store = nullptr;  // Owned by queue.
};

struct SimWorker {
  std::unique_ptr<OffsetClock> machine_clock;  // Its own clock (kJump sets it ahead).
  StoreHandle handle;
  Backoff backoff{Cadence{}};
  // Exactly one of the two: a worker of one job at a time, or of a batch.
  std::unique_ptr<Worker> worker;
  std::unique_ptr<BatchWorker> batch;
  int steps = 0;
  int fault_checked_step = -1;
  uint64_t generation = 0;
  bool alive = true;
  TimeMs paused_until = 0;
  double clock_rate = 1.0;
  bool heartbeat_pending = false;
  // Its handler returns then: it computes (a step's time, a long job's
  // run, a slow fault's) and waits for the downstream system's answer.
  TimeMs handler_until = 0;
};

WorkerPhase PhaseOf(const SimWorker& sw) {
  return sw.batch ? sw.batch->phase() : sw.worker->phase();
}

// The leases the worker holds (and still owns).
std::vector<const Lease*> HeldBy(const SimWorker& sw) {
  if (sw.batch) return sw.batch->held();
  if (sw.worker->lease()) return {&*sw.worker->lease()};
  return {};
}

// The effect key of the schedule's job `key` (the world enqueues every job
// in the default queue under its schedule key).
std::string EffectKeyOf(const std::string& key) {
  return Job{.queue = NewJob{}.queue, .key = key}.EffectKey();
}

class World {
 public:
  World(const Schedule& s, const SimOptions& o)
      : s_(s),
        o_(o),
        latency_(s.seed ^ 0x51a7e5c4ULL),
        trace_(o.trace),
        external_(o.external_honours_keys || o.outbox, &trace_),
        downstream_({.capacity = s.downstream, .outages = s.outages}) {
    for (const auto& f : s.faults) faults_.emplace(std::make_pair(f.worker, f.step), f);
    // Keyed as the engine names the job to its handler: by its effect key.
    for (const auto& h : s.handlers) {
      handlers_.emplace(std::make_pair(EffectKeyOf(h.job_key), h.attempt), h);
    }
    for (const auto& j : s.jobs) {
      if (j.poison) poison_.insert(EffectKeyOf(j.key));
      if (j.run_ms > 0) run_ms_.emplace(EffectKeyOf(j.key), j.run_ms);
    }
    for (const auto& f : s.store_faults) store_faults_.emplace(std::make_pair(f.actor, f.call), f);
    for (const auto& f : s.disk_faults) disk_faults_.emplace(f.op, f.fault);
    for (const auto& p : s.partitions) cut_off_from_.emplace(p.worker, p.from_ms);
    cadence_.sweep_ms = s.reaper_interval_ms;  // The schedule's own sweep cadence.
  }

  Result<SimResult> Run();

 private:
  Result<void> Open();
  StoreHandle MakeHandle(int actor);
  // The schedule's storage fault for `actor`'s n-th primitive, if any (in
  // the fault window only).
  std::optional<BackendFault> StoreFault(int actor, BackendOp op, int64_t n);
  // A failed step, handled as the worker pool handles it (step_policy.h):
  // retry after a backoff, give the job up, reopen the handle, or stop.
  // `held`: the jobs the worker held before the step; any of them may have
  // ended (an unknown outcome that was applied), so each is looked at again.
  Result<void> OnStepError(int w, const Error& error, const std::vector<JobId>& held);
  // Gives worker w's job (or batch) up, releasing it if the store lets it.
  Result<void> GiveUp(int w, const Error& error);
  void ReopenHandle(RecordStore& store, const std::string& actor);
  void Push(TimeMs at, EventKind kind, int actor, uint64_t generation = 0) {
    events_.push(Event{at, next_seq_++, kind, actor, generation});
  }
  Result<void> Dispatch(const Event& e);
  Result<void> Step(int w);
  Result<void> Heartbeat(int w);
  // Applies a scheduled fault before worker w's next step. True when the
  // step must not run now.
  bool FireFault(int w);
  void ScheduleNext(int w, const StepResult& r);
  // The worker process dies now and restarts after `restart_after`.
  void Kill(int w, DurationMs restart_after, const std::string& why);
  void EnsureHeartbeat(int w);
  // Some worker is alive, not paused and holds no job: one that could run
  // a sweep on its own thread.
  bool AnyWorkerIdle() {
    return std::any_of(workers_.begin(), workers_.end(), [&](const SimWorker& sw) {
      return sw.alive && sw.paused_until <= clock_.NowMs() && PhaseOf(sw) == WorkerPhase::kIdle;
    });
  }
  // Worker w's handler: one call to the downstream system, which it waits
  // for (SimWorker::handler_until).
  HandlerResult Handle(int w, const JobContext& ctx);
  // Handle(), but for when the answer is heard: `heard_at` is set when the
  // network decides it (a lost message, a late reply).
  HandlerResult Call(int w, const JobContext& ctx, TimeMs& heard_at);
  // A request the network holds up (LinkFault::kReorder): it reaches the
  // external system `delay_ms` from now, overtaken by what was sent since.
  void HoldUp(const AppliedEffect& request, DurationMs delay_ms, const std::string& actor);
  // With the outbox: worker w's handler computes its effect (as long as
  // its job's run_ms, or a slow fault, says) and calls nothing; the intent
  // is committed, and the relay delivers it.
  HandlerResult ComputeIntent(int w, const JobContext& ctx);
  // The relay's send of one intent over the control plane's downstream
  // link: ok once the external system acknowledged it.
  Result<void> Deliver(const EffectRecord& effect);
  // One relay pass on the control plane's handle; failed calls handled as
  // a sweep's are.
  Result<void> Relay();
  // A failed sweep or relay call on the control plane's handle, handled as
  // an idle worker's (step_policy.h).
  Result<void> OnSweeperError(const Error& error);
  // The link fault on worker w's `link` at `now`, if any.
  const ScheduledLinkFault* LinkFaultAt(int w, Link link, TimeMs now) const;
  // How long a handler waits for an answer that never comes.
  DurationMs LinkTimeoutMs() const {
    return s_.downstream ? s_.downstream->timeout_ms : s_.lease_ms;
  }
  // Worker w's handler is running (computing, or waiting for an answer).
  bool InHandler(const SimWorker& sw) {
    return PhaseOf(sw) == WorkerPhase::kInProgress || clock_.NowMs() < sw.handler_until;
  }
  // Step() for a BatchWorker.
  Result<void> StepBatch(int w);
  // A store error no policy can step past (step_policy.h says stop): with
  // no operator in a simulated run to fix it, the run ends with an error.
  std::unexpected<Error> Unrecoverable(std::string_view actor, const Error& error) const {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("seed {}: {}: {}", s_.seed, actor, error.ToString()));
  }
  Result<void> Refresh(JobId job);
  // The schedule's disk fault at the disk's n-th operation, if any.
  std::optional<DiskFault> DiskFaultAt(DiskOp op, int64_t n);
  // After the disk lost power: every process on the machine died; the
  // store reconnects (SQLite recovers from its log) and must pass
  // PRAGMA integrity_check; the workers restart after half a lease.
  Result<void> CheckPowerLoss();
  // Runs one of the world's own reads (the checkers', the bookkeeping's),
  // with no fault injected, after recovering from a power loss if one came.
  template <typename F>
  auto Observe(F read) -> decltype(read());
  // An enqueue as a producer sends it: again after a failed one.
  Result<EnqueueResult> Produce(const NewJob& request);
  Result<void> RefreshAll();
  // Once every job has ended: the reconciliation drill (drill guard), at
  // most kMaxDrills times a run, against what the downstream system holds,
  // once the fault window is over. True when it redrove a job, which then
  // runs again; nullopt when it must wait for the window's end.
  Result<std::optional<bool>> Drill();
  // After a claim: the open jobs whose deadline has passed, which the
  // claim may have expired without anyone holding them.
  Result<void> RefreshLate();
  bool InFaultWindow() { return clock_.NowMs() < s_.fault_window_ms; }
  // Whether a scheduled storage or disk fault may fire now: in the fault
  // window, and never during the world's own reads.
  bool Injecting() { return !observing_ && InFaultWindow(); }
  void Mix(uint64_t v) { hash_ = (hash_ ^ v) * kFnvPrime; }
  void Note(int w, std::string event, std::string text);
  void NoteAs(std::string actor, std::string event, std::string text);
  // The whole-state consistency check; a finding is a bug in the engine or
  // the simulator, and stops the process.
  Result<void> DeepCheck();

  const Schedule& s_;
  const SimOptions& o_;
  Cadence cadence_ = CadenceFor(s_.lease_ms);
  ManualClock clock_{0};
  Rng latency_;
  HashingTraceSink trace_;
  ExternalSystem external_;
  // sqlite: runs keep their file on a simulated disk; declared before
  // every handle, so it outlives their connections.
  std::unique_ptr<SimDisk> disk_;
  // By disk operation; a fault is armed from its operation on and fires
  // at the first operation it can happen to (a sync error waits for a
  // sync), so a drawn fault is rarely wasted.
  std::multimap<int64_t, DiskFault> disk_faults_;
  std::vector<DiskFault> armed_disk_faults_;
  int64_t crashes_seen_ = 0;
  bool observing_ = false;  // The world's own reads: no fault is injected.
  std::shared_ptr<StoreBackend> backend_;
  // The producers' and the checkers' handle (no storage faults; lost
  // enqueue replies through its FaultStore).
  std::unique_ptr<Queue> queue_;
  RecordStore* producer_store_ = nullptr;  // Owned by queue_.
  StoreHandle sweeper_;                    // The control plane's: the reaper and the reconciler.
  std::vector<SimWorker> workers_;
  std::map<std::pair<int, int64_t>, ScheduledStoreFault> store_faults_;
  std::map<std::pair<int, int>, ScheduledFault> faults_;
  std::map<std::pair<std::string, int>, ScheduledHandler> handlers_;
  std::set<std::string> poison_;              // Effect keys of poison jobs.
  std::map<int, TimeMs> cut_off_from_;        // Workers a partition cuts off, and from when.
  std::map<std::string, DurationMs> run_ms_;  // Long jobs' computing, by effect key.
  std::set<ExecutionId> died_with_worker_;    // Held by a worker when it was killed.
  Downstream downstream_;                     // What the handlers call.
  FaultStore* fault_store_ = nullptr;         // Owned by queue_.
  bool lose_reply_ = false;                   // The next enqueue's reply is lost.
  std::vector<ProducerRequest> requests_;
  std::vector<AppliedEffect> held_up_;  // Requests the network held (kLate events index them).
  int64_t held_up_in_flight_ = 0;       // Of those, still on their way.
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  uint64_t next_seq_ = 0;
  uint64_t hash_ = kFnvOffset;
  std::vector<JobId> acked_;
  int64_t refused_ = 0;             // Arrivals the queue refused (its depth limit).
  std::vector<QueueLimit> limits_;  // The schedule's depth limit, if it has one.
  std::set<JobId> open_jobs_;       // Enqueued and not yet terminal.
  // The open jobs ever claimed: only these can a sweep end (it ends leases),
  // so a sweep refreshes them, not the whole backlog.
  std::set<JobId> claimed_open_;
  std::map<JobId, TimeMs> deadlines_;  // Open jobs with a deadline, and when it is.
  std::map<JobId, int> commits_;
  int arrived_ = 0;
  int faults_fired_ = 0;
  int handler_faults_fired_ = 0;
  int link_faults_fired_ = 0;
  int drills_ = 0;
  int64_t drill_findings_ = 0;
  int64_t drill_repaired_ = 0;
  StorageTally storage_;
  bool cheap_violation_ = false;
};

Result<void> World::Open() {
  const QueueOptions options{.guards = o_.guards, .trace = &trace_};
  if (o_.store == "sqlite:") {
    // The real SQLite code on a simulated disk: memory speed, and a power
    // loss at any disk operation the schedule names.
    static std::atomic<uint64_t> disks{0};
    disk_ = std::make_unique<SimDisk>(fmt::format("lab-sim-disk-{}", ++disks), s_.seed ^ 0xd15cULL);
    disk_->set_hook([this](DiskOp op, int64_t n) { return DiskFaultAt(op, n); });
    QueueOptions on_disk = options;
    on_disk.sqlite_vfs = disk_->vfs_name();
    LAB_ASSIGN_OR_RETURN(backend_, OpenBackend("sqlite:sim.db", on_disk));
  } else if (o_.store == "memory:") {
    if (!s_.disk_faults.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "disk faults need the simulated disk: run with --store sqlite:");
    }
    LAB_ASSIGN_OR_RETURN(backend_, OpenBackend(o_.store, options));
  } else {
    return MakeError(
        ErrorCode::kInvalidArgument,
        fmt::format("simulation store must be memory: or sqlite:, got '{}'", o_.store));
  }
  auto producer = std::make_unique<RecordStore>(backend_, clock_, StoreOptionsFor(o_.guards));
  producer_store_ = producer.get();
  auto faulty = std::make_unique<FaultStore>(
      std::move(producer), [this](StoreOp op, int) -> std::optional<InjectedFault> {
        if (op != StoreOp::kEnqueue || !lose_reply_) return std::nullopt;
        lose_reply_ = false;
        return InjectedFault{{ErrorCode::kUnknownOutcome, "the reply was lost on the way back"},
                             /*applied=*/true};
      });
  fault_store_ = faulty.get();
  queue_ = Queue::Adopt(std::move(faulty), clock_, options);
  if (s_.max_depth > 0) limits_.push_back({.queue = "default", .max_depth = s_.max_depth});
  for (const QueueLimit& limit : limits_) {
    LAB_RETURN_IF_ERROR(queue_->store().SetQueueLimit(limit));
  }
  sweeper_ = MakeHandle(kSweeperActor);
  workers_.resize(static_cast<size_t>(s_.workers));
  for (int w = 0; w < s_.workers; ++w) {
    workers_[w].machine_clock = std::make_unique<OffsetClock>(clock_, 0);
    workers_[w].handle = MakeHandle(w);
    workers_[w].backoff = Backoff(cadence_);
    Queue& queue = *workers_[w].handle.queue;
    const WorkerOptions wo{.name = fmt::format("w{}", w),
                           .lease_ms = s_.lease_ms,
                           .retry = kSimRetry,
                           .seed = s_.seed * 31 + static_cast<uint64_t>(w),
                           .own_clock = workers_[w].machine_clock.get(),
                           .fused = w < s_.fused_workers,
                           .outbox = o_.outbox,
                           .retry_budget = kSimRetryBudget,
                           .breaker_options = kSimBreaker};
    auto handler = [this, w](const JobContext& ctx) { return Handle(w, ctx); };
    if (wo.fused && s_.claim_batch > 1) {
      workers_[w].batch =
          std::make_unique<BatchWorker>(queue, handler, wo, s_.claim_batch, &external_);
    } else {
      workers_[w].worker = std::make_unique<Worker>(queue, handler, wo, &external_);
    }
  }
  return {};
}

StoreHandle World::MakeHandle(int actor) {
  auto faults = std::make_shared<FaultBackend>(
      backend_, [this, actor](BackendOp op, int64_t n) { return StoreFault(actor, op, n); });
  auto store = std::make_unique<RecordStore>(std::move(faults), clock_, StoreOptionsFor(o_.guards));
  StoreHandle handle{.store = store.get()};
  handle.queue =
      Queue::Adopt(std::move(store), clock_, QueueOptions{.guards = o_.guards, .trace = &trace_});
  return handle;
}

std::optional<BackendFault> World::StoreFault(int actor, BackendOp op, int64_t n) {
  if (!Injecting()) return std::nullopt;
  // The worker's link to the store: a call's first message lost (nothing
  // written), or a commit's answer lost (written: an unknown outcome).
  if (const ScheduledLinkFault* l = LinkFaultAt(actor, Link::kStore, clock_.NowMs())) {
    const bool first_message = op == BackendOp::kBegin || op == BackendOp::kRead;
    if (l->fault == LinkFault::kLoseRequest ? first_message : op == BackendOp::kCommit) {
      ++link_faults_fired_;
      const StorageFault f =
          op == BackendOp::kCommit ? StorageFault::kReplyLost : StorageFault::kConnectionLost;
      Mix(0x11f8ULL + static_cast<uint64_t>(f));
      NoteAs(
          actor == kSweeperActor ? "sweeper" : fmt::format("w{}", actor), "link",
          fmt::format("store link: the {} of storage call {} ({}) lost",
                      l->fault == LinkFault::kLoseRequest ? "request" : "reply", n, ToString(op)));
      return BackendFault{f, true};
    }
  }
  auto it = store_faults_.find({actor, n});
  if (it == store_faults_.end()) return std::nullopt;
  const ScheduledStoreFault& f = it->second;
  ++storage_.store_faults_fired;
  Mix(0x5f000000ULL + static_cast<uint64_t>(f.fault) * 2 + (f.applied ? 1 : 0));
  NoteAs(actor == kSweeperActor ? "sweeper" : fmt::format("w{}", actor), "store-fault",
         fmt::format("{} at storage call {} ({}){}", ToString(f.fault), n, ToString(op),
                     op != BackendOp::kCommit || !OutcomeUnknownAtCommit(f.fault) ? ""
                     : f.applied || f.fault == StorageFault::kReplyLost           ? ": committed"
                                                                        : ": not committed"));
  return BackendFault{f.fault, f.applied};
}

void World::ReopenHandle(RecordStore& store, const std::string& actor) {
  auto reopened = store.Reopen();
  ++storage_.reopens;
  Mix(reopened ? 0x2e09e4ULL : 0x2e09e5ULL);
  NoteAs(actor, "reopen",
         reopened ? "store handle reopened" : "reopen failed: " + reopened.error().ToString());
}

Result<void> World::GiveUp(int w, const Error& error) {
  SimWorker& sw = workers_[w];
  std::vector<JobId> held;
  for (const Lease* lease : HeldBy(sw)) held.push_back(lease->job.id);
  if (held.empty()) return {};
  auto released =
      sw.batch ? sw.batch->GiveUp(error.ToString()) : sw.worker->GiveUp(error.ToString());
  Mix(released ? 0x6e1ea5eULL : 0xabad0eULL);
  Note(w, "give-up",
       released ? "released its job(s)" : "release failed too: " + released.error().ToString());
  for (JobId job : held) LAB_RETURN_IF_ERROR(Refresh(job));
  return {};
}

Result<void> World::OnStepError(int w, const Error& error, const std::vector<JobId>& held) {
  SimWorker& sw = workers_[w];
  ++storage_.store_errors;
  const DurationMs wait = sw.backoff.Next();
  const TimeMs expires =
      sw.batch ? sw.batch->lease_expires_at_ms() : sw.worker->lease_expires_at_ms();
  const AfterError action = DecideAfterStepError({.code = error.code,
                                                  .phase = PhaseOf(sw),
                                                  .now_ms = clock_.NowMs(),
                                                  .lease_expires_at_ms = expires,
                                                  .wait_ms = wait});
  Mix(0xe0000000ULL + static_cast<uint64_t>(error.code) * 8 + static_cast<uint64_t>(action));
  Note(w, "store-error", fmt::format("{}; next: {}", error.ToString(), ToString(action)));
  switch (action) {
    case AfterError::kRetry:
      break;
    case AfterError::kGiveUpJob:
      LAB_RETURN_IF_ERROR(GiveUp(w, error));
      break;
    case AfterError::kReopen:
      LAB_RETURN_IF_ERROR(GiveUp(w, error));
      ReopenHandle(*sw.handle.store, fmt::format("w{}", w));
      break;
    case AfterError::kStop:
      return Unrecoverable(fmt::format("w{} step", w), error);
  }
  for (JobId job : held) LAB_RETURN_IF_ERROR(Refresh(job));
  if (error.code == ErrorCode::kUnknownOutcome) {
    // A claim whose reply was lost leased jobs nobody knows of: the reaper
    // will end those leases, so any open job may be among what it ends.
    claimed_open_.insert(open_jobs_.begin(), open_jobs_.end());
  }
  Push(clock_.NowMs() + wait, EventKind::kStep, w, sw.generation);
  EnsureHeartbeat(w);
  return {};
}

HandlerResult World::Handle(int w, const JobContext& ctx) {
  if (o_.outbox) return ComputeIntent(w, ctx);
  const size_t first = downstream_.calls().size();
  TimeMs heard_at = 0;
  HandlerResult result = Call(w, ctx, heard_at);
  // It returns at once; its caller hears the answer when it is due.
  result.answered_at_ms = heard_at != 0 ? heard_at : downstream_.calls().at(first).answered_at_ms;
  return result;
}

HandlerResult World::ComputeIntent(int w, const JobContext& ctx) {
  SimWorker& sw = workers_[w];
  DurationMs busy = latency_.Range(1, kMaxStepLatencyMs);
  if (auto run = run_ms_.find(ctx.key); run != run_ms_.end()) busy = std::max(busy, run->second);
  const auto scheduled = handlers_.find({ctx.key, ctx.attempt});
  const ScheduledHandler* fault =
      InFaultWindow() && scheduled != handlers_.end() ? &scheduled->second : nullptr;
  if (fault != nullptr) ++handler_faults_fired_;
  if (fault != nullptr && fault->outcome == HandlerOutcome::kSlow) {
    busy = std::max(busy, fault->duration_ms);
  }
  sw.handler_until = std::max(sw.handler_until, clock_.NowMs() + busy);
  if (fault != nullptr && fault->outcome == HandlerOutcome::kTransient) {
    return HandlerResult::Transient("simulated transient error");
  }
  if (fault != nullptr && fault->outcome == HandlerOutcome::kPermanent) {
    return HandlerResult::Permanent("simulated permanent error");
  }
  return HandlerResult::Ok("intent:" + ctx.key);
}

Result<void> World::Deliver(const EffectRecord& e) {
  const TimeMs now = clock_.NowMs();
  const ScheduledLinkFault* link =
      InFaultWindow() ? LinkFaultAt(kSweeperActor, Link::kDownstream, now) : nullptr;
  const auto on_link = [link](LinkFault f) { return link != nullptr && link->fault == f; };
  if (link) {
    ++link_faults_fired_;
    Mix(0x7e1a0ULL + static_cast<uint64_t>(link->fault));
  }
  const AppliedEffect delivery{.job_id = e.job_id,
                               .key = e.key,
                               .execution_id = e.execution_id,
                               .payload = e.payload,
                               .at_ms = now,
                               .from_handler = true};
  if (on_link(LinkFault::kLoseRequest) || on_link(LinkFault::kReorder)) {
    if (on_link(LinkFault::kReorder)) HoldUp(delivery, link->delay_ms, "relay");
    NoteAs("relay", "link", fmt::format("the delivery of {} lost: no answer", e.key));
    return MakeError(ErrorCode::kUnavailable, "no answer from the receiver (the request was lost)");
  }
  // A duplicated request reaches the receiver twice, under one key.
  for (int copy = 0; copy < (on_link(LinkFault::kDuplicate) ? 2 : 1); ++copy) {
    external_.Apply(delivery);
  }
  if (on_link(LinkFault::kLoseReply)) {
    NoteAs("relay", "link", fmt::format("the answer for {} lost: it took effect", e.key));
    return MakeError(ErrorCode::kUnavailable, "no answer from the receiver (the reply was lost)");
  }
  // A late answer still comes within the relay's wait.
  return {};
}

void World::HoldUp(const AppliedEffect& request, DurationMs delay_ms, const std::string& actor) {
  NoteAs(actor, "link",
         fmt::format("the request for {} is held up: it arrives {}ms late, overtaken", request.key,
                     delay_ms));
  held_up_.push_back(request);
  ++held_up_in_flight_;
  Push(clock_.NowMs() + delay_ms, EventKind::kLate, static_cast<int>(held_up_.size() - 1));
}

Result<void> World::Relay() {
  auto pass = RelayOnce(
      sweeper_.queue->store(), [this](const EffectRecord& e) { return Deliver(e); }, 100,
      [this](const EffectRecord& e, const Error& why) {
        NoteAs("relay", "undelivered", fmt::format("{}: {}", e.key, why.message));
      });
  if (!pass) return OnSweeperError(pass.error());
  Mix(0x4e1a7000ULL + static_cast<uint64_t>(pass->delivered) * 64 +
      static_cast<uint64_t>(pass->failed));
  if (pass->delivered > 0) {
    NoteAs("relay", "deliver", fmt::format("{} intent(s) delivered", pass->delivered));
  }
  return {};
}

Result<void> World::OnSweeperError(const Error& error) {
  // The control plane runs the workers' policy, always idle.
  ++storage_.store_errors;
  const AfterError action = DecideAfterStepError(
      {.code = error.code, .phase = WorkerPhase::kIdle, .now_ms = clock_.NowMs()});
  Mix(0xe1000000ULL + static_cast<uint64_t>(error.code) * 8 + static_cast<uint64_t>(action));
  NoteAs("sweeper", "store-error", fmt::format("{}; next: {}", error.ToString(), ToString(action)));
  if (action == AfterError::kStop) return Unrecoverable("sweeper", error);
  if (action == AfterError::kReopen) ReopenHandle(*sweeper_.store, "sweeper");
  // The outcome may be unknown (a commit applied, its reply lost): look at
  // every job the call may have ended.
  return RefreshAll();
}

const ScheduledLinkFault* World::LinkFaultAt(int w, Link link, TimeMs now) const {
  for (const ScheduledLinkFault& l : s_.links) {
    if (l.worker == w && l.link == link && l.window.Contains(now)) return &l;
  }
  return nullptr;
}

HandlerResult World::Call(int w, const JobContext& ctx, TimeMs& heard_at) {
  SimWorker& sw = workers_[w];
  const TimeMs now = clock_.NowMs();
  const ScheduledLinkFault* link = LinkFaultAt(w, Link::kDownstream, now);
  const auto on_link = [link](LinkFault f) { return link != nullptr && link->fault == f; };
  if (link) {
    ++link_faults_fired_;
    Mix(0x11f0ULL + static_cast<uint64_t>(link->fault));
  }
  const std::string caller = fmt::format("w{}#{}", w, sw.generation);
  // This handler's own call among the downstream system's (a copy may follow).
  const size_t mine = downstream_.calls().size();
  // The handler gives up on an answer that never comes.
  const auto unanswered = [&](LinkFault lost) {
    heard_at = now + LinkTimeoutMs();
    sw.handler_until = std::max(sw.handler_until, heard_at);
    if (lost == LinkFault::kLoseRequest) {
      downstream_.Lost(now, ctx.job_id, ctx.execution_id, caller, heard_at);
    } else {
      downstream_.Fail(mine);
      downstream_.HeardAt(mine, heard_at);
    }
    Note(w, "link",
         fmt::format("the {} for {} lost: no answer in {}ms",
                     lost == LinkFault::kLoseRequest ? "request" : "reply", ctx.key,
                     LinkTimeoutMs()));
    return HandlerResult::Transient(
        fmt::format("no answer from the downstream system in {}ms", LinkTimeoutMs()));
  };
  if (on_link(LinkFault::kLoseRequest)) return unanswered(LinkFault::kLoseRequest);
  if (on_link(LinkFault::kReorder)) {
    // Held up and overtaken: the caller hears nothing and gives up; a
    // keyed call reaches the system late, after what was sent since.
    if (o_.external_honours_keys) {
      HoldUp({.job_id = ctx.job_id,
              .key = ctx.key,
              .execution_id = ctx.execution_id,
              .token = ctx.attempt,
              .payload = "effect",
              .from_handler = true},
             link->delay_ms, fmt::format("w{}", w));
    }
    return unanswered(LinkFault::kLoseRequest);
  }
  // Each run of a handler is one call downstream, by this incarnation of
  // the worker process (one retry budget, one breaker); a duplicated
  // request arrives twice.
  const CallReply reply = downstream_.Call(now, ctx.job_id, ctx.execution_id, caller,
                                           /*repeat=*/external_.Holds(ctx.key));
  const DurationMs late = on_link(LinkFault::kDelay) ? link->delay_ms : 0;
  if (late > 0) {
    heard_at = downstream_.calls()[mine].answered_at_ms + late;
    downstream_.HeardAt(mine, heard_at);
    Note(w, "link", fmt::format("the reply for {} arrives {}ms late", ctx.key, late));
  }
  const bool duplicated = on_link(LinkFault::kDuplicate);
  if (duplicated) {
    Note(w, "link", fmt::format("the request for {} arrived twice", ctx.key));
    downstream_.Call(now, ctx.job_id, ctx.execution_id, caller);
    downstream_.MarkLastDuplicate();
  }
  // The handler returns when it has its answer and has computed its share.
  DurationMs busy = std::max(latency_.Range(1, kMaxStepLatencyMs), reply.reply_at_ms - now + late);
  if (auto run = run_ms_.find(ctx.key); run != run_ms_.end()) {
    busy = std::max(busy, run->second);  // A long job, on every attempt.
  }
  const auto scheduled = handlers_.find({ctx.key, ctx.attempt});
  const ScheduledHandler* fault =
      InFaultWindow() && scheduled != handlers_.end() ? &scheduled->second : nullptr;
  if (fault != nullptr && fault->outcome == HandlerOutcome::kSlow) {
    ++handler_faults_fired_;
    busy = std::max(busy, fault->duration_ms);
  }
  sw.handler_until = std::max(sw.handler_until, now + busy);
  switch (reply.outcome) {
    case CallOutcome::kRefused:
      Mix(0x0d0e0ULL);
      return HandlerResult::Transient("the downstream system is down (outage)");
    case CallOutcome::kTimedOut:
      Mix(0x0d0e1ULL);
      return HandlerResult::Transient(fmt::format(
          "no answer from the downstream system in {}ms (the request stays in its line)",
          reply.reply_at_ms - now));
    case CallOutcome::kOk:
      break;
  }
  // A downstream API that honours keys: the handler calls it itself (a
  // duplicated request reaches it twice, under one key).
  const auto call_out = [&] {
    for (int copy = 0; copy < (duplicated ? 2 : 1); ++copy) {
      external_.Apply({.job_id = ctx.job_id,
                       .key = ctx.key,
                       .execution_id = ctx.execution_id,
                       .token = ctx.attempt,
                       .payload = "effect",
                       .at_ms = clock_.NowMs(),
                       .from_handler = true});
    }
    return HandlerResult::OkCalledOut();
  };
  if (on_link(LinkFault::kLoseReply)) {
    // The call took effect; its answer is lost on the way back.
    if (o_.external_honours_keys) call_out();
    return unanswered(LinkFault::kLoseReply);
  }
  if (fault != nullptr && fault->outcome == HandlerOutcome::kTransient) {
    ++handler_faults_fired_;
    downstream_.Fail(mine);
    return HandlerResult::Transient("simulated transient error");
  }
  if (fault != nullptr && fault->outcome == HandlerOutcome::kPermanent) {
    ++handler_faults_fired_;
    return HandlerResult::Permanent("simulated permanent error");
  }
  if (o_.external_honours_keys) return call_out();
  return HandlerResult::Ok("effect:" + ctx.key);
}

void World::Note(int w, std::string event, std::string text) {
  NoteAs(w < 0 ? "sim" : fmt::format("w{}", w), std::move(event), std::move(text));
}

void World::NoteAs(std::string actor, std::string event, std::string text) {
  trace_.Emit({.time_ms = clock_.NowMs(),
               .actor = std::move(actor),
               .event = std::move(event),
               .result = std::move(text)});
}

bool World::FireFault(int w) {
  SimWorker& sw = workers_[w];
  if (!InFaultWindow() || sw.fault_checked_step >= sw.steps) return false;
  sw.fault_checked_step = sw.steps;
  auto it = faults_.find({w, sw.steps});
  if (it == faults_.end()) return false;
  const ScheduledFault& f = it->second;
  ++faults_fired_;
  Mix(0xfa000000ULL + static_cast<uint64_t>(f.kind));
  const TimeMs now = clock_.NowMs();
  switch (f.kind) {
    case FaultKind::kCrash:
      Kill(w, f.duration_ms, "crash");
      return true;
    case FaultKind::kPause:
      sw.paused_until = now + f.duration_ms;
      Note(w, "fault", fmt::format("pause {}ms (stop the world)", f.duration_ms));
      Push(sw.paused_until, EventKind::kStep, w, sw.generation);
      return true;
    case FaultKind::kDelay:
      Note(w, "fault", fmt::format("store call delayed {}ms", f.duration_ms));
      Push(now + f.duration_ms, EventKind::kStep, w, sw.generation);
      return true;
    case FaultKind::kSkew:
      sw.clock_rate = f.rate;
      Note(w, "fault", fmt::format("clock runs {:.2f}x slow", f.rate));
      return false;
    case FaultKind::kJump:
      sw.machine_clock->set_offset_ms(f.duration_ms);
      Note(w, "fault", fmt::format("machine clock set {}ms ahead", f.duration_ms));
      return false;
  }
  return false;
}

void World::Kill(int w, DurationMs restart_after, const std::string& why) {
  SimWorker& sw = workers_[w];
  for (const Lease* lease : HeldBy(sw)) died_with_worker_.insert(lease->execution_id);
  if (sw.batch) {
    sw.batch->Crash();
  } else {
    sw.worker->Crash();
  }
  sw.alive = false;
  sw.backoff.Reset();
  ++sw.generation;
  sw.heartbeat_pending = false;
  sw.handler_until = 0;
  Note(w, "fault", fmt::format("{}; restart in {}ms", why, restart_after));
  Push(clock_.NowMs() + restart_after, EventKind::kRestart, w, sw.generation);
}

Result<void> World::Step(int w) {
  SimWorker& sw = workers_[w];
  if (!InFaultWindow()) sw.clock_rate = 1.0;
  if (FireFault(w)) return {};
  // A poison job's handler kills the process that runs it, on every attempt.
  if (PhaseOf(sw) == WorkerPhase::kInProgress) {
    for (const Lease* lease : HeldBy(sw)) {
      if (!poison_.contains(lease->job.EffectKey())) continue;
      Mix(0x901503ULL);
      Kill(w, kPoisonRestartMs, "the poison job's handler kills the worker process");
      return {};
    }
  }
  // With the outbox a handler calls nothing, and a partition from the
  // downstream system holds nobody.
  if (PhaseOf(sw) == WorkerPhase::kInProgress && !o_.outbox) {
    if (auto cut = cut_off_from_.find(w);
        cut != cut_off_from_.end() && cut->second <= clock_.NowMs()) {
      // A partial partition: the handler's call never arrives and no answer
      // ever comes, so the handler never returns and the worker takes no
      // step again; its heartbeats still reach the store.
      Mix(0xc07ULL);
      Note(w, "cut-off",
           "its handler called the downstream system, which it cannot reach: it waits");
      sw.handler_until = kNever;
      EnsureHeartbeat(w);
      return {};
    }
  }
  if (sw.batch) return StepBatch(w);
  const WorkerPhase before = sw.worker->phase();
  const JobId holding = sw.worker->lease() ? sw.worker->lease()->job.id : 0;
  auto r = sw.worker->Step();
  if (!r) return OnStepError(w, r.error(), {holding});
  sw.backoff.Reset();
  ++sw.steps;
  Mix(static_cast<uint64_t>(r->kind) << 48 ^ static_cast<uint64_t>(r->job_id) << 24 ^
      static_cast<uint64_t>(r->execution_id));
  switch (r->kind) {
    case StepKind::kCommitted:
      if (o_.guards.commit_boundary && ++commits_[r->job_id] > 1) cheap_violation_ = true;
      break;
    case StepKind::kRan:
      if (external_.CountFor(r->job_id) > 1) cheap_violation_ = true;
      break;
    case StepKind::kClaimed:
      claimed_open_.insert(r->job_id);
      LAB_RETURN_IF_ERROR(RefreshLate());
      break;
    case StepKind::kNoJob:
      LAB_RETURN_IF_ERROR(RefreshLate());
      break;
    case StepKind::kFinished:
      // A fused commit: it crossed COMMITTED on its way to DONE.
      if (before == WorkerPhase::kRan && o_.guards.commit_boundary && ++commits_[r->job_id] > 1) {
        cheap_violation_ = true;
      }
      LAB_RETURN_IF_ERROR(Refresh(r->job_id));
      break;
    case StepKind::kFailed:
    case StepKind::kDuplicate:
    case StepKind::kFenced:
      LAB_RETURN_IF_ERROR(Refresh(r->job_id));
      break;
    default:
      break;
  }
  ScheduleNext(w, *r);
  return {};
}

Result<void> World::StepBatch(int w) {
  SimWorker& sw = workers_[w];
  std::vector<JobId> held;
  for (const Lease* lease : HeldBy(sw)) held.push_back(lease->job.id);
  auto r = sw.batch->Step();
  if (!r) return OnStepError(w, r.error(), held);
  sw.backoff.Reset();
  ++sw.steps;
  Mix(static_cast<uint64_t>(r->kind) << 48 ^ static_cast<uint64_t>(r->claimed) << 32 ^
      static_cast<uint64_t>(r->finished) << 16 ^ static_cast<uint64_t>(r->fenced));
  Note(
      w, "batch",
      fmt::format("{}: {} claimed, {} finished, {} failed, {} duplicates, {} fenced",
                  ToString(r->kind), r->claimed, r->finished, r->failed, r->duplicates, r->fenced));
  if (r->kind == StepKind::kClaimed) {
    for (const Lease* lease : HeldBy(sw)) claimed_open_.insert(lease->job.id);
  }
  if (r->kind == StepKind::kClaimed || r->kind == StepKind::kNoJob) {
    LAB_RETURN_IF_ERROR(RefreshLate());
  }
  for (JobId job : held) LAB_RETURN_IF_ERROR(Refresh(job));
  ScheduleNext(w, StepResult{r->kind});
  return {};
}

void World::ScheduleNext(int w, const StepResult& r) {
  SimWorker& sw = workers_[w];
  const TimeMs now = clock_.NowMs();
  DurationMs delay = latency_.Range(1, 10);
  if (r.kind == StepKind::kNoJob) {
    delay = cadence_.poll_ms;
  } else if (sw.handler_until > now) {
    // The step ran the handler (for a batch, each in turn): the next comes
    // when it returns.
    delay = std::max(delay, sw.handler_until - now);
  }
  LAB_ASSERT(delay > 0 && sw.alive);
  Push(now + delay, EventKind::kStep, w, sw.generation);
  EnsureHeartbeat(w);
}

void World::EnsureHeartbeat(int w) {
  SimWorker& sw = workers_[w];
  if (sw.heartbeat_pending || PhaseOf(sw) == WorkerPhase::kIdle) return;
  sw.heartbeat_pending = true;
  // A slow clock spaces the beats out, in the fault window only.
  const double rate = InFaultWindow() ? sw.clock_rate : 1.0;
  const auto interval = static_cast<DurationMs>(static_cast<double>(cadence_.heartbeat_ms) * rate);
  Push(clock_.NowMs() + std::max<DurationMs>(1, interval), EventKind::kHeartbeat, w, sw.generation);
}

Result<void> World::Heartbeat(int w) {
  SimWorker& sw = workers_[w];
  sw.heartbeat_pending = false;
  if (sw.paused_until > clock_.NowMs()) {
    sw.heartbeat_pending = true;
    Push(sw.paused_until, EventKind::kHeartbeat, w, sw.generation);
    return {};
  }
  if (PhaseOf(sw) == WorkerPhase::kIdle) return {};
  if (!o_.guards.control_plane && InHandler(sw)) {
    // No control plane: the heartbeat waits for the job thread, which is
    // running the handler; the step after it beats again (ScheduleNext).
    Mix(0x57a7ed);
    Note(w, "heartbeat", "not sent: the only thread is running the handler (no control plane)");
    return {};
  }
  std::vector<JobId> held;
  for (const Lease* lease : HeldBy(sw)) held.push_back(lease->job.id);
  auto beat = sw.batch ? sw.batch->Heartbeat() : sw.worker->Heartbeat();
  const bool dropped = HeldBy(sw).size() < held.size();
  Mix(beat && !dropped ? 0xbeef : 0xdead);
  if (!beat && beat.error().code != ErrorCode::kAborted) {
    // The lease stays as it was; the next beat tries again, and a
    // fail-stopped handle is reopened by the worker's next step.
    ++storage_.store_errors;
    Note(w, "store-error", "heartbeat: " + beat.error().ToString());
  }
  if (dropped) {  // Fenced: the worker dropped the job (or some of its batch).
    for (JobId job : held) LAB_RETURN_IF_ERROR(Refresh(job));
  }
  EnsureHeartbeat(w);
  return {};
}

std::optional<DiskFault> World::DiskFaultAt(DiskOp op, int64_t n) {
  if (!Injecting()) return std::nullopt;
  for (auto due = disk_faults_.begin(); due != disk_faults_.end() && due->first <= n;) {
    armed_disk_faults_.push_back(due->second);
    due = disk_faults_.erase(due);
  }
  auto it = std::find_if(armed_disk_faults_.begin(), armed_disk_faults_.end(),
                         [op](DiskFault f) { return AppliesTo(f, op); });
  if (it == armed_disk_faults_.end()) return std::nullopt;
  const DiskFault fault = *it;
  armed_disk_faults_.erase(it);
  ++storage_.disk_faults_fired;
  Mix(0xd1000000ULL + static_cast<uint64_t>(fault));
  NoteAs("disk", "disk-fault", fmt::format("{} at disk operation {}", ToString(fault), n));
  return fault;
}

Result<void> World::CheckPowerLoss() {
  if (!disk_ || disk_->stats().crashes == crashes_seen_) return {};
  crashes_seen_ = disk_->stats().crashes;
  ++storage_.power_losses;
  Mix(0x90e71055ULL);
  Note(-1, "power-loss",
       "the machine lost power: every process died; unsynced writes were kept, dropped or torn");
  const DurationMs restart = std::max<DurationMs>(1, s_.lease_ms / 2);
  for (int w = 0; w < s_.workers; ++w) {
    if (workers_[w].alive) Kill(w, restart, "power loss");
  }
  // The store's connection died with its process: a new one, on which
  // SQLite recovers from its log, and the file must be whole.
  observing_ = true;
  auto reopened = backend_->Reopen();
  auto whole = reopened ? backend_->CheckIntegrity() : reopened;
  observing_ = false;
  if (!whole) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("seed {}: after a power loss at {}: {}", s_.seed,
                                 RunTime(clock_.NowMs()), whole.error().ToString()));
  }
  Note(-1, "recovery", "store reopened; integrity_check ok");
  return {};
}

template <typename F>
auto World::Observe(F read) -> decltype(read()) {
  LAB_RETURN_IF_ERROR(CheckPowerLoss());
  observing_ = true;
  auto r = read();
  observing_ = false;
  return r;
}

Result<EnqueueResult> World::Produce(const NewJob& request) {
  constexpr int kTries = 100;
  for (int attempt = 1;; ++attempt) {
    auto r = queue_->Enqueue(request);
    if (r) return r;
    // Refused at the door: the producer is told, and sending it again at
    // once would only be refused again.
    if (r.error().code == ErrorCode::kOverloaded) return r;
    LAB_RETURN_IF_ERROR(CheckPowerLoss());
    Mix(0xe2000000ULL + static_cast<uint64_t>(r.error().code));
    NoteAs("producer", "store-error", r.error().ToString() + "; sent again");
    if (attempt == kTries) return std::unexpected(r.error());
    if (producer_store_->failed()) ReopenHandle(*producer_store_, "producer");
  }
}

Result<void> World::Refresh(JobId job) {
  if (job == 0 || !open_jobs_.contains(job)) return {};
  auto got = Observe([&] { return queue_->store().GetJob(job); });
  if (!got && got.error().code == ErrorCode::kNotFound) {
    // Gone: a power loss took a job this run knew of. The checkers say
    // whether that broke a promise (an acknowledged job: INV_004).
    Note(-1, "lost", fmt::format("job {} is no longer in the store", job));
    open_jobs_.erase(job);
    claimed_open_.erase(job);
    return {};
  }
  LAB_ASSIGN_OR_RETURN(Job j, std::move(got));
  if (IsFinished(j.state)) {
    open_jobs_.erase(job);
    claimed_open_.erase(job);
  }
  return {};
}

Result<void> World::RefreshLate() {
  std::vector<JobId> late;
  for (const auto& [job, deadline] : deadlines_) {
    if (deadline < clock_.NowMs()) late.push_back(job);
  }
  for (JobId job : late) {
    LAB_RETURN_IF_ERROR(Refresh(job));
    if (!open_jobs_.contains(job)) deadlines_.erase(job);
  }
  return {};
}

Result<void> World::RefreshAll() {
  const std::vector<JobId> swept(claimed_open_.begin(), claimed_open_.end());
  for (JobId id : swept) LAB_RETURN_IF_ERROR(Refresh(id));
  return {};
}

Result<void> World::Dispatch(const Event& e) {
  Mix(static_cast<uint64_t>(e.at) * 131 + static_cast<uint64_t>(e.kind) * 17 +
      static_cast<uint64_t>(e.actor));
  switch (e.kind) {
    case EventKind::kArrive: {
      const ScheduledJob& job = s_.jobs[static_cast<size_t>(e.actor)];
      NewJob request{.key = job.key,
                     .payload = job.key,
                     .max_attempts = job.max_attempts,
                     .timeout_ms = job.timeout_ms};
      if (job.deadline_ms > 0) request.deadline_ms = e.at + job.deadline_ms;
      if (job.lost_reply) {
        // The first try takes effect and its answer is lost; the producer,
        // not knowing, sends the same request again.
        lose_reply_ = true;
        auto lost = queue_->Enqueue(request);
        LAB_ASSERT(!lost);
        // (Unless a disk fault failed it first: then it took no effect that
        // anyone can name, and the request below is the one that counts.)
        if (fault_store_->lost_enqueue()) {
          const JobId created = fault_store_->lost_enqueue()->job_id;
          requests_.push_back({job.key, created});
          open_jobs_.insert(created);
        }
        LAB_RETURN_IF_ERROR(CheckPowerLoss());
      }
      auto produced = Produce(request);
      if (!produced && produced.error().code == ErrorCode::kOverloaded) {
        Mix(0xad000000ULL + static_cast<uint64_t>(e.actor));
        NoteAs("producer", "refused", produced.error().message);
        ++refused_;
        ++arrived_;
        return {};
      }
      LAB_ASSIGN_OR_RETURN(EnqueueResult r, std::move(produced));
      requests_.push_back({job.key, r.job_id});
      acked_.push_back(r.job_id);
      open_jobs_.insert(r.job_id);
      if (request.deadline_ms) deadlines_.emplace(r.job_id, *request.deadline_ms);
      ++arrived_;
      return {};
    }
    case EventKind::kStep:
    case EventKind::kHeartbeat:
    case EventKind::kRestart: {
      SimWorker& sw = workers_[e.actor];
      if (e.generation != sw.generation) return {};  // From a previous incarnation.
      if (e.kind == EventKind::kRestart) {
        sw.alive = true;
        // A new process: a new connection, if the old one had stopped.
        if (sw.handle.store->failed()) ReopenHandle(*sw.handle.store, fmt::format("w{}", e.actor));
        Note(e.actor, "restart", "worker process restarted");
        return Step(e.actor);
      }
      if (!sw.alive) return {};
      return e.kind == EventKind::kStep ? Step(e.actor) : Heartbeat(e.actor);
    }
    case EventKind::kReap:
    case EventKind::kReconcile: {
      if (!o_.guards.control_plane && !AnyWorkerIdle()) {
        // No control plane: a sweep runs on an idle job thread, as the
        // pool's sweep does without one; every thread is busy, so it waits.
        Mix(0x5bee9);
        Push(clock_.NowMs() + cadence_.poll_ms, e.kind, -1);
        return {};
      }
      Queue& q = *sweeper_.queue;
      auto n = e.kind == EventKind::kReap ? q.Reap() : q.Reconcile();
      if (n) {
        Mix(static_cast<uint64_t>(*n));
        if (*n > 0) LAB_RETURN_IF_ERROR(RefreshAll());
      } else {
        LAB_RETURN_IF_ERROR(OnSweeperError(n.error()));
      }
      Push(clock_.NowMs() + cadence_.sweep_ms, e.kind, -1);
      return {};
    }
    case EventKind::kRelay:
      LAB_RETURN_IF_ERROR(Relay());
      Push(clock_.NowMs() + cadence_.sweep_ms, e.kind, -1);
      return {};
    case EventKind::kLate: {
      AppliedEffect request = held_up_.at(static_cast<size_t>(e.actor));
      request.at_ms = clock_.NowMs();
      --held_up_in_flight_;
      Mix(0x1a7e0000ULL + static_cast<uint64_t>(request.job_id));
      external_.Apply(request);
      if (external_.CountFor(request.job_id) > 1) cheap_violation_ = true;
      return {};
    }
  }
  return {};
}

Result<std::optional<bool>> World::Drill() {
  if (!o_.guards.drill || drills_ == kMaxDrills) return std::optional<bool>(false);
  const std::vector<HeldEffect> held = HeldEffects(external_.log());
  if (held.empty()) return std::optional<bool>(false);  // Nothing to disagree about.
  // An operator drills once the incident is over: a redrive during it
  // would only meet the same faults.
  if (InFaultWindow()) return std::optional<bool>();
  ++drills_;
  LAB_ASSIGN_OR_RETURN(DrillReport report,
                       Observe([&] { return RunDrill(queue_->store(), held); }));
  bool redriven = false;
  for (const DrillFinding& f : report.findings) {
    Mix(0xd7111000ULL + static_cast<uint64_t>(f.job));
    NoteAs("drill", "finding", fmt::format("job {}: {}", f.job, f.detail));
    ++drill_findings_;
    if (!f.repaired) continue;
    ++drill_repaired_;
    redriven = true;  // Either way, the run goes on until the repair is done.
    // A missing outbox effect is pending again: the relay delivers it, and
    // its job stays SUCCEEDED. A redriven job runs again.
    if (f.kind == Divergence::kMissing) continue;
    open_jobs_.insert(f.job);
    // Past its deadline, its next claim expires it: watched for as any other.
    LAB_ASSIGN_OR_RETURN(Job job, Observe([&] { return queue_->store().GetJob(f.job); }));
    if (job.deadline_at_ms > 0) deadlines_[f.job] = job.deadline_at_ms;
  }
  return std::optional<bool>(redriven);
}

Result<void> World::DeepCheck() {
  LAB_ASSIGN_OR_RETURN(Snapshot snapshot, Observe([&] { return queue_->store().ReadSnapshot(); }));
  const auto problems = FindInconsistencies(snapshot, o_.guards);
  if (!problems.empty()) {
    const std::string message =
        fmt::format("seed {} at {}: {}", s_.seed, RunTime(clock_.NowMs()), problems.front());
    LAB_ASSERT_MSG(problems.empty(), message.c_str());
  }
  return {};
}

Result<SimResult> World::Run() {
  // Setting up is not part of the run: no fault while the store is created.
  observing_ = true;
  auto opened = Open();
  observing_ = false;
  LAB_RETURN_IF_ERROR(opened);
  for (size_t i = 0; i < s_.jobs.size(); ++i) {
    Push(s_.jobs[i].at_ms, EventKind::kArrive, static_cast<int>(i));
  }
  for (int w = 0; w < s_.workers; ++w) Push(latency_.Range(0, 50), EventKind::kStep, w, 0);
  Push(s_.reaper_interval_ms, EventKind::kReap, -1);
  Push(s_.reaper_interval_ms + s_.reaper_interval_ms / 2, EventKind::kReconcile, -1);
  if (o_.outbox) Push(s_.reaper_interval_ms + s_.reaper_interval_ms / 4, EventKind::kRelay, -1);

  // Liveness bound (step_policy.h), from the cadences and the retry policy
  // the workers run: the schedule draws restarts within 3 leases.
  DurationMs longest_link_delay = 0;
  for (const ScheduledLinkFault& l : s_.links) {
    longest_link_delay = std::max(longest_link_delay, l.delay_ms);
  }
  const LivenessInputs liveness{
      .cadence = cadence_,
      .retry = kSimRetry,
      .jobs = static_cast<int>(s_.jobs.size()),
      .workers = s_.workers,
      .max_attempts = s_.MaxAttempts(),
      .quiet_from_ms = s_.fault_window_ms,
      .restart_ms = 3 * s_.lease_ms,
      .step_ms = kMaxStepLatencyMs,
      // A handler computes, or waits for its answer (which comes in time or
      // not at all), or, cut off, until the lease cap ends its hold.
      .handler_ms = std::max(
          {s_.Longest(&ScheduledJob::run_ms), s_.downstream ? s_.downstream->timeout_ms : 0,
           s_.partitions.empty() ? 0 : s_.Longest(&ScheduledJob::timeout_ms) + s_.lease_ms,
           s_.links.empty() ? 0 : LinkTimeoutMs() + longest_link_delay}),
      .retry_wait_ms =
          (o_.guards.retry_budget ? kSimRetryBudget.window_ms : 0) +
          (o_.guards.circuit_breaker ? kSimBreaker.open_ms + kSimBreaker.window_ms : 0)};
  // And for each drill, one job's attempts again (a redriven dead letter).
  LivenessInputs redriven = liveness;
  redriven.jobs = 0;
  redriven.quiet_from_ms = redriven.restart_ms = 0;
  // And with the outbox, the relay's next two passes after the last job.
  const TimeMs deadline = o_.liveness_deadline_ms.value_or(
      LivenessBound(liveness) + (o_.guards.drill ? kMaxDrills * LivenessBound(redriven) : 0) +
      (o_.outbox ? 2 * cadence_.sweep_ms : 0));

  SimResult result{
      .seed = s_.seed, .liveness_deadline_ms = deadline, .jobs = static_cast<int>(s_.jobs.size())};
  bool stuck = false;
  while (!events_.empty()) {
    const Event e = events_.top();
    if (e.at > deadline) {
      stuck = true;
      break;
    }
    events_.pop();
    // Time never runs backwards: every event was scheduled at or after the
    // time it was scheduled from.
    LAB_ASSERT(e.at >= clock_.NowMs());
    clock_.Set(e.at);
    LAB_RETURN_IF_ERROR(Dispatch(e));
    LAB_RETURN_IF_ERROR(CheckPowerLoss());
    ++result.events;
    if (o_.deep_check_every != 0 && result.events % o_.deep_check_every == 0) {
      LAB_RETURN_IF_ERROR(DeepCheck());
    }
    if (cheap_violation_ && !result.first_detected_ms) {
      // Keep running: the end-of-run checks judge a settled state, and this
      // records when the violation first became visible.
      result.first_detected_ms = clock_.NowMs();
      Note(-1, "check", "INV_001: a job's effect was applied a second time");
    }
    if (arrived_ == static_cast<int>(s_.jobs.size()) && open_jobs_.empty()) {
      // With the outbox, the run is over once the relay has delivered
      // every intent too; and once every request the network held up has
      // arrived (what it does there is part of the run).
      bool delivered = held_up_in_flight_ == 0;
      if (delivered && o_.outbox) {
        LAB_ASSIGN_OR_RETURN(auto pending, Observe([&] { return queue_->store().Outbox(1); }));
        delivered = pending.empty();
      }
      if (delivered) {
        LAB_ASSIGN_OR_RETURN(std::optional<bool> redriven, Drill());
        if (redriven && !*redriven) break;
      }
    }
    if (result.events >= o_.max_events) {
      stuck = true;
      break;
    }
  }
  // Out of events with jobs still open (or never arrived) is not liveness
  // either: a run that did not finish its jobs cannot say INV_006 holds.
  stuck = stuck || arrived_ < static_cast<int>(s_.jobs.size()) || !open_jobs_.empty();
  LAB_ASSIGN_OR_RETURN(Snapshot snapshot, Observe([&] { return queue_->store().ReadSnapshot(); }));
  // Finished means every job that arrived is terminal; a run that stopped
  // for its bound or its event budget is stuck.
  LAB_ASSERT(stuck || (arrived_ == static_cast<int>(s_.jobs.size()) && open_jobs_.empty()));
  if (stuck) {
    Note(-1, "liveness",
         fmt::format("bound {} reached with {} job(s) open", RunTime(deadline), open_jobs_.size()));
    result.violations = CheckLiveness(snapshot, clock_.NowMs());
    if (result.violations.empty()) {
      result.violations.push_back(
          {.invariant = Invariant::kLiveness,
           .message = fmt::format("the run stopped at {} (bound {}) with {} of {} job(s) "
                                  "arrived and {} still open",
                                  RunTime(clock_.NowMs()), RunTime(deadline), arrived_,
                                  s_.jobs.size(), open_jobs_.size())});
    }
  }
  // Faults, and their tails (the longest pause; a slow clock's last beat),
  // are over two leases after the fault window: from then on every lease
  // of a live worker must be kept.
  auto kept =
      CheckLeasesKeptOnceQuiet(snapshot, s_.fault_window_ms + 2 * s_.lease_ms, died_with_worker_);
  result.violations.insert(result.violations.end(), kept.begin(), kept.end());
  std::vector<ExecutionId> fenced;
  for (const SimWorker& sw : workers_) {
    const auto& seen = sw.batch ? sw.batch->fenced_executions() : sw.worker->fenced_executions();
    fenced.insert(fenced.end(), seen.begin(), seen.end());
  }
  auto safety = CheckAll({.snapshot = snapshot,
                          .external = external_.log().applied(),
                          .acknowledged = acked_,
                          .recovered_at_ms = std::nullopt,
                          .requests = requests_,
                          .fenced = std::move(fenced)});
  result.violations.insert(result.violations.end(), safety.begin(), safety.end());
  // Every simulated worker carries a breaker; the rule is judged guard on or off.
  auto amplified = CheckAmplification(snapshot, downstream_.calls(), kSimRetryBudget, kSimBreaker);
  result.violations.insert(result.violations.end(), amplified.begin(), amplified.end());
  auto late = CheckBoundedLatency(snapshot, limits_);
  result.violations.insert(result.violations.end(), late.begin(), late.end());
  result.refused = refused_;
  const std::set<ExecutionId> deferred = DeferredExecutions(snapshot);
  std::map<JobId, int> executions_of;
  for (const Execution& e : snapshot.executions) {
    if (deferred.contains(e.id)) continue;
    ++result.executions;
    result.max_executions = std::max(result.max_executions, ++executions_of[e.job_id]);
  }
  TimeMs last_end = 0;
  bool all_ended = !stuck;
  for (const Job& j : snapshot.jobs) {
    all_ended = all_ended && IsFinished(j.state);
    last_end = std::max(last_end, j.finished_at_ms);
    result.expired += j.state == JobState::kExpired ? 1 : 0;
    if (j.deadline_at_ms == 0) continue;
    ++result.with_deadline;
    if (j.state == JobState::kSucceeded && j.finished_at_ms <= j.deadline_at_ms) {
      ++result.done_in_time;
    }
  }
  if (all_ended) result.drained_at_ms = last_end;
  result.fault_window_ms = s_.fault_window_ms;
  result.downstream_calls = static_cast<int64_t>(downstream_.calls().size());
  const std::vector<bool> retries = RetryCalls(snapshot, downstream_.calls());
  result.downstream_retries = std::count(retries.begin(), retries.end(), true);
  for (const DownstreamSecond& second : downstream_.seconds()) {
    result.downstream_peak = std::max(result.downstream_peak, second.calls);
    result.downstream_wasted += second.wasted;
  }
  result.goodput_per_s = static_cast<double>(result.done_in_time) * 1'000 /
                         static_cast<double>(std::max<TimeMs>(1'000, last_end));
  // The scheduler's own decisions and every trace event, field by field.
  Mix(trace_.hash());
  result.trace_hash = hash_;
  result.end_ms = clock_.NowMs();
  result.faults_fired = faults_fired_;
  result.handler_faults_fired = handler_faults_fired_;
  result.link_faults_fired = link_faults_fired_;
  result.drill_findings = drill_findings_;
  result.drill_repaired = drill_repaired_;
  result.storage = storage_;
  return result;
}

}  // namespace

StorageTally& StorageTally::operator+=(const StorageTally& o) {
  store_faults_fired += o.store_faults_fired;
  store_errors += o.store_errors;
  reopens += o.reopens;
  disk_faults_fired += o.disk_faults_fired;
  power_losses += o.power_losses;
  return *this;
}

std::string StorageTally::ToString() const {
  return fmt::format(
      "{} storage faults injected, {} disk faults ({} power losses, each recovered and "
      "integrity-checked), {} store errors handled, {} handles reopened",
      store_faults_fired, disk_faults_fired, power_losses, store_errors, reopens);
}

std::string SimResult::DownstreamSummary() const {
  return fmt::format(
      "{} calls for {} jobs ({:.1f} a job, {} retries), at most {} in a second{}", downstream_calls,
      jobs, static_cast<double>(downstream_calls) / std::max(jobs, 1), downstream_retries,
      downstream_peak,
      downstream_wasted > 0
          ? fmt::format(", {} timed out (served all the same, for nobody)", downstream_wasted)
          : "");
}

std::string SimResult::LoadSummary() const {
  std::string drained = "not drained: not recovered";
  if (drained_at_ms && *drained_at_ms <= fault_window_ms) {
    drained = "drained before the fault window ended: recovered";
  } else if (drained_at_ms) {
    drained = fmt::format("drained {:.1f}s after the fault window: recovered",
                          static_cast<double>(*drained_at_ms - fault_window_ms) / 1'000);
  }
  const int64_t accepted = std::max<int64_t>(1, jobs - refused);
  return fmt::format(
      "{:.1f} executions a job accepted (at most {}); {} of {} jobs with a deadline "
      "done in time{}; {}",
      static_cast<double>(executions) / static_cast<double>(accepted), max_executions, done_in_time,
      with_deadline, with_deadline > 0 ? fmt::format(" ({:.2f}/s)", goodput_per_s) : "", drained);
}

bool SimResult::Violated(Invariant invariant) const {
  return std::any_of(violations.begin(), violations.end(),
                     [&](const Violation& v) { return v.invariant == invariant; });
}

std::string SimResult::ViolatedList() const {
  return JoinInvariants(ViolatedInvariants(violations));
}

Result<SimResult> Simulate(const Schedule& schedule, const SimOptions& options) {
  LAB_RETURN_IF_ERROR(ValidateSchedule(schedule));
  World world(schedule, options);
  return world.Run();
}

}  // namespace lab
