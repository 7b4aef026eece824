// lab queue ...: operate a real queue on any store URL.
//
//   lab queue enqueue [--key K] [--queue Q] [--run-at T] [--deadline T]
//                     [--priority P] [--max-attempts N] (PAYLOAD | -)
//   lab queue limit [--queue Q --max-depth N]
//   lab queue stats [--json]
//   lab queue inspect JOB [--json]
//   lab queue dlq list [--queue Q] [--json]
//   lab queue dlq redrive (--job ID | --all [--queue Q])
//   lab queue drill --held FILE [--ledger-delivered] [--no-repair] [--json]
//   lab queue ui [--listen HOST:PORT] [--token-file FILE]
//   lab queue work [--concurrency N] [--queue Q] [--exec CMD] [--drain]
//                  [--lease D] [--poll D] [--timeout D] [--name NAME]
//                  [--retry-budget SHARE%,FLOOR,WINDOW]
//                  [--circuit-breaker FAILED%,MIN,WINDOW,OPEN]
//
// Every command takes --db URL (default sqlite:lab.db; memory: is refused,
// its jobs would vanish with the process). A refused command changes
// nothing in the store; the commands that only read never create a file.
// JSON output never fails on bytes that are not text: such a string is
// written as {"base64": "..."} instead.
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "cli/commands.h"
#include "cli/dashboard.h"
#include "cli/flags.h"
#include "cli/stop_signals.h"
#include "cli/web_server.h"
#include "core/text.h"
#include "queue/drill.h"
#include "queue/exec_handler.h"
#include "queue/metrics.h"
#include "queue/queue.h"
#include "queue/worker_pool.h"
#include "store/group_commit.h"
#include "store/rules.h"

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
                    "Store URL: sqlite:PATH (default sqlite:lab.db) or postgresql://...");
  }
  // An unknown scheme or a memory: store is a usage error (2); a store that
  // cannot be opened or reached is a failure (1): FailWith tells them apart.
  // `create` false: a missing SQLite file is an error, not a new file.
  Result<std::unique_ptr<Queue>> Open(bool create = true) const {
    LAB_ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(url));
    if (parsed.kind == StoreKind::kMemory) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "queue commands need a durable store: a memory: store lives in one "
                       "process, so its jobs would vanish; use sqlite:PATH or postgresql://...");
    }
    return Queue::Open(url, WallClock(), {.create = create});
  }
  Result<std::unique_ptr<Queue>> OpenExisting() const { return Open(/*create=*/false); }
};

// A string for JSON: itself when it is valid UTF-8, else {"base64": ...}, so
// no payload, key or name can make the JSON library throw.
json TextOrBytes(const std::string& s) {
  if (IsUtf8(s)) return s;
  return {{"base64", Base64(s)}};
}

// JSON text for the terminal; invalid UTF-8 left anywhere is replaced, never
// thrown on.
std::string Dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace); }

