// lab bench: the real queue's throughput and latency, verified (bench/bench.h).
#include <fmt/core.h>
#include <unistd.h>

#include <fstream>
#include <memory>

#include "bench/bench.h"
#include "cli/commands.h"
#include "cli/flags.h"

namespace lab {
namespace {

struct BenchArgs {
  std::string db = "sqlite:";
  std::string jobs = "10000";
  std::string producers = "1";
  std::string consumers = "1";
  std::string batch = "1";
  std::string claim_batch = "1";
  bool group_commit = false;
  bool no_group_commit = false;
  bool fused = true;
  std::string json;
};

int Bench(const BenchArgs& a) {
  BenchOptions o{.db = a.db, .fused = a.fused};
  if (a.group_commit) o.group_commit = true;
  if (a.no_group_commit) o.group_commit = false;
  for (auto [flag, text, lo, hi, out] :
       {std::tuple{"--jobs", &a.jobs, 1, 10'000'000, &o.jobs},
        std::tuple{"--producers", &a.producers, 1, 256, &o.producers},
        std::tuple{"--consumers", &a.consumers, 1, 256, &o.consumers},
        std::tuple{"--batch", &a.batch, 1, 10'000, &o.batch},
        std::tuple{"--claim-batch", &a.claim_batch, 1, kMaxClaimBatch, &o.claim_batch}}) {
    auto n = ParseInteger(*text, flag, lo, hi);
    if (!n) return FailWith(n.error());
    *out = static_cast<int>(*n);
  }
  // A progress line on a terminal; nothing when the output is a file.
  const bool tty = isatty(STDERR_FILENO) == 1;
  auto progress = [tty](const std::string& phase, int64_t done, int64_t total) {
    if (!tty) return;
    fmt::print(stderr, "\r{:<12} {:>9}/{:<9}", phase, done, total);
  };
  auto r = RunBench(o, progress);
  if (tty) fmt::print(stderr, "\r{:<40}\r", "");
  if (!r) return FailWith(r.error());
  fmt::print("{}", FormatBench(o, *r));
  if (!a.json.empty()) {
    std::ofstream out(a.json, std::ios::trunc);
    out << BenchToJson(o, *r);
    out.flush();
    if (!out) return FailWith({ErrorCode::kFailedPrecondition, "cannot write " + a.json});
  }
  return kExitOk;
}

}  // namespace

void AddBenchCommands(CLI::App& app, CommandTable& table) {
  auto args = std::make_shared<BenchArgs>();
  auto* bench = app.add_subcommand(
      "bench", "Measure the queue: enqueue, drain, end to end, latency; then verify every job");
  bench->add_option("--db", args->db,
                    "sqlite: (default: a temp file), sqlite:DIR (a fresh DIR/bench.db), or "
                    "postgresql://... (a fresh schema, dropped after)");
  bench->add_option("--jobs", args->jobs, "Jobs per phase, 1..10000000 (default 10000)");
  bench->add_option("--producers", args->producers,
                    "Producer threads, each awaiting its own enqueue, 1..256 (default 1)");
  bench->add_option("--consumers", args->consumers, "Consumer threads, 1..256 (default 1)");
  bench->add_option("--batch", args->batch,
                    "Jobs per enqueue call (one transaction), 1..10000 (default 1)");
  bench->add_option("--claim-batch", args->claim_batch,
                    "Jobs each consumer claims, runs and records at a time, 1..10000 (default 1)");
  auto* group = bench->add_flag(
      "--group-commit", args->group_commit,
      "Producers and consumers share one connection whose calls share transactions and syncs "
      "(default for SQLite)");
  bench
      ->add_flag("--no-group-commit", args->no_group_commit,
                 "Every producer and consumer its own connection (default for PostgreSQL)")
      ->excludes(group);
  bench->add_flag("--split-steps{false}", args->fused,
                  "Workers take claim, begin, commit and finish as four transactions, not two");
  bench->add_option("--json", args->json, "Also write the figures to this file as JSON");
  table.emplace_back(bench, [args] { return Bench(*args); });
}

}  // namespace lab
