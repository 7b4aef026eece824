#include "queue/queue.h"

#include <fmt/core.h>

#include <cctype>

#include "core/assert.h"
#include "core/marks.h"
#include "store/memory_store.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace lab {

namespace {

// Takes the lab's own schema=NAME out of a PostgreSQL URL's query string.
Result<StoreUrl> ParsePgUrl(std::string_view url) {
  StoreUrl out{StoreKind::kPostgres, "", "lab"};
  const size_t q = url.find('?');
  if (q == std::string_view::npos) {
    out.path = std::string(url);
    return out;
  }
  std::string kept;
  std::string_view query = url.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    if (item.starts_with("schema=")) {
      out.schema = std::string(item.substr(7));
    } else if (!item.empty()) {
      kept += (kept.empty() ? "" : "&") + std::string(item);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  if (out.schema.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("store URL '{}' has an empty schema=", url));
  }
  out.path = std::string(url.substr(0, q)) + (kept.empty() ? "" : "?" + kept);
  return out;
}

// The one query a sqlite: URL takes: synchronous=full|extra|normal.
Result<std::string> ParseSqliteQuery(std::string_view url, std::string_view query) {
  constexpr std::string_view kKey = "synchronous=";
  if (query.starts_with(kKey)) {
    std::string value(query.substr(kKey.size()));
    for (char& c : value) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (value == "FULL" || value == "EXTRA" || value == "NORMAL") return value;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("store URL '{}': a sqlite: URL takes only "
                               "?synchronous=full|extra|normal, got '?{}'",
                               url, query));
}

}  // namespace

Result<StoreUrl> ParseStoreUrl(std::string_view url) {
  if (url == "memory:" || url == "memory") return StoreUrl{StoreKind::kMemory, ""};
  if (url.starts_with("sqlite:")) {
    std::string_view path = url.substr(7);
    if (path.starts_with("//")) path.remove_prefix(2);  // Also accept sqlite://PATH.
    StoreUrl out{StoreKind::kSqlite, ""};
    if (const size_t q = path.find('?'); q != std::string_view::npos) {
      LAB_ASSIGN_OR_RETURN(out.synchronous, ParseSqliteQuery(url, path.substr(q + 1)));
      path = path.substr(0, q);
    }
    if (path.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("store URL '{}' names no file (use sqlite:PATH)", url));
    }
    out.path = std::string(path);
    return out;
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) return ParsePgUrl(url);
  const size_t colon = url.find(':');
  const std::string_view scheme = colon == std::string_view::npos ? url : url.substr(0, colon);
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("unknown store URL '{}' (scheme '{}'); expected memory:, "
                               "sqlite:PATH or postgresql://...",
                               url, scheme));
}

Result<std::unique_ptr<Store>> OpenStore(std::string_view url, Clock& clock,
                                         const QueueOptions& options) {
  LAB_ASSIGN_OR_RETURN(auto store, OpenRecordStore(url, clock, options));
  return std::unique_ptr<Store>(std::move(store));
}

Result<std::shared_ptr<StoreBackend>> OpenBackend(std::string_view url,
                                                  const QueueOptions& options) {
  LAB_ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(url));
  if (parsed.kind == StoreKind::kMemory) return std::make_shared<MemoryBackend>();
  if (parsed.kind == StoreKind::kPostgres) {
    LAB_ASSIGN_OR_RETURN(
        std::shared_ptr<StoreBackend> pg,
        PostgresBackend::Open(
            {.conninfo = parsed.path, .schema = parsed.schema, .create = options.create}));
    return pg;
  }
  LAB_ASSIGN_OR_RETURN(
      std::shared_ptr<StoreBackend> sqlite,
      SqliteBackend::Open(
          {.path = parsed.path,
           .vfs = options.sqlite_vfs,
           .synchronous = options.guards.sync_before_ack ? parsed.synchronous : "NORMAL",
           .recover_log_on_reopen = options.guards.log_recovery,
           .create = options.create}));
  return sqlite;
}

Result<std::unique_ptr<RecordStore>> OpenRecordStore(std::string_view url, Clock& clock,
                                                     const QueueOptions& options) {
  LAB_ASSIGN_OR_RETURN(std::shared_ptr<StoreBackend> backend, OpenBackend(url, options));
  return std::make_unique<RecordStore>(std::move(backend), clock, StoreOptionsFor(options.guards));
}

