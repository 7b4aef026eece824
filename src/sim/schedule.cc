#include "sim/schedule.h"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/enum_names.h"
#include "core/rng.h"
#include "core/text.h"
#include "queue/guards.h"

namespace lab {
namespace {

using nlohmann::json;

constexpr EnumNames<FaultKind, 5> kFaultKinds = {{{FaultKind::kCrash, "crash"},
                                                  {FaultKind::kPause, "pause"},
                                                  {FaultKind::kDelay, "delay"},
                                                  {FaultKind::kSkew, "skew"},
                                                  {FaultKind::kJump, "clock_jump"}}};
constexpr EnumNames<HandlerOutcome, 3> kOutcomes = {{{HandlerOutcome::kTransient, "transient"},
                                                     {HandlerOutcome::kPermanent, "permanent"},
                                                     {HandlerOutcome::kSlow, "slow"}}};
constexpr EnumNames<LinkFault, 5> kLinkFaults = {{{LinkFault::kLoseRequest, "lose_request"},
                                                  {LinkFault::kLoseReply, "lose_reply"},
                                                  {LinkFault::kDuplicate, "duplicate"},
                                                  {LinkFault::kDelay, "delay"},
                                                  {LinkFault::kReorder, "reorder"}}};
constexpr EnumNames<Link, 2> kLinks = {
    {{Link::kDownstream, "downstream"}, {Link::kStore, "store"}}};

// Uniform in [lo, hi) from the rng, for drawing rates.
double Between(Rng& rng, double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(rng.Uniform(1'000'000)) / 1'000'000.0;
}

}  // namespace

int Schedule::MaxAttempts() const {
  int m = 1;
  for (const auto& j : jobs) m = std::max(m, j.max_attempts);
  return m;
}

DurationMs Schedule::Longest(DurationMs ScheduledJob::*field) const {
  DurationMs m = 0;
  for (const auto& j : jobs) m = std::max(m, j.*field);
  return m;
}

std::string DrawnConfig::ToString() const {
  return fmt::format(
             "jobs={} workers={} lease={}ms p_crash={:.3f} p_pause={:.3f} p_delay={:.3f} "
             "p_skew={:.3f} p_transient={:.3f} p_permanent={:.3f} p_slow={:.3f} p_jump={:.3f} "
             "p_poison={:.3f} p_lost_reply={:.3f} fused_workers={} claim_batch={}",
             jobs, workers, lease_ms, p_crash, p_pause, p_delay, p_skew, p_transient, p_permanent,
             p_slow, p_jump, p_poison, p_lost_reply, fused_workers, claim_batch) +
         (p_long > 0 ? fmt::format(" p_long={:.3f}", p_long) : "") +
         (outages > 0 ? fmt::format(" outages={}", outages) : "") +
         (utilisation > 0 ? fmt::format(" utilisation={:.2f}", utilisation) : "") +
         (partitions > 0 ? fmt::format(" partitions={}", partitions) : "") +
         (links > 0 ? fmt::format(" links={}", links) : "") +
         (max_depth > 0 ? fmt::format(" max_depth={} p_deadline={:.3f}", max_depth, p_deadline)
                        : "") +
         (p_store > 0 ? fmt::format(" p_store={:.4f}", p_store) : "") +
         (p_disk > 0 ? fmt::format(" p_disk={:.4f}", p_disk) : "");
}

// Jobs arrive at uniform times over twice this per job: one this often,
// on average.
constexpr DurationMs kArrivalGapMs = 100;

Schedule DrawSchedule(uint64_t seed, const DrawOptions& options, DrawnConfig* drawn) {
  // Independent streams, so fixing one knob does not shift the others' draws.
  Rng root(seed);
  Rng config_rng = root.Split();
  Rng workload_rng = root.Split();
  Rng fault_rng = root.Split();
  Rng handler_rng = root.Split();
  // Drawn last, from a stream of their own, so that adding them left every
  // earlier draw (and every recorded seed) as it was.
  Rng extra_rng = root.Split();
  Rng steps_rng = root.Split();
  Rng store_rng = root.Split();
  Rng disk_rng = root.Split();
  Rng long_rng = root.Split();
  Rng outage_rng = root.Split();
  Rng admission_rng = root.Split();
  Rng capacity_rng = root.Split();
  Rng partition_rng = root.Split();
  Rng link_rng = root.Split();

  DrawnConfig c;
  if (options.swarm) {
    c.jobs = static_cast<int>(config_rng.Range(1, 40));
    c.workers = static_cast<int>(config_rng.Range(1, 6));
    c.lease_ms = config_rng.Range(1'000, 10'000);
    c.p_crash = Between(config_rng, 0, 0.05);
    c.p_pause = Between(config_rng, 0, 0.05);
    c.p_delay = Between(config_rng, 0, 0.10);
    c.p_skew = Between(config_rng, 0, 0.02);
    c.p_transient = Between(config_rng, 0, 0.30);
    c.p_permanent = Between(config_rng, 0, 0.05);
    c.p_slow = Between(config_rng, 0, 0.10);
  } else {
    c = DrawnConfig{.jobs = 20,
                    .workers = 4,
                    .lease_ms = 5'000,
                    .p_crash = 0.02,
                    .p_pause = 0.02,
                    .p_delay = 0.05,
                    .p_skew = 0.01,
                    .p_transient = 0.1,
                    .p_permanent = 0.02,
                    .p_slow = 0.05};
  }
  if (options.swarm) {
    c.p_jump = Between(extra_rng, 0, 0.5);
    c.p_poison = Between(extra_rng, 0, 0.05);
    c.p_lost_reply = Between(extra_rng, 0, 0.10);
  } else {
    c.p_jump = 0.1;
    c.p_poison = 0.01;
    c.p_lost_reply = 0.02;
  }
  if (options.jobs) c.jobs = *options.jobs;
  if (options.workers) c.workers = *options.workers;
  // Both worker paths in one run: fused steps and split ones.
  c.fused_workers = options.swarm ? static_cast<int>(steps_rng.Range(0, c.workers)) : c.workers / 2;
  // And, in half the seeds, the fused ones batched.
  c.claim_batch =
      options.swarm && steps_rng.Chance(0.5) ? static_cast<int>(steps_rng.Range(2, 4)) : 1;

  Schedule s;
  if (options.outbox) s.outbox = true;
  s.seed = seed;
  s.workers = c.workers;
  s.lease_ms = c.lease_ms;
  s.reaper_interval_ms = std::max<DurationMs>(100, c.lease_ms / 4);
  s.fused_workers = c.fused_workers;
  s.claim_batch = c.claim_batch;
  TimeMs last_arrival = 0;
  for (int i = 0; i < c.jobs; ++i) {
    const TimeMs at = workload_rng.Range(0, 2 * kArrivalGapMs * c.jobs);
    last_arrival = std::max(last_arrival, at);
    s.jobs.push_back({.at_ms = at,
                      .key = fmt::format("job-{}", i),
                      .max_attempts = static_cast<int>(workload_rng.Range(1, 6))});
  }
  s.fault_window_ms = last_arrival + 3 * c.lease_ms;

  // Every job takes about five steps; idle polls take more. Cover them all.
  const int steps_per_worker = 8 * (c.jobs / std::max(1, c.workers) + 1) + 40;
  for (int w = 0; w < c.workers; ++w) {
    for (int k = 0; k < steps_per_worker; ++k) {
      const double u = Between(fault_rng, 0, 1);
      double edge = c.p_crash;
      if (u < edge) {
        s.faults.push_back(
            {w, k, FaultKind::kCrash, fault_rng.Range(c.lease_ms / 2, 3 * c.lease_ms)});
        continue;
      }
      if (u < (edge += c.p_pause)) {
        s.faults.push_back({w, k, FaultKind::kPause, fault_rng.Range(c.lease_ms, 2 * c.lease_ms)});
        continue;
      }
      if (u < (edge += c.p_delay)) {
        s.faults.push_back({w, k, FaultKind::kDelay, fault_rng.Range(1, c.lease_ms * 3 / 2)});
        continue;
      }
      if (u < (edge += c.p_skew)) {
        s.faults.push_back({w, k, FaultKind::kSkew, 0, Between(fault_rng, 1.5, 6.0)});
      }
    }
  }
  for (const auto& job : s.jobs) {
    for (int attempt = 1; attempt <= job.max_attempts; ++attempt) {
      const double u = Between(handler_rng, 0, 1);
      if (u < c.p_transient) {
        s.handlers.push_back({job.key, attempt, HandlerOutcome::kTransient, 0});
      } else if (u < c.p_transient + c.p_permanent) {
        s.handlers.push_back({job.key, attempt, HandlerOutcome::kPermanent, 0});
      } else if (u < c.p_transient + c.p_permanent + c.p_slow) {
        s.handlers.push_back({job.key, attempt, HandlerOutcome::kSlow,
                              handler_rng.Range(c.lease_ms / 2, 3 * c.lease_ms)});
      }
    }
  }
  for (auto& job : s.jobs) {
    job.poison = Between(extra_rng, 0, 1) < c.p_poison;
    job.lost_reply = Between(extra_rng, 0, 1) < c.p_lost_reply;
  }
  // A machine clock set ahead, at most one per worker, at a step no other
  // fault uses: minutes to hours, past any lease.
  for (int w = 0; w < c.workers; ++w) {
    if (Between(extra_rng, 0, 1) >= c.p_jump) continue;
    const int step = static_cast<int>(extra_rng.Range(0, steps_per_worker));
    const DurationMs ahead = extra_rng.Range(10 * 60'000, 2 * 3'600'000);
    const bool taken = std::any_of(s.faults.begin(), s.faults.end(), [&](const ScheduledFault& f) {
      return f.worker == w && f.step == step;
    });
    if (!taken) s.faults.push_back({w, step, FaultKind::kJump, ahead});
  }
  // Long jobs (swarm only, so the fixed mix runs as it always has): a
  // handler that computes one to three leases on every attempt.
  c.p_long = options.swarm ? Between(long_rng, 0, 0.15) : 0;
  for (auto& job : s.jobs) {
    if (long_rng.Chance(c.p_long)) job.run_ms = long_rng.Range(c.lease_ms, 3 * c.lease_ms);
  }
  // Downstream outages (swarm only), in half the seeds: one or two, each
  // half a lease to two leases long, within the fault window.
  if (options.swarm && outage_rng.Chance(0.5)) {
    c.outages = static_cast<int>(outage_rng.Range(1, 2));
    for (int i = 0; i < c.outages; ++i) {
      const TimeMs from = outage_rng.Range(0, s.fault_window_ms - c.lease_ms / 2);
      const TimeMs to =
          std::min(s.fault_window_ms, from + outage_rng.Range(c.lease_ms / 2, 2 * c.lease_ms));
      s.outages.push_back({from, to});
    }
  }
  // Admission control (swarm only), in a third of the seeds: a depth limit
  // below the burst the arrivals make, and deadlines on some jobs, from a
  // lease to three after they arrive, so a retry or a busy queue can miss them.
  if (options.swarm && admission_rng.Chance(1.0 / 3)) {
    c.max_depth = admission_rng.Range(1, std::max(1, c.jobs / 4));
    c.p_deadline = Between(admission_rng, 0, 0.6);
    s.max_depth = c.max_depth;
    for (auto& job : s.jobs) {
      if (admission_rng.Chance(c.p_deadline)) {
        job.deadline_ms = admission_rng.Range(c.lease_ms, 3 * c.lease_ms);
      }
    }
  }
  // The downstream system's capacity (swarm only), in a third of the
  // seeds: one to four requests at once, each taking what makes the
  // arrivals alone use 30% to 150% of it (an overload in some seeds);
  // callers wait two to four services; in half of them a brownout of one
  // or two leases, each request two to ten times slower.
  if (options.swarm && capacity_rng.Chance(1.0 / 3)) {
    DownstreamCapacity d{.concurrency = static_cast<int>(capacity_rng.Range(1, 4))};
    c.utilisation = Between(capacity_rng, 0.3, 1.5);
    d.service_ms = std::max<DurationMs>(
        1, static_cast<DurationMs>(c.utilisation * d.concurrency * kArrivalGapMs));
    d.timeout_ms = capacity_rng.Range(2 * d.service_ms, 4 * d.service_ms);
    if (capacity_rng.Chance(0.5)) {
      const TimeMs from = capacity_rng.Range(0, s.fault_window_ms - c.lease_ms / 2);
      const TimeMs to =
          std::min(s.fault_window_ms, from + capacity_rng.Range(c.lease_ms, 2 * c.lease_ms));
      d.brownouts.push_back({from, to});
      d.slow_factor = static_cast<int>(capacity_rng.Range(2, 10));
    }
    s.downstream = std::move(d);
  }
  // A partial partition (swarm only, two workers or more), in a quarter of
  // the seeds: one worker cut off from the downstream system from a moment
  // in the fault window to the end of the run. Every job then has a
  // timeout, past its longest run, so that the lease cap can end a cut-off
  // worker's hold on it.
  if (options.swarm && c.workers >= 2 && partition_rng.Chance(0.25)) {
    c.partitions = 1;
    s.partitions.push_back({.worker = static_cast<int>(partition_rng.Range(0, c.workers - 1)),
                            .from_ms = partition_rng.Range(0, s.fault_window_ms)});
    const DurationMs timeout = 4 * c.lease_ms + (s.downstream ? s.downstream->timeout_ms : 0);
    for (auto& job : s.jobs) job.timeout_ms = timeout;
  }
  // Link faults (swarm only), in a quarter of the seeds: one to three
  // windows of a lease or two, each on one worker's (or the control
  // plane's) link to the store (losing requests or replies), or on one
  // worker's (with the outbox, or the relay's) link to the downstream
  // system (also duplicating requests or delaying replies).
  if (options.swarm && link_rng.Chance(0.25)) {
    c.links = static_cast<int>(link_rng.Range(1, 3));
    for (int i = 0; i < c.links; ++i) {
      const Link link = link_rng.Chance(0.5) ? Link::kStore : Link::kDownstream;
      ScheduledLinkFault f{
          .worker = static_cast<int>(link_rng.Range(
              link == Link::kStore || options.outbox ? kSweeperActor : 0, c.workers - 1)),
          .link = link,
          .fault = static_cast<LinkFault>(link_rng.Range(0, link == Link::kStore ? 1 : 4))};
      f.window.from_ms = link_rng.Range(0, s.fault_window_ms - 1);
      f.window.to_ms = std::min(s.fault_window_ms,
                                f.window.from_ms + link_rng.Range(c.lease_ms / 2, 2 * c.lease_ms));
      if (f.fault == LinkFault::kDelay) f.delay_ms = link_rng.Range(50, c.lease_ms / 2);
      // Overtaken: it arrives after the caller's retry could have.
      if (f.fault == LinkFault::kReorder) {
        f.delay_ms = std::min(kMaxLinkDelayMs, link_rng.Range(c.lease_ms, 3 * c.lease_ms));
      }
      s.links.push_back(f);
    }
  }
  if (options.store_faults) {
    // Storage faults on every handle: about eight primitives a step.
    c.p_store = options.swarm ? Between(store_rng, 0.001, 0.02) : 0.005;
    constexpr StorageFault kRecoverable[] = {
        StorageFault::kBusy,    StorageFault::kSerialization, StorageFault::kConnectionLost,
        StorageFault::kIoError, StorageFault::kDiskFull,      StorageFault::kReplyLost};
    const int64_t calls = 8LL * steps_per_worker;
    for (int actor = kSweeperActor; actor < c.workers; ++actor) {
      for (int64_t call = 1; call <= calls; ++call) {
        if (!store_rng.Chance(c.p_store)) continue;
        const auto kind = kRecoverable[store_rng.Uniform(std::size(kRecoverable))];
        s.store_faults.push_back({actor, call, kind, store_rng.Chance(0.5)});
      }
    }
  }
  if (options.disk_faults) {
    // Disk operations: some tens a step. A fault only fires on an operation
    // it can happen to (a sync error on a sync, a full disk on a write).
    c.p_disk = options.swarm ? Between(disk_rng, 0.0002, 0.002) : 0.0005;
    const int64_t ops = 40LL * steps_per_worker * c.workers;
    for (int64_t op = 1; op <= ops; ++op) {
      if (!disk_rng.Chance(c.p_disk)) continue;
      constexpr DiskFault kKinds[] = {DiskFault::kCrash,   DiskFault::kFull,
                                      DiskFault::kFull,    DiskFault::kSyncError,
                                      DiskFault::kIoError, DiskFault::kIoError};
      const DiskFault fault = kKinds[disk_rng.Uniform(std::size(kKinds))];
      s.disk_faults.push_back({op, fault});
    }
  }
  if (drawn != nullptr) *drawn = c;
  return s;
}

std::string_view ToString(FaultKind kind) { return NameOf(kFaultKinds, kind); }
std::string_view ToString(HandlerOutcome outcome) { return NameOf(kOutcomes, outcome); }
std::string_view ToString(LinkFault fault) { return NameOf(kLinkFaults, fault); }
std::optional<LinkFault> ParseLinkFault(std::string_view name) {
  return ValueOf(kLinkFaults, name);
}
std::string_view ToString(Link link) { return NameOf(kLinks, link); }
std::optional<Link> ParseLink(std::string_view name) { return ValueOf(kLinks, name); }

namespace {

json WindowsJson(const std::vector<TimeWindow>& windows) {
  json out = json::array();
  for (const TimeWindow& w : windows) out.push_back({{"from_ms", w.from_ms}, {"to_ms", w.to_ms}});
  return out;
}

std::vector<TimeWindow> WindowsFrom(const json& j) {
  std::vector<TimeWindow> out;
  for (const auto& w : j)
    out.push_back({w.at("from_ms").get<TimeMs>(), w.at("to_ms").get<TimeMs>()});
  return out;
}

}  // namespace

std::string ScheduleToJson(const Schedule& s) {
  json j;
  j["version"] = 1;
  j["seed"] = s.seed;
  j["workers"] = s.workers;
  if (s.fused_workers > 0) j["fused_workers"] = s.fused_workers;
  if (s.claim_batch > 1) j["claim_batch"] = s.claim_batch;
  j["lease_ms"] = s.lease_ms;
  j["reaper_interval_ms"] = s.reaper_interval_ms;
  j["fault_window_ms"] = s.fault_window_ms;
  if (s.max_depth != 0) j["max_depth"] = s.max_depth;
  j["jobs"] = json::array();
  for (const auto& job : s.jobs) {
    json jj = {{"at_ms", job.at_ms}, {"key", job.key}, {"max_attempts", job.max_attempts}};
    if (job.poison) jj["poison"] = true;
    if (job.lost_reply) jj["lost_reply"] = true;
    if (job.run_ms > 0) jj["run_ms"] = job.run_ms;
    if (job.deadline_ms != 0) jj["deadline_ms"] = job.deadline_ms;
    if (job.timeout_ms != 0) jj["timeout_ms"] = job.timeout_ms;
    j["jobs"].push_back(jj);
  }
  j["faults"] = json::array();
  for (const auto& f : s.faults) {
    json fj = {{"worker", f.worker},
               {"step", f.step},
               {"kind", ToString(f.kind)},
               {"duration_ms", f.duration_ms}};
    if (f.kind == FaultKind::kSkew) fj["rate"] = f.rate;
    j["faults"].push_back(fj);
  }
  j["handlers"] = json::array();
  for (const auto& h : s.handlers) {
    j["handlers"].push_back({{"job", h.job_key},
                             {"attempt", h.attempt},
                             {"outcome", ToString(h.outcome)},
                             {"duration_ms", h.duration_ms}});
  }
  for (const auto& f : s.store_faults) {
    j["store_faults"].push_back({{"actor", f.actor},
                                 {"call", f.call},
                                 {"fault", ToString(f.fault)},
                                 {"applied", f.applied}});
  }
  for (const auto& f : s.disk_faults) {
    j["disk_faults"].push_back({{"op", f.op}, {"fault", ToString(f.fault)}});
  }
  if (!s.outages.empty()) j["outages"] = WindowsJson(s.outages);
  if (const auto& d = s.downstream) {
    json dj{{"concurrency", d->concurrency},
            {"service_ms", d->service_ms},
            {"timeout_ms", d->timeout_ms},
            {"slow_factor", d->slow_factor},
            {"brownouts", WindowsJson(d->brownouts)}};
    j["downstream"] = dj;
  }
  for (const auto& p : s.partitions) {
    j["partitions"].push_back({{"worker", p.worker}, {"from_ms", p.from_ms}});
  }
  for (const auto& l : s.links) {
    json lj{{"worker", l.worker},
            {"link", ToString(l.link)},
            {"from_ms", l.window.from_ms},
            {"to_ms", l.window.to_ms},
            {"fault", ToString(l.fault)}};
    if (l.delay_ms != 0) lj["delay_ms"] = l.delay_ms;
    j["links"].push_back(lj);
  }
  if (s.guards) j["guards"] = *s.guards;
  if (s.store) j["store"] = *s.store;
  if (s.external_keys) j["external_keys"] = *s.external_keys;
  if (s.outbox) j["outbox"] = *s.outbox;
  for (const auto& e : s.expect) {
    json ids = json::array();
    for (Invariant inv : e.violated) ids.push_back(ToString(inv));
    j["expect"].push_back({{"guards", e.guards}, {"violated", ids}});
  }
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

namespace {

Result<void> InRange(std::string_view what, int64_t value, int64_t lo, int64_t hi) {
  return CheckInRange(fmt::format("schedule: {}", what), value, lo, hi);
}

Error Invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, "schedule: " + std::move(message)};
}

}  // namespace

Result<void> ValidateSchedule(const Schedule& s) {
  LAB_RETURN_IF_ERROR(InRange("workers", s.workers, 1, kMaxSimWorkers));
  LAB_RETURN_IF_ERROR(InRange("fused_workers", s.fused_workers, 0, s.workers));
  LAB_RETURN_IF_ERROR(InRange("claim_batch", s.claim_batch, 1, kMaxSimClaimBatch));
  LAB_RETURN_IF_ERROR(InRange("lease_ms", s.lease_ms, 1, kMaxSimLeaseMs));
  LAB_RETURN_IF_ERROR(InRange("reaper_interval_ms", s.reaper_interval_ms, 1, kMaxSimLeaseMs));
  LAB_RETURN_IF_ERROR(InRange("fault_window_ms", s.fault_window_ms, 0, kMaxSimTimeMs));
  LAB_RETURN_IF_ERROR(
      InRange("the number of jobs", static_cast<int64_t>(s.jobs.size()), 1, kMaxSimJobs));
  LAB_RETURN_IF_ERROR(InRange("max_depth", s.max_depth, 0, kMaxSimJobs));
  std::map<std::string, int> max_attempts;  // By key.
  for (size_t i = 0; i < s.jobs.size(); ++i) {
    const ScheduledJob& job = s.jobs[i];
    const std::string where = fmt::format("job {} ('{}')", i, ForTerminal(job.key, 100));
    if (auto ok = CheckName(NameKind::kKey, job.key); !ok) {
      return std::unexpected(Invalid(where + ": " + ok.error().message));
    }
    LAB_RETURN_IF_ERROR(InRange(where + " at_ms", job.at_ms, 0, s.fault_window_ms));
    LAB_RETURN_IF_ERROR(InRange(where + " max_attempts", job.max_attempts, 1, kMaxSimAttempts));
    LAB_RETURN_IF_ERROR(InRange(where + " run_ms", job.run_ms, 0, kMaxSimTimeMs));
    LAB_RETURN_IF_ERROR(InRange(where + " deadline_ms", job.deadline_ms, 0, kMaxSimTimeMs));
    LAB_RETURN_IF_ERROR(InRange(where + " timeout_ms", job.timeout_ms, 0, kMaxSimLeaseMs));
    if (!max_attempts.emplace(job.key, job.max_attempts).second) {
      return std::unexpected(Invalid(where + ": the key is used by an earlier job"));
    }
  }
  std::set<std::pair<int, int>> fault_at;
  for (size_t i = 0; i < s.faults.size(); ++i) {
    const ScheduledFault& f = s.faults[i];
    const std::string where = fmt::format("fault {} ({})", i, ToString(f.kind));
    LAB_RETURN_IF_ERROR(InRange(where + " worker", f.worker, 0, s.workers - 1));
    LAB_RETURN_IF_ERROR(InRange(where + " step", f.step, 0, kMaxSimStep));
    LAB_RETURN_IF_ERROR(InRange(where + " duration_ms", f.duration_ms, 0, kMaxSimTimeMs));
    if (f.kind == FaultKind::kSkew && !(f.rate >= 1.0 && f.rate <= 100.0)) {
      return std::unexpected(
          Invalid(fmt::format("{} rate is {}; it must be between 1 and 100", where, f.rate)));
    }
    if (!fault_at.emplace(f.worker, f.step).second) {
      return std::unexpected(Invalid(
          fmt::format("{}: worker {} already has a fault at step {}", where, f.worker, f.step)));
    }
  }
  std::set<std::pair<std::string, int>> outcome_at;
  for (size_t i = 0; i < s.handlers.size(); ++i) {
    const ScheduledHandler& h = s.handlers[i];
    const std::string where = fmt::format("handler outcome {} (job '{}', attempt {})", i,
                                          ForTerminal(h.job_key, 100), h.attempt);
    auto job = max_attempts.find(h.job_key);
    if (job == max_attempts.end()) return std::unexpected(Invalid(where + ": no such job"));
    LAB_RETURN_IF_ERROR(InRange(where + " attempt", h.attempt, 1, job->second));
    LAB_RETURN_IF_ERROR(InRange(where + " duration_ms", h.duration_ms, 0, kMaxSimTimeMs));
    if (!outcome_at.emplace(h.job_key, h.attempt).second) {
      return std::unexpected(Invalid(where + ": listed twice"));
    }
  }
  std::set<std::pair<int, int64_t>> store_fault_at;
  for (size_t i = 0; i < s.store_faults.size(); ++i) {
    const ScheduledStoreFault& f = s.store_faults[i];
    const std::string where = fmt::format("store fault {} ({})", i, ToString(f.fault));
    LAB_RETURN_IF_ERROR(InRange(where + " actor", f.actor, kSweeperActor, s.workers - 1));
    LAB_RETURN_IF_ERROR(InRange(where + " call", f.call, 1, kMaxSimStoreCall));
    if (f.fault == StorageFault::kCorrupt) {
      return std::unexpected(Invalid(
          where + ": corrupt data stops a worker for good; a simulated run cannot recover it"));
    }
    if (!store_fault_at.emplace(f.actor, f.call).second) {
      return std::unexpected(Invalid(
          fmt::format("{}: handle {} already has a fault at call {}", where, f.actor, f.call)));
    }
  }
  std::set<int64_t> disk_fault_at;
  for (size_t i = 0; i < s.disk_faults.size(); ++i) {
    const ScheduledDiskFault& f = s.disk_faults[i];
    const std::string where = fmt::format("disk fault {} ({})", i, ToString(f.fault));
    LAB_RETURN_IF_ERROR(InRange(where + " op", f.op, 1, kMaxSimStoreCall));
    if (!disk_fault_at.insert(f.op).second) {
      return std::unexpected(Invalid(fmt::format("{}: op {} already has a fault", where, f.op)));
    }
  }
  // A window within the fault window, ending after it starts.
  const auto check_window = [&](const std::string& where, const TimeWindow& w) -> Result<void> {
    LAB_RETURN_IF_ERROR(InRange(where + " from_ms", w.from_ms, 0, s.fault_window_ms));
    return InRange(where + " to_ms", w.to_ms, w.from_ms + 1, s.fault_window_ms);
  };
  const auto check_windows = [&](std::string_view what,
                                 const std::vector<TimeWindow>& windows) -> Result<void> {
    for (size_t i = 0; i < windows.size(); ++i) {
      LAB_RETURN_IF_ERROR(check_window(fmt::format("{} {}", what, i), windows[i]));
    }
    return {};
  };
  LAB_RETURN_IF_ERROR(check_windows("outage", s.outages));
  std::set<int> cut_off;
  for (size_t i = 0; i < s.partitions.size(); ++i) {
    const ScheduledPartition& p = s.partitions[i];
    const std::string where = fmt::format("partition {}", i);
    LAB_RETURN_IF_ERROR(InRange(where + " worker", p.worker, 0, s.workers - 1));
    LAB_RETURN_IF_ERROR(InRange(where + " from_ms", p.from_ms, 0, s.fault_window_ms));
    if (!cut_off.insert(p.worker).second) {
      return std::unexpected(
          Invalid(fmt::format("{}: worker {} is already cut off", where, p.worker)));
    }
  }
  if (!s.partitions.empty() && static_cast<int>(cut_off.size()) >= s.workers) {
    return std::unexpected(
        Invalid("partitions: every worker is cut off; none could ever end a job"));
  }
  for (size_t i = 0; i < s.links.size(); ++i) {
    const ScheduledLinkFault& l = s.links[i];
    const std::string where = fmt::format("link {}", i);
    // The control plane has a store link, and a downstream one for its
    // outbox relay (which only a run with an outbox has).
    const bool relay = l.link == Link::kStore || s.outbox.value_or(false);
    LAB_RETURN_IF_ERROR(
        InRange(where + " worker", l.worker, relay ? kSweeperActor : 0, s.workers - 1));
    LAB_RETURN_IF_ERROR(check_window(where, l.window));
    if (l.link == Link::kStore && l.fault != LinkFault::kLoseRequest &&
        l.fault != LinkFault::kLoseReply) {
      return std::unexpected(Invalid(
          fmt::format("{}: a store link loses requests or replies; {} is the downstream link's",
                      where, ToString(l.fault))));
    }
    if (Delays(l.fault)) {
      LAB_RETURN_IF_ERROR(InRange(where + " delay_ms", l.delay_ms, 1, kMaxLinkDelayMs));
    } else if (l.delay_ms != 0) {
      return std::unexpected(
          Invalid(fmt::format("{}: delay_ms is for a delay, not {}", where, ToString(l.fault))));
    }
  }
  if (const auto& d = s.downstream) {
    LAB_RETURN_IF_ERROR(InRange("downstream concurrency", d->concurrency, 1, kMaxSimWorkers));
    LAB_RETURN_IF_ERROR(InRange("downstream service_ms", d->service_ms, 1, kMaxSimLeaseMs));
    // An idle system answers in time: a caller waits at least one service.
    LAB_RETURN_IF_ERROR(
        InRange("downstream timeout_ms", d->timeout_ms, d->service_ms, kMaxSimLeaseMs));
    LAB_RETURN_IF_ERROR(InRange("downstream slow_factor", d->slow_factor, 1, 100));
    LAB_RETURN_IF_ERROR(check_windows("downstream brownout", d->brownouts));
  }
  for (size_t i = 0; i < s.expect.size(); ++i) {
    if (auto g = Guards::Parse(s.expect[i].guards); !g) {
      return std::unexpected(Invalid(fmt::format("expectation {}: {}", i, g.error().message)));
    }
  }
  if (s.store && *s.store != "memory:" && *s.store != "sqlite:") {
    return std::unexpected(Invalid(fmt::format("store '{}' is not memory: or sqlite:", *s.store)));
  }
  return {};
}

Result<Schedule> ScheduleFromJson(const std::string& text) {
  // nlohmann throws; nothing above this function sees an exception.
  try {
    const json j = json::parse(text);
    if (j.value("version", 0) != 1) {
      return MakeError(ErrorCode::kInvalidArgument, "schedule file: unsupported version");
    }
    Schedule s;
    s.seed = j.at("seed").get<uint64_t>();
    s.workers = j.at("workers").get<int>();
    s.fused_workers = j.value("fused_workers", 0);
    s.claim_batch = j.value("claim_batch", 1);
    s.lease_ms = j.at("lease_ms").get<DurationMs>();
    s.reaper_interval_ms = j.at("reaper_interval_ms").get<DurationMs>();
    s.fault_window_ms = j.at("fault_window_ms").get<TimeMs>();
    s.max_depth = j.value("max_depth", int64_t{0});
    for (const auto& job : j.at("jobs")) {
      s.jobs.push_back({job.at("at_ms").get<TimeMs>(), job.at("key").get<std::string>(),
                        job.at("max_attempts").get<int>(), job.value("poison", false),
                        job.value("lost_reply", false), job.value("run_ms", DurationMs{0}),
                        job.value("deadline_ms", DurationMs{0}),
                        job.value("timeout_ms", DurationMs{0})});
    }
    for (const auto& f : j.at("faults")) {
      const std::string kind = f.at("kind").get<std::string>();
      const auto parsed = ValueOf(kFaultKinds, kind);
      if (!parsed)
        return MakeError(ErrorCode::kInvalidArgument, "schedule file: unknown fault " + kind);
      s.faults.push_back({f.at("worker").get<int>(), f.at("step").get<int>(), *parsed,
                          f.at("duration_ms").get<DurationMs>(), f.value("rate", 1.0)});
    }
    for (const auto& h : j.at("handlers")) {
      const std::string outcome = h.at("outcome").get<std::string>();
      const auto parsed = ValueOf(kOutcomes, outcome);
      if (!parsed) {
        return MakeError(ErrorCode::kInvalidArgument, "schedule file: unknown outcome " + outcome);
      }
      s.handlers.push_back({h.at("job").get<std::string>(), h.at("attempt").get<int>(), *parsed,
                            h.at("duration_ms").get<DurationMs>()});
    }
    if (j.contains("store_faults")) {
      for (const auto& f : j.at("store_faults")) {
        const std::string name = f.at("fault").get<std::string>();
        const auto parsed = ParseStorageFault(name);
        if (!parsed) {
          return MakeError(ErrorCode::kInvalidArgument,
                           "schedule file: unknown store fault " + name);
        }
        s.store_faults.push_back({f.at("actor").get<int>(), f.at("call").get<int64_t>(), *parsed,
                                  f.value("applied", false)});
      }
    }
    if (j.contains("disk_faults")) {
      for (const auto& f : j.at("disk_faults")) {
        const std::string name = f.at("fault").get<std::string>();
        const auto parsed = ParseDiskFault(name);
        if (!parsed) {
          return MakeError(ErrorCode::kInvalidArgument,
                           "schedule file: unknown disk fault " + name);
        }
        s.disk_faults.push_back({f.at("op").get<int64_t>(), *parsed});
      }
    }
    if (j.contains("outages")) s.outages = WindowsFrom(j.at("outages"));
    if (j.contains("partitions")) {
      for (const auto& p : j.at("partitions")) {
        s.partitions.push_back({p.at("worker").get<int>(), p.at("from_ms").get<TimeMs>()});
      }
    }
    if (j.contains("links")) {
      for (const auto& l : j.at("links")) {
        const std::string name = l.at("fault").get<std::string>();
        const auto fault = ParseLinkFault(name);
        if (!fault) {
          return MakeError(ErrorCode::kInvalidArgument,
                           "schedule file: unknown link fault " + name);
        }
        const std::string link_name = l.value("link", std::string("downstream"));
        const auto link = ParseLink(link_name);
        if (!link) {
          return MakeError(ErrorCode::kInvalidArgument, "schedule file: unknown link " + link_name);
        }
        s.links.push_back({.worker = l.at("worker").get<int>(),
                           .link = *link,
                           .window = {l.at("from_ms").get<TimeMs>(), l.at("to_ms").get<TimeMs>()},
                           .fault = *fault,
                           .delay_ms = l.value("delay_ms", DurationMs{0})});
      }
    }
    if (j.contains("downstream")) {
      const json& dj = j.at("downstream");
      DownstreamCapacity d{.concurrency = dj.at("concurrency").get<int>(),
                           .service_ms = dj.at("service_ms").get<DurationMs>(),
                           .timeout_ms = dj.at("timeout_ms").get<DurationMs>(),
                           .slow_factor = dj.value("slow_factor", 10)};
      if (dj.contains("brownouts")) d.brownouts = WindowsFrom(dj.at("brownouts"));
      s.downstream = std::move(d);
    }
    if (j.contains("guards")) s.guards = j.at("guards").get<std::string>();
    if (j.contains("store")) s.store = j.at("store").get<std::string>();
    if (j.contains("external_keys")) s.external_keys = j.at("external_keys").get<bool>();
    if (j.contains("outbox")) s.outbox = j.at("outbox").get<bool>();
    if (j.contains("expect")) {
      for (const auto& e : j.at("expect")) {
        ScheduleExpectation x{.guards = e.at("guards").get<std::string>()};
        for (const auto& id : e.at("violated")) {
          LAB_ASSIGN_OR_RETURN(Invariant inv, ParseInvariant(id.get<std::string>()));
          x.violated.push_back(inv);
        }
        s.expect.push_back(std::move(x));
      }
    }
    if (auto valid = ValidateSchedule(s); !valid) {
      return MakeError(ErrorCode::kInvalidArgument, "schedule file: " + valid.error().message);
    }
    return s;
  } catch (const json::exception& e) {
    // nlohmann's out-of-range and type errors land here ("number out of range").
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("schedule file: {}", e.what()));
  }
}

}  // namespace lab
