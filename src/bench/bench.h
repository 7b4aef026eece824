// lab bench: the real queue's throughput and latency on a real store.
//
// One run measures, in order: the disk's own sync rate (a 64-byte write +
// fdatasync loop on the store's filesystem), enqueue-only (P producers,
// each awaiting its own enqueue of one job or a batch of B), drain-only (C
// consumer threads of a WorkerPool, no-op handler), end-to-end (producers
// and consumers at once), and enqueue-to-done latency at a steady offered
// load of half the end-to-end rate. Then it verifies the store: every job
// it enqueued is SUCCEEDED with exactly one effect in the ledger; a run that
// lost or duplicated a job is an error, whatever its speed. The workload is
// the peers' (32-byte payloads, no-op handler; ../shared/bench/peers).
// Benchmarks read real time (Stopwatch); nothing here is a test.
// Thread-safety: RunBench runs its own threads; call it from one thread.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/group_commit.h"
#include "store/store.h"

namespace lab {

struct BenchOptions {
  // sqlite: (a temp file, removed after), sqlite:DIR (a fresh DIR/bench.db,
  // kept), or postgresql://... (a fresh schema, dropped after). Not
  // memory:, which no two handles share.
  std::string db = "sqlite:";
  int jobs = 10'000;
  int producers = 1;
  int consumers = 1;
  int batch = 1;  // Jobs per enqueue call (Store::EnqueueBatch when > 1).
  // Producers and consumers share one CommitGroup (store/group_commit.h):
  // their calls share transactions and syncs. Off: a handle each. Unset:
  // as GroupCommitPays says for the store (SQLite on, PostgreSQL off).
  std::optional<bool> group_commit;
  // Workers claim+begin and commit+finish in one call each (two durable
  // transactions a job). Off: four, the split path.
  bool fused = true;
  // Jobs each consumer thread claims and records at a time (BatchWorker
  // above 1: two durable transactions a batch).
  int claim_batch = 1;
};

struct BenchPhase {
  std::string name;  // "enqueue", "drain", "end-to-end"
  int64_t jobs = 0;
  double seconds = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(jobs) / seconds : 0; }
};

struct BenchLatency {
  double offered_rate = 0;  // Jobs/s the paced producer offered.
  int64_t jobs = 0;
  int64_t p50_ms = 0, p99_ms = 0, max_ms = 0;
};

struct BenchResult {
  double sync_rate = 0;    // fdatasync/s on the store's filesystem.
  std::string durability;  // When an acknowledged call is durable, in words.
  std::vector<BenchPhase> phases;
  BenchLatency latency;
  int64_t verified = 0;  // Jobs found SUCCEEDED with exactly one effect.
  // Calls of producers that found the store busy and were
  // retried (the consumers' own retries are the worker pool's).
  int64_t transient_retries = 0;
  GroupStats group;  // With group commit: transactions and the calls they carried.
  // This process's resident memory before the first phase and after the
  // last (kB): flat means no job's memory outlives the job.
  int64_t rss_start_kb = 0, rss_end_kb = 0;
};

// Calls `progress(phase, done, total)` now and then from the calling thread.
using BenchProgress = std::function<void(const std::string&, int64_t, int64_t)>;

Result<BenchResult> RunBench(const BenchOptions& options, const BenchProgress& progress);

// The check after a run: every job in `store` SUCCEEDED with exactly one
// ledger effect, and each queue holds as many jobs as were acknowledged to
// its producers (`enqueued`); fills the latency percentiles from the
// "latency" queue's jobs. kDataLoss names the first job or queue that is
// wrong. Returns the number of jobs verified.
Result<int64_t> VerifyBenchStore(Store& store, const std::map<std::string, int64_t>& enqueued,
                                 BenchLatency& latency);

// The table, with each rate as a fraction of the sync rate, and the command
// that reproduces the run.
std::string FormatBench(const BenchOptions& options, const BenchResult& result);
std::string BenchToJson(const BenchOptions& options, const BenchResult& result);

}  // namespace lab
