#include "bench/bench.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "core/waiter.h"
#include "queue/metrics.h"
#include "queue/queue.h"
#include "queue/scratch_store.h"
#include "queue/worker_pool.h"

namespace lab {
namespace {

// The peers' workload: 32-byte payloads, a handler that does nothing.
const std::string kPayload(32, 'p');
constexpr char kLatencyQueue[] = "latency";

HandlerResult Noop(const JobContext&) { return HandlerResult::Ok(""); }

// A producer retries what the store says is transient and
// unwritten (kUnavailable: a busy file, a dropped connection), as a real
// client would; anything else ends the run. Each retry is counted.
template <typename F>
auto RetryTransient(Waiter& waiter, std::atomic<int64_t>& retries, F call) -> decltype(call()) {
  for (int attempt = 0;; ++attempt) {
    auto r = call();
    if (r || r.error().code != ErrorCode::kUnavailable || attempt == 100) return r;
    ++retries;
    waiter.PauseMs(std::min(1 << std::min(attempt, 5), 20));
  }
}

// fdatasync/s of a 64-byte write loop in `dir` for about half a second.
Result<double> SyncRate(const std::string& dir) {
  const std::string path = dir + "/sync-probe";
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  if (fd < 0) return MakeError(ErrorCode::kFailedPrecondition, "cannot create " + path);
  const char block[64] = {};
  Stopwatch watch;
  int64_t syncs = 0;
  bool ok = true;
  while (ok && watch.ElapsedUs() < 500'000) {
    ok = pwrite(fd, block, sizeof block, 0) == static_cast<ssize_t>(sizeof block) &&
         fdatasync(fd) == 0;
    ++syncs;
  }
  const double seconds = watch.ElapsedSeconds();
  close(fd);
  unlink(path.c_str());
  if (!ok) return MakeError(ErrorCode::kFailedPrecondition, "write + fdatasync failed in " + dir);
  return static_cast<double>(syncs) / seconds;
}

// Resident set size of this process in kB (0 if /proc cannot say).
int64_t ResidentKb() {
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long pages = 0, resident = 0;
  const bool ok = fscanf(f, "%ld %ld", &pages, &resident) == 2;
  fclose(f);
  return ok ? resident * (sysconf(_SC_PAGESIZE) / 1024) : 0;
}

class Bench {
 public:
  Bench(const BenchOptions& o, const BenchProgress& progress, std::string url, bool grouped)
      : o_(o), progress_(progress), url_(std::move(url)), grouped_(grouped) {}

  Result<BenchResult> Run(const std::string& dir);