Result<std::unique_ptr<Queue>> Queue::Open(std::string_view url, Clock& clock,
                                           QueueOptions options) {
  LAB_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, OpenStore(url, clock, options));
  return std::unique_ptr<Queue>(new Queue(std::move(store), clock, options));
}

std::unique_ptr<Queue> Queue::Adopt(std::unique_ptr<Store> store, Clock& clock,
                                    QueueOptions options) {
  LAB_ASSERT(store != nullptr);
  return std::unique_ptr<Queue>(new Queue(std::move(store), clock, options));
}

bool GroupCommitPays(StoreKind kind) { return kind == StoreKind::kSqlite; }

StoreOptions StoreOptionsFor(const Guards& guards) {
  return {.enforce_fencing = guards.fencing,
          .enforce_commit_boundary = guards.commit_boundary,
          .count_lost_attempts = guards.lost_attempts,
          .store_clock = guards.store_clock,
          .effect_with_commit = guards.one_transaction,
          .admission_control = guards.admission_control,
          .lease_cap = guards.lease_cap};
}

NewJob Queue::AsSent(const NewJob& job) const {
  NewJob sent = job;
  if (job.key && !options_.guards.enqueue_key) {
    LAB_MARK(kEnqueueKeyDropped);
    sent.key.reset();
  }
  return sent;
}

Result<std::vector<EnqueueResult>> Queue::EnqueueBatch(std::span<const NewJob> jobs) {
  std::vector<NewJob> sent;
  sent.reserve(jobs.size());
  for (const NewJob& job : jobs) sent.push_back(AsSent(job));
  auto r = store_->EnqueueBatch(sent);
  Emit("producer", "enqueue",
       r ? fmt::format("batch of {} ok", jobs.size()) : "error: " + r.error().ToString());
  return r;
}

Result<EnqueueResult> Queue::Enqueue(const NewJob& job) {
  const NewJob sent = AsSent(job);
  const bool dropped_key = job.key && !sent.key;
  auto r = store_->Enqueue(sent);
  if (options_.trace != nullptr) {
    options_.trace->Emit({.time_ms = clock_.NowMs(),
                          .actor = "producer",
                          .event = "enqueue",
                          .job = r ? r->job_id : 0,
                          .result = !r            ? "error: " + r.error().ToString()
                                    : dropped_key ? "ok (key ignored: enqueue_key guard off)"
                                    : r->created  ? "ok"
                                                  : "existing job (same key)"});
  }
  return r;
}

void Queue::Emit(std::string actor, std::string event, std::string result) {
  if (options_.trace == nullptr) return;
  options_.trace->Emit({.time_ms = clock_.NowMs(),
                        .actor = std::move(actor),
                        .event = std::move(event),
                        .result = std::move(result)});
}

Result<int> Queue::GuardedSweep(std::string_view guard, std::string_view actor,
                                std::string_view event, Result<int> (Store::*sweep)(),
                                std::string_view what) {
  if (!*options_.guards.Find(guard)) {
    Emit(std::string(actor), std::string(event), fmt::format("skipped: {} guard is off", guard));
    return 0;
  }
  LAB_ASSIGN_OR_RETURN(int n, (store_.get()->*sweep)());
  // A sweep that found nothing changed nothing: not an event of any job's
  // history, and a timeline of many quiet sweeps would bury those that did.
  if (n > 0) Emit(std::string(actor), std::string(event), fmt::format("{} {}", n, what));
  return n;
}

Result<int> Queue::Reap() {
  return GuardedSweep("reaper", "reaper", "reap", &Store::ReapExpired, "expired lease(s) aborted");
}

Result<int> Queue::Reconcile() {
  return GuardedSweep("reconcile", "reconciler", "reconcile", &Store::Reconcile,
                      "committed execution(s) finalized");
}

Result<PruneResult> Queue::Prune(DurationMs retain) {
  const PruneRequest request{.retain = retain};
  PruneResult total;
  while (true) {
    LAB_ASSIGN_OR_RETURN(PruneResult batch, store_->Prune(request));
    total += batch;
    if (batch.jobs < request.limit) break;
  }
  Emit("retention", "prune",
       fmt::format("{} job(s) finished at or before {} ms pruned", total.jobs, total.cutoff_ms));
  return total;
}

}  // namespace lab