// Terminal text: names, errors and payloads with bytes that are not
// printable shown as \xNN, long ones cut.
constexpr size_t kTerminalPayloadBytes = 200;
std::string Shown(const std::string& s) { return ForTerminal(s, 1'000); }

json JobJson(const Job& j) {
  return {{"id", j.id},
          {"queue", TextOrBytes(j.queue)},
          {"key", j.key ? TextOrBytes(*j.key) : json(nullptr)},
          {"effect_key", TextOrBytes(j.EffectKey())},
          {"payload", TextOrBytes(j.payload)},
          {"state", ToString(j.state)},
          {"priority", j.priority},
          {"run_at_ms", j.run_at_ms},
          {"attempts", j.attempts},
          {"attempts_used", j.AttemptsUsed()},
          {"max_attempts", j.max_attempts},
          {"timeout_ms", j.timeout_ms},
          {"deadline_at_ms", j.deadline_at_ms != 0 ? json(j.deadline_at_ms) : json(nullptr)},
          {"created_at_ms", j.created_at_ms},
          {"last_error", TextOrBytes(j.last_error)}};
}

// The depth limits, queue name -> max_depth.
json LimitsJson(const std::vector<QueueLimit>& limits) {
  json out = json::object();
  for (const QueueLimit& l : limits) out[l.queue] = l.max_depth;
  return out;
}

struct EnqueueArgs {
  DbFlag db;
  std::optional<std::string> key;
  std::string queue = "default";
  std::string run_at;
  std::string deadline;
  std::string priority = "0";
  std::string max_attempts = "5";
  std::string timeout;
  std::string payload;
  bool has_payload = false;
};

Result<NewJob> BuildJob(const EnqueueArgs& a) {
  LAB_ASSIGN_OR_RETURN(int64_t priority,
                       ParseInteger(a.priority, "--priority", -kMaxPriority, kMaxPriority));
  LAB_ASSIGN_OR_RETURN(int64_t attempts,
                       ParseInteger(a.max_attempts, "--max-attempts", 1, kMaxAttempts));
  NewJob job{.queue = a.queue,
             .key = a.key,
             .payload = a.payload,
             .priority = static_cast<int>(priority),
             .max_attempts = static_cast<int>(attempts)};
  const TimeMs now = WallClock().NowMs();
  if (!a.run_at.empty()) {
    LAB_ASSIGN_OR_RETURN(job.run_at_ms, ParseMoment(a.run_at, "--run-at", now));
  }
  if (!a.deadline.empty()) {
    LAB_ASSIGN_OR_RETURN(job.deadline_ms, ParseMoment(a.deadline, "--deadline", now));
  }
  if (!a.timeout.empty()) {
    LAB_ASSIGN_OR_RETURN(job.timeout_ms, ParseDuration(a.timeout, "--timeout", 1, kMaxDurationMs));
  }
  if (job.payload == "-") {
    job.payload.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  // The store checks again; checking first keeps a bad name or an oversized
  // payload from opening (and so creating) a database at all.
  LAB_RETURN_IF_ERROR(CheckNewJob(job));
  return job;
}

int Enqueue(const EnqueueArgs& a) {
  if (!a.has_payload) return UsageError("queue enqueue: give a PAYLOAD, or - to read stdin");
  auto job = BuildJob(a);
  if (!job) return FailWith(job.error());
  auto queue = a.db.Open();
  if (!queue) return FailWith(queue.error());
  auto r = (*queue)->Enqueue(*job);
  if (!r) return FailWith(r.error());
  if (!r->created) {
    fmt::print(stderr, "lab: job {} already exists for key '{}' in queue '{}'; nothing enqueued\n",
               r->job_id, Shown(*a.key), Shown(a.queue));
  }
  fmt::print("{}\n", r->job_id);
  return kExitOk;
}

struct ReadArgs {
  DbFlag db;
  bool json_out = false;
  bool full_payload = false;
  std::string queue;
  std::string job;
};

int Stats(const ReadArgs& a) {
  auto queue = a.db.OpenExisting();
  if (!queue) return FailWith(queue.error());
  auto counts = (*queue)->store().CountJobs();
  if (!counts) return FailWith(counts.error());
  auto limits = (*queue)->store().QueueLimits();
  if (!limits) return FailWith(limits.error());
  if (a.json_out) {
    json out = {{"queues", json::object()}, {"max_depth", LimitsJson(*limits)}};
    for (const auto& c : *counts) out["queues"][c.queue][std::string(ToString(c.state))] = c.count;
    fmt::print("{}\n", Dump(out));
    return kExitOk;
  }
  fmt::print("{:<20} {:<10} {:>10}\n", "queue", "state", "jobs");
  for (const auto& c : *counts)
    fmt::print("{:<20} {:<10} {:>10}\n", Shown(c.queue), ToString(c.state), c.count);
  if (counts->empty()) fmt::print("(no jobs)\n");
  for (const QueueLimit& l : *limits) {
    fmt::print("queue {} admits at most {} unfinished jobs\n", Shown(l.queue), l.max_depth);
  }
  return kExitOk;
}

json InspectJson(const JobDetail& d) {
  json out = JobJson(d.job);
  out["executions"] = json::array();
  for (const auto& e : d.executions) {
    out["executions"].push_back({{"id", e.id},
                                 {"attempt", e.attempt},
                                 {"worker", TextOrBytes(e.worker)},
                                 {"state", ToString(e.state)},
                                 {"leased_at_ms", e.leased_at_ms},
                                 {"lease_expires_at_ms", e.lease_expires_at_ms},
                                 {"ended_at_ms", e.ended_at_ms},
                                 {"reason", TextOrBytes(e.reason)}});
  }
  out["effects"] = json::array();
  for (const auto& e : d.effects) {
    out["effects"].push_back({{"execution_id", e.execution_id},
                              {"key", TextOrBytes(e.key)},
                              {"payload", TextOrBytes(e.payload)},
                              {"applied_at_ms", e.applied_at_ms},
                              {"delivery", ToString(e.delivery)},
                              {"delivered_at_ms", e.delivered_at_ms}});
  }
  out["audit"] = json::array();
  for (const auto& x : d.audit) {
    out["audit"].push_back({{"seq", x.seq},
                            {"at_ms", x.at_ms},
                            {"execution_id", x.execution_id},
                            {"event", ToString(x.event)},
                            {"from", x.from},
                            {"to", x.to},
                            {"detail", TextOrBytes(x.detail)}});
  }
  return out;
}

void PrintInspect(const JobDetail& d) {
  const Job& j = d.job;
  fmt::print("job {}  queue {}  key {}  state {}\n", j.id, Shown(j.queue),
             j.key ? Shown(*j.key) : "-", ToString(j.state));
  fmt::print("attempts {} (since redrive {}/{})  priority {}  timeout {}\n", j.attempts,
             j.AttemptsUsed(), j.max_attempts, j.priority,
             j.timeout_ms > 0 ? FormatDuration(j.timeout_ms) : "the worker's");
  fmt::print("created {}  run at {}\n", UtcTime(j.created_at_ms), UtcTime(j.run_at_ms));
  if (j.deadline_at_ms != 0) {
    fmt::print("deadline {} (not started by then: EXPIRED, never run)\n",
               UtcTime(j.deadline_at_ms));
  }
  if (!j.last_error.empty()) fmt::print("last error: {}\n", Shown(j.last_error));
  fmt::print("payload ({} bytes): {}\n\nexecutions\n", j.payload.size(),
             ForTerminal(j.payload, kTerminalPayloadBytes));
  for (const auto& e : d.executions) {
    fmt::print("  exec {:<6} token {:<3} {:<12} worker {:<16} leased {}  {}\n", e.id, e.attempt,
               ToString(e.state), Shown(e.worker), UtcTime(e.leased_at_ms), Shown(e.reason));
  }
  for (const auto& e : d.effects) {
    const std::string outbox = e.delivery == Delivery::kNone ? ""
                               : e.delivery == Delivery::kPending
                                   ? " (outbox: to deliver)"
                                   : " (outbox: delivered " + UtcTime(e.delivered_at_ms) + ")";
    fmt::print("effect (ledger): exec {} key '{}'{}: {}\n", e.execution_id, Shown(e.key), outbox,
               ForTerminal(e.payload, kTerminalPayloadBytes));
  }
  fmt::print("\naudit\n");
  for (const auto& x : d.audit) {
    fmt::print("  #{:<6} {} exec {:<6} {:<10} {} -> {} {}\n", x.seq, UtcTime(x.at_ms),
               x.execution_id, ToString(x.event), x.from.empty() ? "(new)" : x.from, x.to,
               Shown(x.detail));
  }
}

int Inspect(const ReadArgs& a) {
  auto id = ParseInteger(a.job, "JOB", 1, INT64_MAX);
  if (!id) return FailWith(id.error());
  auto queue = a.db.OpenExisting();
  if (!queue) return FailWith(queue.error());
  auto d = (*queue)->store().InspectJob(*id);
  if (!d) return FailWith(d.error());
  if (a.full_payload) {
    // The payload's bytes exactly, for a pipe or a file.
    fwrite(d->job.payload.data(), 1, d->job.payload.size(), stdout);
  } else if (a.json_out) {
    fmt::print("{}\n", Dump(InspectJson(*d)));
  } else {
    PrintInspect(*d);
  }
  return kExitOk;
}

int DlqList(const ReadArgs& a) {
  auto queue = a.db.OpenExisting();
  if (!queue) return FailWith(queue.error());
  JobFilter filter{.state = JobState::kDead, .limit = 10'000};
  if (!a.queue.empty()) filter.queue = a.queue;
  auto dead = (*queue)->store().ListJobs(filter);
  if (!dead) return FailWith(dead.error());
  if (a.json_out) {
    json out = json::array();
    for (const auto& j : *dead) out.push_back(JobJson(j));
    fmt::print("{}\n", Dump(out));
    return kExitOk;
  }
  fmt::print("{:<8} {:<16} {:<20} {:>8}  {}\n", "job", "queue", "key", "attempts", "last error");
  for (const auto& j : *dead) {
    fmt::print("{:<8} {:<16} {:<20} {:>8}  {}\n", j.id, Shown(j.queue), j.key ? Shown(*j.key) : "-",
               j.attempts, Shown(j.last_error));
  }
  if (dead->empty()) fmt::print("(dead-letter queue is empty)\n");
  return kExitOk;
}

struct RedriveArgs {
  DbFlag db;
  std::string job;
  bool all = false;
  std::string queue;
};

int DlqRedrive(const RedriveArgs& a) {
  if (a.job.empty() == !a.all)
    return UsageError("queue dlq redrive: give exactly one of --job ID or --all");
  if (!a.queue.empty() && !a.all) return UsageError("queue dlq redrive: --queue goes with --all");
  std::vector<JobId> ids;
  if (!a.all) {
    auto id = ParseInteger(a.job, "--job", 1, INT64_MAX);
    if (!id) return FailWith(id.error());
    ids.push_back(*id);
  }
  auto queue = a.db.OpenExisting();
  if (!queue) return FailWith(queue.error());
  if (a.all) {
    JobFilter filter{.state = JobState::kDead, .limit = 1'000'000};
    if (!a.queue.empty()) filter.queue = a.queue;
    auto dead = (*queue)->store().ListJobs(filter);
    if (!dead) return FailWith(dead.error());
    for (const auto& j : *dead) ids.push_back(j.id);
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

struct LimitArgs {
  DbFlag db;
  std::string queue;
  std::string max_depth;
  bool json_out = false;
};

int Limit(const LimitArgs& a) {
  if (a.queue.empty() != a.max_depth.empty()) {
    return UsageError("queue limit: give --queue and --max-depth together, or neither to list");
  }
  std::optional<QueueLimit> wanted;
  if (!a.queue.empty()) {
    auto depth = ParseInteger(a.max_depth, "--max-depth", 0, kMaxQueueDepth);
    if (!depth) return FailWith(depth.error());
    wanted = QueueLimit{.queue = a.queue, .max_depth = *depth};
    if (auto ok = CheckQueueLimit(*wanted); !ok) return FailWith(ok.error());
  }
  auto queue = wanted ? a.db.Open() : a.db.OpenExisting();
  if (!queue) return FailWith(queue.error());
  if (wanted) {
    if (auto set = (*queue)->store().SetQueueLimit(*wanted); !set) return FailWith(set.error());
  }
  auto limits = (*queue)->store().QueueLimits();
  if (!limits) return FailWith(limits.error());
  if (a.json_out) {
    fmt::print("{}\n", Dump(json{{"max_depth", LimitsJson(*limits)}}));
    return kExitOk;
  }
  for (const QueueLimit& l : *limits) {
    fmt::print("queue {}: at most {} unfinished jobs; enqueues past it are refused (exit {})\n",
               Shown(l.queue), l.max_depth, kExitOverloaded);
  }
  if (limits->empty()) fmt::print("(no queue has a depth limit)\n");
  return kExitOk;
}

struct DrillArgs {
  DbFlag db;
  std::string held;  // The downstream system's report: a path, or - for stdin.
  bool ledger_delivered = false;
  bool no_repair = false;
  bool json_out = false;
};

// The downstream system's report, JSON lines: one object a line with the
// key its effect was made under and, if the system reports it, the payload
// it holds, {"key": "orders/7", "payload": "charged 7"}. Blank lines are
// skipped; anything else is a usage error naming its line.
Result<std::vector<HeldEffect>> ParseHeldReport(std::istream& in, const std::string& name) {
  std::vector<HeldEffect> held;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    const auto bad = [&](std::string_view why) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{} line {}: {}; each line is {{\"key\": \"...\", "
                                   "\"payload\": \"...\"}} (payload optional)",
                                   name, n, why));
    };
    if (j.is_discarded()) return bad("not JSON");
    if (!j.is_object()) return bad("not a JSON object");
    if (!j.contains("key") || !j["key"].is_string()) return bad("no \"key\" string");
    HeldEffect h{.key = j["key"].get<std::string>()};
    if (j.contains("payload")) {
      if (!j["payload"].is_string()) return bad("\"payload\" is not a string");
      h.payload = j["payload"].get<std::string>();
    }
    held.push_back(std::move(h));
  }
  if (in.bad()) return MakeError(ErrorCode::kUnavailable, fmt::format("cannot read {}", name));
  return held;
}

// Exit 0 when the queue and the system agree, 1 when the drill found a
// divergence (each recorded in its job's audit trail), as diff does.
int Drill(const DrillArgs& a) {
  std::ifstream file;
  std::istream* in = &std::cin;
  const std::string name = a.held == "-" ? "stdin" : a.held;
  if (a.held != "-") {
    file.open(a.held, std::ios::binary);
    if (!file) return UsageError(fmt::format("queue drill: cannot open --held {}", a.held));
    in = &file;
  }
  auto held = ParseHeldReport(*in, name);
  if (!held) return FailWith(held.error());
  auto queue = a.db.OpenExisting();
  if (!queue) return FailWith(queue.error());
  auto report = RunDrill((*queue)->store(), *held,
                         {.ledger_delivered = a.ledger_delivered, .repair = !a.no_repair});
  if (!report) return FailWith(report.error());
  if (a.json_out) {
    json findings = json::array();
    for (const DrillFinding& f : report->findings) {
      findings.push_back({{"job", f.job},
                          {"key", TextOrBytes(f.key)},
                          {"kind", std::string(ToString(f.kind))},
                          {"repaired", f.repaired},
                          {"detail", TextOrBytes(f.detail)}});
    }
    fmt::print("{}\n", Dump(json{{"jobs", report->jobs},
                                 {"held", report->held},
                                 {"unknown_keys", report->unknown},
                                 {"findings", findings}}));
  } else {
    fmt::print("{}", report->ToString());
  }
  return report->findings.empty() ? kExitOk : kExitFailure;
}

struct PruneArgs {
  DbFlag db;
  std::string retain;
  bool json_out = false;
};

// The retention flag of `queue prune` and `queue work`: 0s..366d.
Result<DurationMs> ParseRetain(std::string_view text) {
  return ParseDuration(text, "--retain", 0, kMaxDurationMs);
}

int Prune(const PruneArgs& a) {
  auto retain = ParseRetain(a.retain);
  if (!retain) return FailWith(retain.error());
  auto queue = a.db.OpenExisting();
  if (!queue) return FailWith(queue.error());
  auto pruned = (*queue)->Prune(*retain);
  if (!pruned) return FailWith(pruned.error());
  if (a.json_out) {
    fmt::print("{}\n", Dump(json{{"jobs", pruned->jobs},
                                 {"executions", pruned->executions},
                                 {"effects", pruned->effects},
                                 {"audit", pruned->audit},
                                 {"finished_at_or_before_ms", pruned->cutoff_ms}}));
  } else {
    fmt::print(
        "pruned {} job(s) finished {} ago or more ({} executions, {} effects, {} audit "
        "entries)\n",
        pruned->jobs, FormatDuration(*retain), pruned->executions, pruned->effects, pruned->audit);
  }
  return kExitOk;
}

struct WorkArgs {
  DbFlag db;
  std::string retain;
  std::string concurrency = "1";
  std::string queue = "default";
  std::string exec = "cat";
  bool drain = false;
  std::string lease = "30s";
  std::string poll = "250ms";
  std::string timeout;
  std::string name;
  bool split_steps = false;
  std::string retry_budget = "20%,10,10s";
  std::string breaker = "50%,20,10s,5s";
  std::string relay;    // The outbox's receiver command; empty: no outbox.
  std::string metrics;  // HOST:PORT to serve /metrics on; empty: none.
};

// SIGINT/SIGTERM: the first stops claiming (running jobs finish), the
// second kills the running commands and exits 130 at once (their leases
// expire and the jobs run again).
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
  static constexpr char kMsg[] =
      "lab: abandoning running jobs: their commands are killed, their leases will expire\n";
  [[maybe_unused]] ssize_t n = write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
  KillRunningCommands();
  _exit(kExitInterrupted);
}

// Installed before anything that can block (connecting to a server), so
// Ctrl-C works at once; removed when the pool has stopped.
class StopSignals {
 public:
  explicit StopSignals(Waiter& waiter) : waiter_(waiter), scope_(OnStopSignal) {}
  bool interrupted() const { return g_signals.load() > 0; }

 private:
  // Published before the handler is installed, cleared after it is removed.
  struct PublishedWaiter {
    explicit PublishedWaiter(Waiter& waiter) { g_stop_waiter = &waiter; }
    ~PublishedWaiter() { g_stop_waiter = nullptr; }
  };
  PublishedWaiter waiter_;
  StopSignalScope scope_;
};

struct WorkSettings {
  int concurrency = 1;
  DurationMs lease_ms = 0;
  DurationMs poll_ms = 0;
  DurationMs timeout_ms = 0;  // 0: none.
  std::optional<DurationMs> retain;
  RetryBudgetOptions retry_budget;
  BreakerOptions breaker;
  std::optional<ListenAddress> metrics;
};

// A flag's value made of `n` comma-separated parts, the first a percentage
// ("20%"): the percentage as a fraction, then the other parts as text.
// Refused in words naming the flag and its form.
struct Parts {
  double share = 0;
  std::vector<std::string_view> rest;
};
Result<Parts> ParseParts(std::string_view text, std::string_view flag, size_t n,
                         std::string_view form, int64_t max_percent) {
  const auto bad = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} '{}': {}; give {}", flag, ForTerminal(text, 60), why, form));
  };
  std::vector<std::string_view> parts;
  for (size_t from = 0;;) {
    const size_t comma = text.find(',', from);
    parts.push_back(text.substr(from, comma == std::string_view::npos ? comma : comma - from));
    if (comma == std::string_view::npos) break;
    from = comma + 1;
  }
  if (parts.size() != n)
    return bad(fmt::format("{} parts separated by commas", n == 3 ? "three" : "four"));
  std::string_view share = parts.front();
  if (share.empty() || share.back() != '%') return bad("the share ends with %");
  share.remove_suffix(1);
  LAB_ASSIGN_OR_RETURN(int64_t percent,
                       ParseInteger(share, fmt::format("{} share", flag), 0, max_percent));
  return Parts{.share = static_cast<double>(percent) / 100,
               .rest = {parts.begin() + 1, parts.end()}};
}

// --retry-budget SHARE%,FLOOR,WINDOW: retries allowed per WINDOW, SHARE
// percent of the first attempts plus FLOOR (at least one, so a held retry
// always gets through in time).
Result<RetryBudgetOptions> ParseRetryBudget(std::string_view text) {
  LAB_ASSIGN_OR_RETURN(Parts p, ParseParts(text, "--retry-budget", 3,
                                           "SHARE%,FLOOR,WINDOW, e.g. 20%,10,10s", 1'000));
  RetryBudgetOptions o{.ratio = p.share};
  LAB_ASSIGN_OR_RETURN(int64_t floor,
                       ParseInteger(p.rest[0], "--retry-budget floor", 1, 1'000'000));
  o.floor_per_window = static_cast<int>(floor);
  LAB_ASSIGN_OR_RETURN(o.window_ms,
                       ParseDuration(p.rest[1], "--retry-budget window", 100, 24 * 3'600'000));
  return o;
}

// --circuit-breaker FAILED%,MIN,WINDOW,OPEN: the breaker opens when at
// least MIN calls in WINDOW were made and FAILED percent of them failed
// (1..100), and stays open for OPEN before it probes.
Result<BreakerOptions> ParseBreaker(std::string_view text) {
  LAB_ASSIGN_OR_RETURN(Parts p, ParseParts(text, "--circuit-breaker", 4,
                                           "FAILED%,MIN,WINDOW,OPEN, e.g. 50%,20,10s,5s", 100));
  if (p.share == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--circuit-breaker share is 0%: it would open with nothing failing; give "
                     "1% to 100%");
  }
  BreakerOptions o{.failure_ratio = p.share};
  LAB_ASSIGN_OR_RETURN(int64_t min, ParseInteger(p.rest[0], "--circuit-breaker min", 1, 1'000'000));
  o.min_calls = static_cast<int>(min);
  LAB_ASSIGN_OR_RETURN(o.window_ms,
                       ParseDuration(p.rest[1], "--circuit-breaker window", 100, 24 * 3'600'000));
  LAB_ASSIGN_OR_RETURN(o.open_ms,
                       ParseDuration(p.rest[2], "--circuit-breaker open", 1, 24 * 3'600'000));
  return o;
}

Result<WorkSettings> ParseWork(const WorkArgs& a) {
  WorkSettings w;
  LAB_ASSIGN_OR_RETURN(int64_t concurrency, ParseInteger(a.concurrency, "--concurrency", 1, 256));
  w.concurrency = static_cast<int>(concurrency);
  LAB_ASSIGN_OR_RETURN(w.lease_ms, ParseDuration(a.lease, "--lease", 300, 24 * 3'600'000));
  LAB_ASSIGN_OR_RETURN(w.poll_ms, ParseDuration(a.poll, "--poll", 1, 3'600'000));
  if (!a.timeout.empty()) {
    LAB_ASSIGN_OR_RETURN(w.timeout_ms, ParseDuration(a.timeout, "--timeout", 1, kMaxDurationMs));
  }
  if (!a.retain.empty()) {
    LAB_ASSIGN_OR_RETURN(w.retain, ParseRetain(a.retain));
  }
  LAB_ASSIGN_OR_RETURN(w.retry_budget, ParseRetryBudget(a.retry_budget));
  if (!a.metrics.empty()) {
    LAB_ASSIGN_OR_RETURN(w.metrics, ParseListen(a.metrics, "--metrics"));
    if (!w.metrics->loopback) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("--metrics '{}': metrics listen on loopback only (127.0.0.1, "
                                   "localhost or ::1)",
                                   ForTerminal(a.metrics, 200)));
    }
  }
  LAB_ASSIGN_OR_RETURN(w.breaker, ParseBreaker(a.breaker));
  if (a.exec.find_first_not_of(" \t\n") == std::string::npos) {
    return MakeError(ErrorCode::kInvalidArgument, "--exec is empty: give the command to run");
  }
  if (!a.relay.empty() && a.relay.find_first_not_of(" \t\n") == std::string::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--relay is blank: give the command that delivers an effect");
  }
  LAB_RETURN_IF_ERROR(CheckName(NameKind::kQueue, a.queue));
  if (!a.name.empty()) LAB_RETURN_IF_ERROR(CheckName(NameKind::kWorker, a.name));
  return w;
}

