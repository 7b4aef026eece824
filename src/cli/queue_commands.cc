// lab queue ...: operate a real queue on any store URL.
//
//   lab queue enqueue [--key K] [--queue Q] [--run-at T] [--priority P]
//                     [--max-attempts N] (PAYLOAD | -)
//   lab queue stats [--json]
//   lab queue inspect JOB [--json]
//   lab queue dlq list [--queue Q] [--json]
//   lab queue dlq redrive (--job ID | --all [--queue Q])
//   lab queue work [--concurrency N] [--queue Q] [--exec CMD] [--drain]
//                  [--lease D] [--poll D] [--name NAME]
//
// Every command takes --db URL (default sqlite:lab.db). A refused command
// changes nothing in the store.
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "cli/commands.h"
#include "queue/exec_handler.h"
#include "queue/queue.h"
#include "queue/worker_pool.h"

namespace lab {
namespace {

using nlohmann::json;

constexpr const char* kDefaultDb = "sqlite:lab.db";

// The real clock every queue command runs on.
SystemClock& WallClock() {
  static SystemClock clock;
  return clock;
}

struct DbFlag {
  std::string url = kDefaultDb;
  void Add(CLI::App* cmd) {
    cmd->add_option("--db", url,
                    "Store URL: sqlite:PATH (default sqlite:lab.db), "
                    "postgresql://..., memory:");
  }
  // An unknown scheme is a usage error (2); a store that cannot be opened or
  // reached is a failure (1): FailWith tells them apart.
  Result<std::unique_ptr<Queue>> Open() const { return Queue::Open(url, WallClock()); }
};

// The leading digits of `text` (1 to 15 of them) as a number, and the rest.
std::optional<std::pair<int64_t, std::string_view>> SplitNumber(std::string_view text) {
  size_t end = 0;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  if (end == 0 || end > 15) return std::nullopt;
  return std::pair{std::stoll(std::string(text.substr(0, end))), text.substr(end)};
}

// "1500ms", "90s", "5m", "2h"; a bare number is seconds. `flag` names the
// option in the error.
Result<DurationMs> ParseDuration(std::string_view text, std::string_view flag) {
  if (auto split = SplitNumber(text)) {
    const auto [n, unit] = *split;
    if (unit == "ms") return n;
    if (unit == "s" || unit.empty()) return n * 1'000;
    if (unit == "m") return n * 60'000;
    if (unit == "h") return n * 3'600'000;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("{} '{}': expected N[ms|s|m|h]", flag, text));
}

// "1700000000000" (ms since the epoch) or "+90s", "+5m", "+2h", "+1500ms".
Result<TimeMs> ParseRunAt(const std::string& text, TimeMs now) {
  if (text.starts_with('+')) {
    if (auto delay = ParseDuration(std::string_view(text).substr(1), "--run-at")) {
      return now + *delay;
    }
  } else if (auto split = SplitNumber(text); split && split->second.empty()) {
    return split->first;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("--run-at '{}': expected milliseconds since the epoch or "
                               "+N[ms|s|m|h]",
                               text));
}

json JobJson(const Job& j) {
  return {{"id", j.id},
          {"queue", j.queue},
          {"key", j.key ? json(*j.key) : json(nullptr)},
          {"payload", j.payload},
          {"state", ToString(j.state)},
          {"priority", j.priority},
          {"run_at_ms", j.run_at_ms},
          {"attempts", j.attempts},
          {"attempts_used", j.AttemptsUsed()},
          {"max_attempts", j.max_attempts},
          {"created_at_ms", j.created_at_ms},
          {"last_error", j.last_error}};
}

struct EnqueueArgs {
  DbFlag db;
  std::optional<std::string> key;
  std::string queue = "default";
  std::string run_at;
  int priority = 0;
  int max_attempts = 5;
  std::string payload;
  bool has_payload = false;
};

int Enqueue(const EnqueueArgs& a) {
  if (!a.has_payload) return UsageError("queue enqueue: give a PAYLOAD, or - to read stdin");
  NewJob job{.queue = a.queue,
             .key = a.key,
             .payload = a.payload,
             .priority = a.priority,
             .max_attempts = a.max_attempts};
  if (!a.run_at.empty()) {
    auto at = ParseRunAt(a.run_at, WallClock().NowMs());
    if (!at) return FailWith(at.error());
    job.run_at_ms = *at;
  }
  if (job.payload == "-") {
    job.payload.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto queue = a.db.Open();
  if (!queue) return FailWith(queue.error());
  auto r = (*queue)->Enqueue(job);
  if (!r) return FailWith(r.error());
  if (!r->created) {
    fmt::print(stderr, "lab: job {} already exists for key '{}'; nothing enqueued\n", r->job_id,
               *a.key);
  }
  fmt::print("{}\n", r->job_id);
  return kExitOk;
}

struct ReadArgs {
  DbFlag db;
  bool json_out = false;
  std::string queue;
  int64_t job = 0;
};

int Stats(const ReadArgs& a) {
  auto queue = a.db.Open();
  if (!queue) return FailWith(queue.error());
  auto counts = (*queue)->store().CountJobs();
  if (!counts) return FailWith(counts.error());
  if (a.json_out) {
    json out = {{"queues", json::object()}};
    for (const auto& c : *counts) out["queues"][c.queue][std::string(ToString(c.state))] = c.count;
    fmt::print("{}\n", out.dump(2));
    return kExitOk;
  }
  fmt::print("{:<20} {:<10} {:>10}\n", "queue", "state", "jobs");
  for (const auto& c : *counts)
    fmt::print("{:<20} {:<10} {:>10}\n", c.queue, ToString(c.state), c.count);
  if (counts->empty()) fmt::print("(no jobs)\n");
  return kExitOk;
}

int Inspect(const ReadArgs& a) {
  auto queue = a.db.Open();
  if (!queue) return FailWith(queue.error());
  auto d = (*queue)->store().InspectJob(a.job);
  if (!d) return FailWith(d.error());
  if (a.json_out) {
    json out = JobJson(d->job);
    out["executions"] = json::array();
    for (const auto& e : d->executions) {
      out["executions"].push_back({{"id", e.id},
                                   {"attempt", e.attempt},
                                   {"worker", e.worker},
                                   {"state", ToString(e.state)},
                                   {"leased_at_ms", e.leased_at_ms},
                                   {"lease_expires_at_ms", e.lease_expires_at_ms},
                                   {"ended_at_ms", e.ended_at_ms},
                                   {"reason", e.reason}});
    }
    out["effects"] = json::array();
    for (const auto& e : d->effects) {
      out["effects"].push_back({{"execution_id", e.execution_id},
                                {"key", e.key},
                                {"payload", e.payload},
                                {"applied_at_ms", e.applied_at_ms}});
    }
    out["audit"] = json::array();
    for (const auto& x : d->audit) {
      out["audit"].push_back({{"seq", x.seq},
                              {"at_ms", x.at_ms},
                              {"execution_id", x.execution_id},
                              {"event", x.event},
                              {"from", x.from},
                              {"to", x.to},
                              {"detail", x.detail}});
    }
    fmt::print("{}\n", out.dump(2));
    return kExitOk;
  }
  const Job& j = d->job;
  fmt::print("job {}  queue {}  key {}  state {}\n", j.id, j.queue, j.key.value_or("-"),
             ToString(j.state));
  fmt::print("attempts {} (since redrive {}/{})  priority {}  run_at_ms {}\n", j.attempts,
             j.AttemptsUsed(), j.max_attempts, j.priority, j.run_at_ms);
  if (!j.last_error.empty()) fmt::print("last error: {}\n", j.last_error);
  fmt::print("payload: {}\n\nexecutions\n", j.payload);
  for (const auto& e : d->executions) {
    fmt::print("  exec {:<6} token {:<3} {:<12} worker {:<16} {}\n", e.id, e.attempt,
               ToString(e.state), e.worker, e.reason);
  }
  for (const auto& e : d->effects) {
    fmt::print("effect (ledger): exec {} key '{}': {}\n", e.execution_id, e.key, e.payload);
  }
  fmt::print("\naudit\n");
  for (const auto& x : d->audit) {
    fmt::print("  #{:<6} t={:<14} exec {:<6} {:<10} {} -> {} {}\n", x.seq, x.at_ms, x.execution_id,
               x.event, x.from.empty() ? "(new)" : x.from, x.to, x.detail);
  }
  return kExitOk;
}

int DlqList(const ReadArgs& a) {
  auto queue = a.db.Open();
  if (!queue) return FailWith(queue.error());
  JobFilter filter{.state = JobState::kDead, .limit = 10'000};
  if (!a.queue.empty()) filter.queue = a.queue;
  auto dead = (*queue)->store().ListJobs(filter);
  if (!dead) return FailWith(dead.error());
  if (a.json_out) {
    json out = json::array();
    for (const auto& j : *dead) out.push_back(JobJson(j));
    fmt::print("{}\n", out.dump(2));
    return kExitOk;
  }
  fmt::print("{:<8} {:<16} {:<20} {:>8}  {}\n", "job", "queue", "key", "attempts", "last error");
  for (const auto& j : *dead) {
    fmt::print("{:<8} {:<16} {:<20} {:>8}  {}\n", j.id, j.queue, j.key.value_or("-"), j.attempts,
               j.last_error);
  }
  if (dead->empty()) fmt::print("(dead-letter queue is empty)\n");
  return kExitOk;
}

struct RedriveArgs {
  DbFlag db;
  int64_t job = 0;
  bool all = false;
  std::string queue;
};

int DlqRedrive(const RedriveArgs& a) {
  if ((a.job != 0) == a.all)
    return UsageError("queue dlq redrive: give exactly one of --job ID or --all");
  if (!a.queue.empty() && !a.all) return UsageError("queue dlq redrive: --queue goes with --all");
  auto queue = a.db.Open();
  if (!queue) return FailWith(queue.error());
  std::vector<JobId> ids;
  if (a.all) {
    JobFilter filter{.state = JobState::kDead, .limit = 1'000'000};
    if (!a.queue.empty()) filter.queue = a.queue;
    auto dead = (*queue)->store().ListJobs(filter);
    if (!dead) return FailWith(dead.error());
    for (const auto& j : *dead) ids.push_back(j.id);
  } else {
    ids.push_back(a.job);
  }
  int redriven = 0;
  for (JobId id : ids) {
    auto r = (*queue)->store().Redrive(id);
    if (!r) {
      fmt::print(stderr, "lab: job {}: {}\n", id, r.error().message);
      if (!a.all) return kExitFailure;
      continue;  // Another operator may have redriven it meanwhile.
    }
    ++redriven;
  }
  fmt::print("redriven {} job(s)\n", redriven);
  return kExitOk;
}

struct WorkArgs {
  DbFlag db;
  int concurrency = 1;
  std::string queue = "default";
  std::string exec = "cat";
  bool drain = false;
  std::string lease = "30s";
  std::string poll = "250ms";
  std::string name;
};

// SIGINT/SIGTERM: the first stops claiming (running jobs finish), the
// second abandons them at once (their leases expire and they run again).
std::atomic<Waiter*> g_stop_waiter{nullptr};
std::atomic<int> g_signals{0};

void OnStopSignal(int) {
  if (g_signals.fetch_add(1) == 0) {
    static constexpr char kMsg[] =
        "lab: stopping: no new jobs; waiting for running jobs (signal again to abandon them)\n";
    [[maybe_unused]] ssize_t n = write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
    if (Waiter* w = g_stop_waiter.load()) w->Stop();
    return;
  }
  static constexpr char kMsg[] = "lab: abandoning running jobs; their leases will expire\n";
  [[maybe_unused]] ssize_t n = write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
  _exit(130);
}

int Work(const WorkArgs& a) {
  auto url = ParseStoreUrl(a.db.url);
  if (!url) return FailWith(url.error());
  if (url->kind == StoreKind::kMemory) {
    return UsageError(
        "queue work: a memory: store lives in one process and has no jobs; "
        "use sqlite:PATH or postgresql://...");
  }
  auto lease = ParseDuration(a.lease, "--lease");
  if (!lease) return FailWith(lease.error());
  auto poll = ParseDuration(a.poll, "--poll");
  if (!poll) return FailWith(poll.error());
  if (*lease < 300) return UsageError("queue work: --lease must be at least 300ms");
  if (*poll < 1) return UsageError("queue work: --poll must be at least 1ms");
  // Fail fast on a store that cannot be opened at all; later the pool
  // reconnects on its own (a restarted server, a dropped connection).
  if (auto first = a.db.Open(); !first) return FailWith(first.error());

  SystemWaiter waiter;
  const std::string name =
      a.name.empty() ? fmt::format("pid{}", static_cast<long>(getpid())) : a.name;
  PoolOptions options{.concurrency = a.concurrency,
                      .worker = {.name = name,
                                 .queue = a.queue,
                                 .lease_ms = *lease,
                                 .seed = static_cast<uint64_t>(WallClock().NowMs()) ^
                                         static_cast<uint64_t>(getpid())},
                      .idle_wait_ms = *poll,
                      .sweep_every_ms = std::max<DurationMs>(*lease / 3, 100),
                      .drain = a.drain};
  WorkerPool pool([&a] { return a.db.Open(); },
                  ExecHandler({.command = a.exec, .heartbeat_ms = *lease / 3}, waiter), options,
                  waiter, [](const std::string& line) { fmt::print(stderr, "lab: {}\n", line); });

  g_stop_waiter = &waiter;
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  PoolStats stats = pool.Run();
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  g_stop_waiter = nullptr;

  fmt::print(stderr,
             "lab: worker {} stopped ({}): {} finished, {} failed attempts, {} duplicates, "
             "{} fenced, {} abandoned, {} store errors, {} reconnects\n",
             name, stats.drained ? "queue drained" : "signal", stats.finished, stats.failed,
             stats.duplicates, stats.fenced, stats.abandoned, stats.errors, stats.reopened);
  return kExitOk;
}

}  // namespace

void AddQueueCommands(CLI::App& app, CommandTable& table) {
  auto* queue =
      app.add_subcommand("queue", "Operate a real queue: enqueue, work, stats, inspect, dlq");
  queue->require_subcommand(1);

  auto en = std::make_shared<EnqueueArgs>();
  auto* enqueue = queue->add_subcommand("enqueue", "Add a job; prints its id");
  en->db.Add(enqueue);
  enqueue->add_option("--key", en->key, "Idempotency key: the same key twice is one job");
  enqueue->add_option("--queue", en->queue, "Queue name (default: default)");
  enqueue->add_option("--run-at", en->run_at, "Not before: ms since the epoch, or +N[ms|s|m|h]");
  enqueue->add_option("--priority", en->priority, "Higher runs first (default 0)");
  enqueue->add_option("--max-attempts", en->max_attempts, "Attempts before dead letter (default 5)")
      ->check(CLI::Range(1, 1'000'000));
  enqueue->add_option("PAYLOAD", en->payload, "The payload, or - to read it from stdin");
  table.emplace_back(enqueue, [en, enqueue] {
    en->has_payload = enqueue->count("PAYLOAD") > 0;
    return Enqueue(*en);
  });

  auto st = std::make_shared<ReadArgs>();
  auto* stats = queue->add_subcommand("stats", "Jobs by queue and state");
  st->db.Add(stats);
  stats->add_flag("--json", st->json_out, "Print JSON");
  table.emplace_back(stats, [st] { return Stats(*st); });

  auto in = std::make_shared<ReadArgs>();
  auto* inspect = queue->add_subcommand("inspect", "One job with every execution and audit event");
  in->db.Add(inspect);
  inspect->add_option("JOB", in->job, "Job id")->required()->check(CLI::PositiveNumber);
  inspect->add_flag("--json", in->json_out, "Print JSON");
  table.emplace_back(inspect, [in] { return Inspect(*in); });

  auto* dlq = queue->add_subcommand("dlq", "The dead-letter queue: list, redrive");
  dlq->require_subcommand(1);
  auto dl = std::make_shared<ReadArgs>();
  auto* list = dlq->add_subcommand("list", "Dead jobs with their last error");
  dl->db.Add(list);
  list->add_option("--queue", dl->queue, "Only this queue");
  list->add_flag("--json", dl->json_out, "Print JSON");
  table.emplace_back(list, [dl] { return DlqList(*dl); });

  auto rd = std::make_shared<RedriveArgs>();
  auto* redrive = dlq->add_subcommand("redrive", "Return dead jobs to PENDING with a fresh budget");
  rd->db.Add(redrive);
  redrive->add_option("--job", rd->job, "The job to redrive")->check(CLI::PositiveNumber);
  redrive->add_flag("--all", rd->all, "Redrive every dead job");
  redrive->add_option("--queue", rd->queue, "With --all: only this queue");
  table.emplace_back(redrive, [rd] { return DlqRedrive(*rd); });

  auto wk = std::make_shared<WorkArgs>();
  auto* work = queue->add_subcommand(
      "work", "Run jobs: CMD once per job (payload on stdin, LAB_JOB_* in the environment)");
  wk->db.Add(work);
  work->add_option("--concurrency", wk->concurrency, "Jobs run at once (default 1)")
      ->check(CLI::Range(1, 256));
  work->add_option("--queue", wk->queue, "Queue name (default: default)");
  work->add_option("--exec", wk->exec,
                   "Shell command per job; exit 0 commits, else retry (default: cat)");
  work->add_flag("--drain", wk->drain, "Exit once the queue has no pending or running job");
  work->add_option("--lease", wk->lease,
                   "Lease per claim, N[ms|s|m|h] (default 30s); heartbeats every third");
  work->add_option("--poll", wk->poll, "Wait when no job is ready, N[ms|s|m|h] (default 250ms)");
  work->add_option("--name", wk->name, "Worker name in the audit log (default pid<PID>)");
  table.emplace_back(work, [wk] { return Work(*wk); });
}

}  // namespace lab
