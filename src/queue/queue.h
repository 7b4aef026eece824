// Queue: a job queue opened from a URL, with its guards and clock.
//
// URLs: "memory:" (the in-process reference store), "sqlite:PATH" (a real
// file; created if absent; "?synchronous=normal" trades power-loss
// durability for speed, see StoreUrl) and "postgresql://..." or "postgres://..." (libpq
// URL syntax; libpq fills gaps from the standard PG* environment variables).
// A PostgreSQL URL may carry "schema=NAME" (default "lab"), which the lab
// takes out before libpq sees it. Anything else is a clear kInvalidArgument. The
// Queue owns its Store and runs the control-plane sweeps (reaper,
// reconciler), each a no-op when its guard is off. Thread-safety: one
// thread at a time; open one Queue per thread or process.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/trace.h"
#include "queue/guards.h"
#include "store/record_store.h"

namespace lab {

struct QueueOptions {
  Guards guards;
  std::string sqlite_vfs;  // Empty: the default VFS.
  // False: a sqlite: file that does not exist, or a PostgreSQL schema
  // without the lab's tables, is kNotFound and nothing is created (commands
  // that only read).
  bool create = true;
  TraceSink* trace = nullptr;
};

enum class StoreKind { kMemory, kSqlite, kPostgres };

struct StoreUrl {
  StoreKind kind = StoreKind::kMemory;
  std::string path;    // sqlite: the file. postgres: the libpq URL without schema=.
  std::string schema;  // postgres only.
  // sqlite only, from "?synchronous=full|extra|normal": FULL (the default)
  // and EXTRA sync every commit; NORMAL does not (WAL mode): a call it
  // acknowledged survives a process crash but not a power loss (FM_009;
  // the same as the guard sync_before_ack off).
  std::string synchronous = "FULL";
};

// Whether the threads of one process do better sharing one connection
// through a CommitGroup: SQLite, yes (one writer at a time anyway, so the
// shared syncs are pure gain); PostgreSQL, no (the server runs connections
// in parallel, and round trips, not syncs, bound a call).
bool GroupCommitPays(StoreKind kind);

// The store switches the guards imply.
StoreOptions StoreOptionsFor(const Guards& guards);

// Parses a store URL. Errors name the URL and what is accepted.
Result<StoreUrl> ParseStoreUrl(std::string_view url);

// The store behind `url`, opened with the switches `options.guards` imply:
// what Queue::Open opens, for a caller that decorates it before Adopt.
Result<std::unique_ptr<Store>> OpenStore(std::string_view url, Clock& clock,
                                         const QueueOptions& options);
// The storage backend behind `url`, for a caller that shares it between
// several handles or decorates it (store/fault_backend.h).
Result<std::shared_ptr<StoreBackend>> OpenBackend(std::string_view url,
                                                  const QueueOptions& options);
// The same, as the RecordStore a CommitGroup runs (store/group_commit.h).
Result<std::unique_ptr<RecordStore>> OpenRecordStore(std::string_view url, Clock& clock,
                                                     const QueueOptions& options);

class Queue {
 public:
  static Result<std::unique_ptr<Queue>> Open(std::string_view url, Clock& clock,
                                             QueueOptions options = {});
  // A queue over a store the caller built (a decorated one, in tests). The
  // store's own options must agree with `options.guards`.
  static std::unique_ptr<Queue> Adopt(std::unique_ptr<Store> store, Clock& clock,
                                      QueueOptions options = {});

  Result<EnqueueResult> Enqueue(const NewJob& job);
  // Every job in one transaction and one sync (Store::EnqueueBatch).
  Result<std::vector<EnqueueResult>> EnqueueBatch(std::span<const NewJob> jobs);
  // Aborts expired leases (reaper guard). Returns how many.
  Result<int> Reap();
  // Finalizes COMMITTED-but-not-DONE executions (reconcile guard).
  Result<int> Reconcile();
  // The retention policy: prunes jobs that finished at least `retain` ago
  // (Store::Prune), a PruneRequest's default batch a transaction, until none
  // is left. Returns what went, summed.
  Result<PruneResult> Prune(DurationMs retain);

  Store& store() { return *store_; }
  Clock& clock() { return clock_; }
  const Guards& guards() const { return options_.guards; }
  TraceSink* trace() { return options_.trace; }

 private:
  Queue(std::unique_ptr<Store> store, Clock& clock, QueueOptions options)
      : store_(std::move(store)), clock_(clock), options_(options) {}
  void Emit(std::string actor, std::string event, std::string result);
  // The job as this queue sends it to the store: without the enqueue_key
  // guard, its key dropped (a queue that takes no idempotency key).
  NewJob AsSent(const NewJob& job) const;
  // Runs `sweep` when its guard is on, tracing the count (or the skip).
  Result<int> GuardedSweep(std::string_view guard, std::string_view actor, std::string_view event,
                           Result<int> (Store::*sweep)(), std::string_view what);

  std::unique_ptr<Store> store_;
  Clock& clock_;
  QueueOptions options_;
};

}  // namespace lab