int Work(const WorkArgs& a) {
  auto settings = ParseWork(a);
  if (!settings) return FailWith(settings.error());
  SystemWaiter waiter;
  StopSignals signals(waiter);
  // Fail fast on a store that cannot be opened at all; later the pool
  // reconnects on its own (a restarted server, a dropped connection).
  if (auto first = a.db.Open(); !first) return FailWith(first.error());
  if (signals.interrupted()) return kExitInterrupted;
  // On SQLite the pool's threads share one store connection whose writes
  // share transactions and syncs (group commit); the group reopens it after
  // a failed commit, and each thread's handle is fail-stopped as any would
  // be. On PostgreSQL each thread has its own connection (GroupCommitPays).
  QueueOpener open = [&a] { return a.db.Open(); };
  if (GroupCommitPays(ParseStoreUrl(a.db.url)->kind)) {
    auto group = CommitGroup::Open([&a] { return OpenRecordStore(a.db.url, WallClock(), {}); });
    if (!group) return FailWith(group.error());
    open = [group = *group]() -> Result<std::unique_ptr<Queue>> {
      return Queue::Adopt(group->NewHandle(), WallClock());
    };
  }

  const std::string name =
      a.name.empty() ? fmt::format("pid{}", static_cast<long>(getpid())) : a.name;
  const WorkSettings& w = *settings;
  PoolOptions options{.concurrency = w.concurrency,
                      .worker = {.name = name,
                                 .queue = a.queue,
                                 .lease_ms = w.lease_ms,
                                 .seed = static_cast<uint64_t>(WallClock().NowMs()) ^
                                         static_cast<uint64_t>(getpid()),
                                 .fused = !a.split_steps,
                                 .outbox = !a.relay.empty(),
                                 .retry_budget = w.retry_budget,
                                 .breaker_options = w.breaker},
                      .poll_ms = w.poll_ms,
                      .drain = a.drain,
                      .retain = w.retain};
  const DurationMs heartbeat_ms = CadenceFor(w.lease_ms).heartbeat_ms;
  if (!a.relay.empty()) {
    // A delivery may take as long as an attempt; the receiver's command
    // gets the same limit (none: the lease's).
    options.relay =
        DeliverWith(ExecHandler({.command = a.relay,
                                 .heartbeat_ms = heartbeat_ms,
                                 .timeout_ms = w.timeout_ms > 0 ? w.timeout_ms : w.lease_ms},
                                waiter, WallClock()));
  }
  // The handler's duration, and a job's waits since its enqueue, for /metrics.
  Histogram handler_s(DurationBuckets()), to_start_s(DurationBuckets()),
      to_done_s(DurationBuckets());
  Handler command = ExecHandler({.command = a.exec,
                                 .heartbeat_ms = heartbeat_ms,
                                 .timeout_ms = w.timeout_ms,
                                 .capture_output = !a.relay.empty()},
                                waiter, WallClock());
  Handler timed = [command, &handler_s, &to_start_s, &to_done_s](const JobContext& ctx) {
    const auto seconds = [](TimeMs from, TimeMs to) {
      return static_cast<double>(std::max<TimeMs>(0, to - from)) / 1'000;
    };
    const TimeMs started = WallClock().NowMs();
    if (ctx.attempt == 1) to_start_s.Observe(seconds(ctx.enqueued_at_ms, started));
    HandlerResult r = command(ctx);
    const TimeMs ended = WallClock().NowMs();
    handler_s.Observe(seconds(started, ended));
    if (r.status == HandlerResult::Status::kOk)
      to_done_s.Observe(seconds(ctx.enqueued_at_ms, ended));
    return r;
  };
  WorkerPool pool(open, timed, options, waiter,
                  [](const std::string& line) { fmt::print(stderr, "lab: {}\n", line); });
  std::unique_ptr<WebServer> metrics;
  if (!a.metrics.empty()) {
    // Each scrape reads the store's gauges on a handle of its own.
    auto server = WebServer::Start(*settings->metrics, "--metrics", [&](const HttpRequest& r) {
      if (r.method != HttpMethod::kGet || r.path != "/metrics") {
        return HttpResponse{.status = 404, .content_type = "text/plain", .body = "see /metrics\n"};
      }
      MetricsInput in{.pool = pool.Stats(),
                      .queues = {a.queue},
                      .leases_held = pool.LeasesHeld(),
                      .timings = {{Timing::kHandler, handler_s.Read()},
                                  {Timing::kEnqueueToStart, to_start_s.Read()},
                                  {Timing::kEnqueueToDone, to_done_s.Read()}}};
      if (auto q = a.db.Open(); q) {
        if (auto counts = (*q)->store().CountJobs(); counts) in.jobs = std::move(*counts);
        in.oldest_pending = OldestPending((*q)->store(), WallClock().NowMs(), in.queues);
      }
      return HttpResponse{.content_type = std::string(kMetricsContentType),
                          .body = RenderMetrics(in)};
    });
    if (!server) return FailWith(server.error());
    metrics = std::move(*server);
    fmt::print(stderr, "lab: metrics at http://{}/metrics\n", metrics->address());
  }
  PoolStats stats = pool.Run();
  metrics.reset();

  const char* why = stats.fatal ? "error" : stats.drained ? "queue drained" : "signal";
  fmt::print(stderr,
             "lab: worker {} stopped ({}): {} finished, {} failed attempts ({} dead-lettered), {} "
             "re-deliveries "
             "(jobs that had run before), {} already committed, {} fenced, {} store calls "
             "retried, {} jobs given up ({} released, {} left to expire), {} store errors, "
             "{} reconnects, {} finished jobs pruned, {} leases extended by the control plane ({} "
             "expired leases reaped, {} commits reconciled), "
             "{} retries held back by the retry budget, {} calls held back by the circuit "
             "breaker (opened {} times)\n",
             name, why, stats.finished, stats.failed, stats.dead_lettered, stats.redelivered,
             stats.duplicates, stats.fenced, stats.retried, stats.released + stats.abandoned,
             stats.released, stats.abandoned, stats.errors, stats.reconnects, stats.pruned,
             stats.heartbeats, stats.reaped, stats.reconciled, stats.retries_held,
             stats.breaker_held, stats.breaker_opened);
  if (!a.relay.empty()) {
    fmt::print(stderr,
               "lab: relay: {} effects delivered, {} sends not acknowledged (sent again), {} "
               "still to deliver\n",
               stats.delivered, stats.undelivered, stats.outbox_left);
  }
  if (stats.fatal) {
    fmt::print(stderr, "lab: worker stopped: {}\n", stats.fatal->message);
    return kExitFailure;
  }
  return kExitOk;
}