 private:
  Result<std::unique_ptr<Queue>> Open() {
    if (group_) return Queue::Adopt(group_->NewHandle(), clock_);
    return Queue::Open(url_, clock_);
  }
  // P producer threads enqueue `n` jobs into `queue`, each awaiting its own
  // calls of `batch` jobs; `pace` > 0 spreads them at that many jobs/s.
  Result<void> Produce(const std::string& queue, int64_t n, double pace);
  PoolOptions Pool(const std::string& queue, bool drain) const {
    return {.concurrency = o_.consumers,
            .worker = {.name = "bench", .queue = queue, .lease_ms = 30'000, .fused = o_.fused},
            .poll_ms = 1,
            .drain = drain,
            .claim_batch = o_.claim_batch};
  }
  // Consumers run while `produce` does, until `n` jobs of `queue` are done.
  Result<double> EndToEnd(const std::string& queue, int64_t n, double pace);
  Result<int64_t> Verify(BenchLatency& latency);

  const BenchOptions& o_;
  const BenchProgress& progress_;
  std::string url_;
  bool grouped_;
  SystemClock clock_;
  SystemWaiter waiter_;
  std::map<std::string, int64_t> enqueued_;  // By queue.
  std::atomic<int64_t> retries_{0};
  std::shared_ptr<CommitGroup> group_;
};

Result<void> Bench::Produce(const std::string& queue, int64_t n, double pace) {
  std::atomic<bool> failed{false};
  std::optional<Error> error;
  std::mutex mu;
  std::atomic<int64_t> sent{0};
  Stopwatch watch;
  std::vector<std::thread> threads;
  for (int p = 0; p < o_.producers; ++p) {
    const int64_t share = n / o_.producers + (p < n % o_.producers ? 1 : 0);
    threads.emplace_back([&, share] {
      auto q = Open();
      if (!q) {
        std::lock_guard lock(mu);
        error = q.error();
        failed = true;
        return;
      }
      std::vector<NewJob> batch;
      for (int64_t done = 0; done < share && !failed;) {
        const int64_t k = std::min<int64_t>(o_.batch, share - done);
        batch.assign(static_cast<size_t>(k), NewJob{.queue = queue, .payload = kPayload});
        if (pace > 0) {
          // Not before its time: job number `sent` is due at sent / pace.
          const auto due_us = static_cast<int64_t>(static_cast<double>(sent.load()) / pace * 1e6);
          const int64_t wait_us = due_us - watch.ElapsedUs();
          if (wait_us > 1'000) waiter_.PauseMs(wait_us / 1'000);
        }
        std::optional<Error> refused;
        if (k == 1) {
          auto r = RetryTransient(waiter_, retries_, [&] { return (*q)->Enqueue(batch[0]); });
          if (!r) refused = r.error();
        } else {
          auto r = RetryTransient(waiter_, retries_, [&] { return (*q)->EnqueueBatch(batch); });
          if (!r) refused = r.error();
        }
        if (refused) {
          std::lock_guard lock(mu);
          error = refused;
          failed = true;
          return;
        }
        done += k;
        sent += k;
      }
    });
  }
  for (auto& t : threads) t.join();
  if (error) return std::unexpected(*error);
  enqueued_[queue] += n;
  return {};
}

Result<double> Bench::EndToEnd(const std::string& queue, int64_t n, double pace) {
  SystemWaiter pool_waiter;
  WorkerPool pool([this] { return Open(); }, Noop, Pool(queue, /*drain=*/false), pool_waiter);
  PoolStats stats;
  std::atomic<bool> pool_ended{false}, producer_ended{false};
  std::thread consumers([&] {
    stats = pool.Run();
    pool_ended = true;
  });
  Stopwatch watch;
  Result<void> produced;
  std::thread producer([&] {
    produced = Produce(queue, n, pace);
    producer_ended = true;
  });
  // Until every job is done, or a side has stopped for good: a pool that
  // ended on its own, or producers that failed.
  // The pool's own count, not the store's: counting rows would take a core
  // from the run it measures. The verification afterwards reads the store.
  int64_t seen = 0;
  while (seen < n && !pool_ended && !(producer_ended && !produced)) {
    progress_(queue, seen, n);
    pool_waiter.PauseMs(2);
    seen = pool.finished();
  }
  const double seconds = watch.ElapsedSeconds();
  pool_waiter.Stop();
  producer.join();
  consumers.join();
  LAB_RETURN_IF_ERROR(produced);
  if (stats.fatal) return std::unexpected(*stats.fatal);
  return seconds;
}

Result<int64_t> Bench::Verify(BenchLatency& latency) {
  LAB_ASSIGN_OR_RETURN(auto q, Open());
  return VerifyBenchStore(q->store(), enqueued_, latency);
}

Result<BenchResult> Bench::Run(const std::string& dir) {
  BenchResult r;
  LAB_ASSIGN_OR_RETURN(r.sync_rate, SyncRate(dir));
  if (grouped_) {
    LAB_ASSIGN_OR_RETURN(group_,
                         CommitGroup::Open([this] { return OpenRecordStore(url_, clock_, {}); }));
  } else {
    LAB_ASSIGN_OR_RETURN(auto created, Open());  // Creates the store before any timing.
  }
  r.rss_start_kb = ResidentKb();
  progress_("enqueue", 0, o_.jobs);
  Stopwatch enqueue;
  LAB_RETURN_IF_ERROR(Produce("bench", o_.jobs, 0));
  r.phases.push_back({"enqueue", o_.jobs, enqueue.ElapsedSeconds()});

  progress_("drain", 0, o_.jobs);
  Stopwatch drain;
  WorkerPool pool([this] { return Open(); }, Noop, Pool("bench", /*drain=*/true), waiter_);
  const PoolStats stats = pool.Run();
  if (stats.fatal) return std::unexpected(*stats.fatal);
  r.phases.push_back({"drain", stats.finished, drain.ElapsedSeconds()});

  LAB_ASSIGN_OR_RETURN(double e2e, EndToEnd("end-to-end", o_.jobs, 0));
  r.phases.push_back({"end-to-end", o_.jobs, e2e});

  // Latency at a steady load below saturation: half the end-to-end rate.
  r.latency.offered_rate = r.phases.back().rate() / 2;
  const int64_t n = std::max<int64_t>(1, o_.jobs / 2);
  LAB_RETURN_IF_ERROR(EndToEnd(kLatencyQueue, n, r.latency.offered_rate));
  r.rss_end_kb = ResidentKb();
  progress_("verify", 0, 0);
  LAB_ASSIGN_OR_RETURN(r.verified, Verify(r.latency));
  r.transient_retries = retries_;
  if (group_) r.group = group_->stats();
  return r;
}

}  // namespace

Result<int64_t> VerifyBenchStore(Store& store, const std::map<std::string, int64_t>& enqueued,
                                 BenchLatency& latency) {
  LAB_ASSIGN_OR_RETURN(Snapshot s, store.ReadSnapshot());
  std::map<JobId, int> effects;
  for (const auto& e : s.effects) ++effects[e.job_id];
  std::map<JobId, TimeMs> done_at;
  for (const auto& e : s.executions) {
    if (e.state == ExecState::kDone) done_at[e.job_id] = e.ended_at_ms;
  }
  std::map<std::string, int64_t> found;
  std::vector<int64_t> latencies;
  for (const Job& j : s.jobs) {
    if (j.state != JobState::kSucceeded || effects[j.id] != 1) {
      return MakeError(ErrorCode::kDataLoss,
                       fmt::format("job {} is {} with {} effect(s): the run lost or duplicated "
                                   "work, and its figures mean nothing",
                                   j.id, ToString(j.state), effects[j.id]));
    }
    ++found[j.queue];
    if (j.queue == kLatencyQueue) latencies.push_back(done_at[j.id] - j.created_at_ms);
  }
  int64_t total = 0;
  for (const auto& [queue, n] : enqueued) {
    if (found[queue] != n) {
      return MakeError(ErrorCode::kDataLoss,
                       fmt::format("queue '{}': {} jobs enqueued and acknowledged, {} in the "
                                   "store",
                                   queue, n, found[queue]));
    }
    total += n;
  }
  std::sort(latencies.begin(), latencies.end());
  if (!latencies.empty()) {
    latency.jobs = static_cast<int64_t>(latencies.size());
    latency.p50_ms = Quantile(latencies, 0.50);
    latency.p99_ms = Quantile(latencies, 0.99);
    latency.max_ms = latencies.back();
  }
  return total;
}

Result<BenchResult> RunBench(const BenchOptions& options, const BenchProgress& progress) {
  LAB_RETURN_IF_ERROR(CheckInRange("--jobs", options.jobs, 1, 10'000'000));
  LAB_RETURN_IF_ERROR(CheckInRange("--producers", options.producers, 1, 256));
  LAB_RETURN_IF_ERROR(CheckInRange("--consumers", options.consumers, 1, 256));
  LAB_RETURN_IF_ERROR(CheckInRange("--batch", options.batch, 1, 10'000));
  LAB_RETURN_IF_ERROR(CheckInRange("--claim-batch", options.claim_batch, 1, kMaxClaimBatch));
  LAB_ASSIGN_OR_RETURN(auto store, ScratchStore::Make(options.db, "bench"));
  if (store->url() == "memory:") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a memory: store is private to the handle that opened it; lab bench needs "
                     "one its producers and consumers share (sqlite: or postgresql://...)");
  }
  std::unique_ptr<ScratchDir> probe_dir;
  std::string dir = store->dir();
  if (dir.empty()) {  // PostgreSQL or memory: probe the temp filesystem.
    LAB_ASSIGN_OR_RETURN(probe_dir, ScratchDir::Make("lab-bench"));
    dir = probe_dir->path();
  }
  LAB_ASSIGN_OR_RETURN(StoreUrl url, ParseStoreUrl(store->url()));
  Bench bench(options, progress, store->url(),
              options.group_commit.value_or(GroupCommitPays(url.kind)));
  LAB_ASSIGN_OR_RETURN(BenchResult r, bench.Run(dir));
  if (url.kind == StoreKind::kPostgres) {
    r.durability = "PostgreSQL: at commit, as the server's fsync and synchronous_commit say";
  } else if (url.synchronous == "NORMAL") {
    r.durability =
        "SQLite synchronous=NORMAL: acknowledged before its sync; a process crash loses "
        "nothing, a power loss may lose the last calls";
  } else {
    r.durability =
        fmt::format("SQLite synchronous={}: each acknowledged call synced first", url.synchronous);
  }
  return r;
}

std::string FormatBench(const BenchOptions& o, const BenchResult& r) {
  std::string out = fmt::format(
      "lab bench: {} jobs, {} producer(s), batch {}, {} consumer(s) claiming {} at a time, "
      "store {}\n"
      "durability: {}\n"
      "disk sync rate (64-byte write + fdatasync, same filesystem): {:.0f}/s\n\n"
      "{:<12} {:>9} {:>9} {:>11} {:>12}\n",
      o.jobs, o.producers, o.batch, o.consumers, o.claim_batch, o.db, r.durability, r.sync_rate,
      "phase", "jobs", "seconds", "jobs/s", "of sync rate");
  for (const BenchPhase& p : r.phases) {
    out += fmt::format("{:<12} {:>9} {:>9.3f} {:>11.0f} {:>11.0f}%\n", p.name, p.jobs, p.seconds,
                       p.rate(), r.sync_rate > 0 ? 100 * p.rate() / r.sync_rate : 0);
  }
  out += fmt::format(
      "\nenqueue->done latency at {:.0f} jobs/s offered (half the end-to-end rate), {} jobs: "
      "p50 {} ms, p99 {} ms, max {} ms\n",
      r.latency.offered_rate, r.latency.jobs, r.latency.p50_ms, r.latency.p99_ms, r.latency.max_ms);
  out += fmt::format("verified: {} jobs SUCCEEDED, each with exactly one effect\n", r.verified);
  out += fmt::format("resident memory: {} kB before the first phase, {} kB after the last\n",
                     r.rss_start_kb, r.rss_end_kb);
  if (r.group.batches > 0) {
    out += fmt::format("group commit: {} write calls in {} transactions, {:.1f} a transaction\n",
                       r.group.calls, r.group.batches,
                       static_cast<double>(r.group.calls) / static_cast<double>(r.group.batches));
  }
  if (r.transient_retries > 0) {
    out += fmt::format("transient store errors retried by producers: {}\n", r.transient_retries);
  }
  out += fmt::format(
      "reproduce: lab bench --db '{}' --jobs {} --producers {} --consumers {} --batch {} "
      "--claim-batch {}{}{}\n",
      o.db, o.jobs, o.producers, o.consumers, o.batch, o.claim_batch,
      !o.group_commit   ? ""
      : *o.group_commit ? " --group-commit"
                        : " --no-group-commit",
      o.fused ? "" : " --split-steps");
  return out;
}

std::string BenchToJson(const BenchOptions& o, const BenchResult& r) {
  nlohmann::json j = {{"db", o.db},
                      {"jobs", o.jobs},
                      {"producers", o.producers},
                      {"consumers", o.consumers},
                      {"batch", o.batch},
                      {"group_commit", r.group.batches > 0},
                      {"fused", o.fused},
                      {"claim_batch", o.claim_batch},
                      {"group_transactions", r.group.batches},
                      {"group_calls", r.group.calls},
                      {"rss_start_kb", r.rss_start_kb},
                      {"rss_end_kb", r.rss_end_kb},
                      {"sync_rate", r.sync_rate},
                      {"durability", r.durability},
                      {"verified", r.verified},
                      {"transient_retries", r.transient_retries}};
  for (const BenchPhase& p : r.phases) {
    j["phases"].push_back(
        {{"name", p.name}, {"jobs", p.jobs}, {"seconds", p.seconds}, {"rate", p.rate()}});
    // Flat too, one per line, for scripts without a JSON parser.
    j[p.name + "_rate"] = p.rate();
  }
  j["latency"] = {{"offered_rate", r.latency.offered_rate},
                  {"jobs", r.latency.jobs},
                  {"p50_ms", r.latency.p50_ms},
                  {"p99_ms", r.latency.p99_ms},
                  {"max_ms", r.latency.max_ms}};
  return j.dump(2) + "\n";
}

}  // namespace lab
