// The real queue's throughput, on the peers' workload (shared/bench/peers):
// 32-byte payloads, one producer awaiting every enqueue, consumers with a
// no-op handler. Not a test: it prints figures for docs/benchmarks.md.
//
//   queue_bench --db URL --mode enqueue|e2e --n N --consumers C
//
// mode=enqueue: one producer enqueues N jobs (enqueue rate), then C pool
//   threads drain the queue (drain rate: claim, begin, commit with the
//   ledger, finish; four durable transactions a job).
// mode=e2e: C pool threads start idle, then the producer enqueues N;
//   rate = N / (time the N-th job is SUCCEEDED - first enqueue), seen by a
//   monitor that counts SUCCEEDED jobs every 2 ms.
// A benchmark measures real time, so unlike the engine it reads the clock.
#include <fmt/core.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/waiter.h"
#include "queue/queue.h"
#include "queue/worker_pool.h"

namespace lab {
namespace {

using Steady = std::chrono::steady_clock;

double Seconds(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Args {
  std::string db;
  std::string mode = "e2e";
  int n = 5000;
  int consumers = 1;
};

[[noreturn]] void Die(const std::string& why) {
  fmt::print(stderr, "queue_bench: {}\n", why);
  std::exit(1);
}

std::unique_ptr<Queue> OpenOrDie(const std::string& url, Clock& clock) {
  auto q = Queue::Open(url, clock);
  if (!q) Die(q.error().ToString());
  return std::move(*q);
}

void Produce(Queue& queue, int n) {
  const std::string payload(32, 'p');
  for (int i = 0; i < n; ++i) {
    if (auto r = queue.Enqueue({.queue = "bench", .payload = payload}); !r) {
      Die(r.error().ToString());
    }
  }
}

int64_t Succeeded(Queue& queue) {
  auto counts = queue.store().CountJobs();
  if (!counts) Die(counts.error().ToString());
  int64_t n = 0;
  for (const auto& c : *counts) {
    if (c.queue == "bench" && c.state == JobState::kSucceeded) n += c.count;
  }
  return n;
}

PoolOptions Options(const Args& a, bool drain) {
  // Idle threads poll every 1 ms, as the peers' SQLite consumers do.
  return {.concurrency = a.consumers,
          .worker = {.name = "bench", .queue = "bench", .lease_ms = 30'000},
          .idle_wait_ms = 1,
          .drain = drain};
}

int Count(const std::string& flag, const std::string& text) {
  int n = 0;
  auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (err != std::errc() || end != text.data() + text.size()) {
    Die(fmt::format("{} '{}': expected a number", flag, text));
  }
  return n;
}

int Main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--db") {
      a.db = v;
    } else if (k == "--mode") {
      a.mode = v;
    } else if (k == "--n") {
      a.n = Count(k, v);
    } else if (k == "--consumers") {
      a.consumers = Count(k, v);
    } else {
      Die("unknown argument " + k);
    }
  }
  if (a.db.empty() || a.n < 1 || a.consumers < 1) {
    Die("usage: queue_bench --db URL --mode enqueue|e2e --n N --consumers C");
  }
  SystemClock clock;
  SystemWaiter waiter;
  auto admin = OpenOrDie(a.db, clock);
  Handler noop = [](const JobContext&) { return HandlerResult::Ok(""); };
  auto open = [&] { return Queue::Open(a.db, clock); };

  if (a.mode == "enqueue") {
    const auto t0 = Steady::now();
    Produce(*admin, a.n);
    const auto t1 = Steady::now();
    WorkerPool pool(open, noop, Options(a, /*drain=*/true), waiter);
    PoolStats stats = pool.Run();
    const auto t2 = Steady::now();
    if (stats.finished != a.n) Die(fmt::format("drained {} of {}", stats.finished, a.n));
    fmt::print(
        "{{\"mode\":\"enqueue\",\"n\":{},\"consumers\":{},\"enqueue_rate\":{:.1f},"
        "\"drain_rate\":{:.1f}}}\n",
        a.n, a.consumers, a.n / Seconds(t0, t1), a.n / Seconds(t1, t2));
    return 0;
  }
  if (a.mode != "e2e") Die("mode must be enqueue or e2e");
  WorkerPool pool(open, noop, Options(a, /*drain=*/false), waiter);
  std::thread consumers([&] { pool.Run(); });
  auto monitor_queue = OpenOrDie(a.db, clock);
  const auto t0 = Steady::now();
  std::thread producer([&] { Produce(*admin, a.n); });
  while (Succeeded(*monitor_queue) < a.n) waiter.WaitMs(2);
  const auto t1 = Steady::now();
  waiter.Stop();
  producer.join();
  consumers.join();
  fmt::print("{{\"mode\":\"e2e\",\"n\":{},\"consumers\":{},\"e2e_rate\":{:.1f}}}\n", a.n,
             a.consumers, a.n / Seconds(t0, t1));
  return 0;
}

}  // namespace
}  // namespace lab

int main(int argc, char** argv) { return lab::Main(argc, argv); }