struct UiArgs {
  DbFlag db;
  std::string listen = "127.0.0.1:8080";
  std::string token_file;
};

// The store's URL for a page's header, its password (if any) hidden.
std::string WithoutPassword(std::string url) {
  const size_t scheme = url.find("://");
  const size_t at = url.find('@');
  if (scheme != std::string::npos && at != std::string::npos && at > scheme) {
    const size_t colon = url.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) url.replace(colon + 1, at - colon - 1, "***");
  }
  const size_t password = url.find("password=");
  if (password != std::string::npos) {
    const size_t end = std::min(url.find('&', password), url.size());
    url.replace(password + 9, end - password - 9, "***");
  }
  return url;
}

// The access token in `path`: its first line, 16 to 256 printable ASCII
// characters without spaces.
Result<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("--token-file {}: cannot read it", ForTerminal(path, 200)));
  }
  const bool printable = std::all_of(token.begin(), token.end(), [](char c) {
    return c > ' ' && c < 127 && c != ';' && c != ',';
  });
  if (token.size() < 16 || token.size() > 256 || !printable) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("--token-file {}: its first line must be the token, 16 to 256 "
                                 "printable ASCII characters without spaces, ';' or ','",
                                 ForTerminal(path, 200)));
  }
  return token;
}

std::atomic<Waiter*> g_ui_waiter{nullptr};
void OnUiStop(int) {
  if (Waiter* w = g_ui_waiter.load()) w->Stop();
}

int Ui(const UiArgs& a) {
  auto listen = ParseListen(a.listen, "--listen");
  if (!listen) return FailWith(listen.error());
  std::string token;
  if (!a.token_file.empty()) {
    auto read = ReadToken(a.token_file);
    if (!read) return FailWith(read.error());
    token = std::move(*read);
  } else if (!listen->loopback) {
    return UsageError(
        fmt::format("--listen {}: beyond loopback the dashboard asks for an access token: give "
                    "--token-file FILE (or listen on 127.0.0.1)",
                    ForTerminal(a.listen, 200)));
  }
  // Fails fast on a store that is not there; the dashboard then opens
  // its own handle, and a new one after a store error.
  if (auto first = a.db.OpenExisting(); !first) return FailWith(first.error());
  auto secret = RandomSecret();
  if (!secret) return FailWith(secret.error());
  Dashboard dashboard(
      [&a] { return OpenStore(a.db.url, WallClock(), {.create = false}); }, WallClock(),
      {.store_label = WithoutPassword(a.db.url), .access_token = token, .form_secret = *secret});
  SystemWaiter waiter;
  g_ui_waiter = &waiter;
  StopSignalScope signals(OnUiStop);
  auto server = WebServer::Start(*listen, "--listen",
                                 [&](const HttpRequest& r) { return dashboard.Handle(r); });
  if (!server) {
    g_ui_waiter = nullptr;
    return FailWith(server.error());
  }
  fmt::print(stderr, "lab: dashboard at http://{}/ (Ctrl-C stops it)\n", (*server)->address());
  while (!waiter.stopped()) waiter.WaitMs(60'000);
  server->reset();
  g_ui_waiter = nullptr;
  fmt::print(stderr, "lab: dashboard stopped\n");
  return kExitOk;
}

}  // namespace

void AddQueueCommands(CLI::App& app, CommandTable& table) {
  auto* queue = app.add_subcommand(
      "queue", "Operate a real queue: enqueue, work, stats, inspect, dlq, drill, ui");
  queue->require_subcommand(1);

  auto en = std::make_shared<EnqueueArgs>();
  auto* enqueue = queue->add_subcommand("enqueue", "Add a job; prints its id");
  en->db.Add(enqueue);
  enqueue->add_option("--key", en->key,
                      fmt::format("Idempotency key (UTF-8 text, no control characters, at most "
                                  "{} bytes): the same key twice in one queue is one job",
                                  kMaxKeyBytes));
  enqueue->add_option("--queue", en->queue,
                      fmt::format("Queue name (UTF-8 text without '/' or control characters, at "
                                  "most {} bytes; default: default)",
                                  kMaxQueueNameBytes));
  enqueue->add_option("--run-at", en->run_at,
                      "Not before: ms since the epoch, or +N[ms|s|m|h|d] from now");
  enqueue->add_option("--deadline", en->deadline,
                      "Not started by then: EXPIRED, never run; ms since the epoch, or "
                      "+N[ms|s|m|h|d] from now (default: none)");
  enqueue->add_option(
      "--priority", en->priority,
      fmt::format("Higher runs first, {}..{} (default 0)", -kMaxPriority, kMaxPriority));
  enqueue->add_option("--max-attempts", en->max_attempts,
                      fmt::format("Attempts before dead letter, 1..{} (default 5)", kMaxAttempts));
  enqueue->add_option("--timeout", en->timeout,
                      "Kill one attempt's command after this long, N[ms|s|m|h|d] (default: the "
                      "worker's --timeout)");
  enqueue->add_option("PAYLOAD", en->payload, "The payload (bytes), or - to read it from stdin");
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
  inspect->add_option("JOB", in->job, "Job id")->required();
  inspect->add_flag("--json", in->json_out, "Print JSON (times in ms since the epoch)");
  inspect->add_flag("--full-payload", in->full_payload,
                    "Write only the payload's bytes, exactly, to stdout");
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
  redrive->add_option("--job", rd->job, "The job to redrive");
  redrive->add_flag("--all", rd->all, "Redrive every dead job");
  redrive->add_option("--queue", rd->queue, "With --all: only this queue");
  table.emplace_back(redrive, [rd] { return DlqRedrive(*rd); });

  auto li = std::make_shared<LimitArgs>();
  auto* limit = queue->add_subcommand(
      "limit",
      fmt::format("Admission control: a queue's depth limit. An enqueue that finds the queue "
                  "holding that many unfinished jobs is refused (exit {}); with no options, "
                  "list the limits",
                  kExitOverloaded));
  li->db.Add(limit);
  limit->add_option("--queue", li->queue, "The queue to limit");
  limit->add_option("--max-depth", li->max_depth,
                    fmt::format("Unfinished (PENDING or RUNNING) jobs allowed, 1..{}; 0 removes "
                                "the limit",
                                kMaxQueueDepth));
  limit->add_flag("--json", li->json_out, "Print JSON");
  table.emplace_back(limit, [li] { return Limit(*li); });

  auto dr = std::make_shared<DrillArgs>();
  auto* drill = queue->add_subcommand(
      "drill",
      "The reconciliation drill: compare the queue with what a downstream system reports "
      "holding, by job key; record every divergence in its job's audit trail and redrive a "
      "dead job whose effect the system holds. Exit 0: they agree; 1: divergences found");
  dr->db.Add(drill);
  drill
      ->add_option("--held", dr->held,
                   "The system's report (a path, or - for stdin): JSON lines, {\"key\": "
                   "KEY, \"payload\": TEXT} each, KEY being the job's LAB_JOB_KEY")
      ->required();
  drill->add_flag("--ledger-delivered", dr->ledger_delivered,
                  "The ledger's plain effects are delivered to the system by other means: report "
                  "the ones it lacks too (outbox effects it acknowledged are always checked)");
  drill->add_flag("--no-repair", dr->no_repair,
                  "Record findings only; redrive and deliver again nothing");
  drill->add_flag("--json", dr->json_out, "Print JSON");
  table.emplace_back(drill, [dr] { return Drill(*dr); });

  auto pr = std::make_shared<PruneArgs>();
  auto* prune = queue->add_subcommand(
      "prune",
      "Delete finished jobs (SUCCEEDED, DEAD or EXPIRED) with their executions, effects and audit "
      "entries, once they are older than --retain; the deletion is audited");
  pr->db.Add(prune);
  prune
      ->add_option("--retain", pr->retain,
                   "Keep jobs that finished less than this long ago, 0s..366d as "
                   "N[ms|s|m|h|d]; their idempotency keys are remembered as long as they are kept")
      ->required();
  prune->add_flag("--json", pr->json_out, "Print JSON");
  table.emplace_back(prune, [pr] { return Prune(*pr); });

  auto wk = std::make_shared<WorkArgs>();
  auto* work = queue->add_subcommand(
      "work", "Run jobs: CMD once per job (payload on stdin, LAB_JOB_* in the environment)");
  wk->db.Add(work);
  work->add_option("--concurrency", wk->concurrency, "Jobs run at once, 1..256 (default 1)");
  work->add_option("--queue", wk->queue, "Queue name (default: default)");
  work->add_option("--exec", wk->exec,
                   "Shell command per job; exit 0 commits, else retry (default: cat)");
  work->add_option("--relay", wk->relay,
                   "The outbox: CMD's stdout is each job's effect, committed as an intent; "
                   "RELAY runs once per intent to deliver it (the effect on stdin, its key in "
                   "LAB_JOB_KEY), at least once, until it exits 0; the receiver must deduplicate "
                   "by that key");
  work->add_option("--metrics", wk->metrics,
                   "Serve Prometheus metrics at http://HOST:PORT/metrics (loopback only; port 0: "
                   "any free one, printed): counters of what this worker did, jobs by queue and "
                   "state, the oldest pending job's age, leases held, handler durations");
  work->add_flag("--drain", wk->drain,
                 "Exit once the queue has no pending job (scheduled retries and --run-at jobs "
                 "included: it waits for them) and no running job");
  work->add_option("--lease", wk->lease,
                   "Lease per claim, 300ms..24h as N[ms|s|m|h] (a bare number is seconds; "
                   "default 30s); heartbeats every third");
  work->add_option("--poll", wk->poll,
                   "Wait when no job is ready, 1ms..1h (a bare number is seconds; default 250ms)");
  work->add_option("--timeout", wk->timeout,
                   "Kill a job's command after this long and fail the attempt, unless the job "
                   "has its own --timeout (default: none)");
  work->add_option("--retain", wk->retain,
                   "Prune finished jobs older than this on every sweep, 0s..366d (default: keep "
                   "every job; see `lab queue prune`)");
  work->add_option("--name", wk->name, "Worker name in the audit log (default pid<PID>)");
  work->add_option("--retry-budget", wk->retry_budget,
                   "Retries the process's jobs may make per window, as SHARE%,FLOOR,WINDOW: "
                   "SHARE percent of its first attempts (0..1000) plus FLOOR (1..1000000) per "
                   "WINDOW (100ms..24h); a retry past it waits, its attempt given back "
                   "(default 20%,10,10s; the retry_budget guard)");
  work->add_option("--circuit-breaker", wk->breaker,
                   "The process's circuit breaker on what its jobs call, as "
                   "FAILED%,MIN,WINDOW,OPEN: it opens once at least MIN calls (1..1000000) in "
                   "WINDOW (100ms..24h) were made and FAILED percent (1..100) failed (a command "
                   "exiting non-zero), and then jobs wait unrun, their attempts given back, "
                   "for OPEN before a probe (default 50%,20,10s,5s; the circuit_breaker guard)");
  work->add_flag("--split-steps", wk->split_steps,
                 "Record claim, begin, commit and finish as four transactions, not two (claim "
                 "with begin, commit with finish): the path whose crash windows the reaper and "
                 "the reconciler close");
  table.emplace_back(work, [wk] { return Work(*wk); });

  auto ui = std::make_shared<UiArgs>();
  auto* dash = queue->add_subcommand(
      "ui",
      "Serve the queue's dashboard in the browser: queues, throughput and latency, dead letters "
      "with redrive, each job's timeline, the workers' leases; and /metrics");
  ui->db.Add(dash);
  dash->add_option("--listen", ui->listen,
                   "HOST:PORT to serve on (default 127.0.0.1:8080; port 0: any free one, "
                   "printed); beyond loopback it needs --token-file");
  dash->add_option("--token-file", ui->token_file,
                   "A file whose first line is the access token (16 to 256 characters) every "
                   "visitor must give once, as /?token=TOKEN");
  table.emplace_back(dash, [ui] { return Ui(*ui); });
}

}  // namespace lab
