#include "queue/queue.h"

#include <fmt/core.h>

#include "store/memory_store.h"
#include "store/sqlite_store.h"

namespace lab {

Result<StoreUrl> ParseStoreUrl(std::string_view url) {
  if (url == "memory:" || url == "memory") return StoreUrl{StoreKind::kMemory, ""};
  if (url.starts_with("sqlite:")) {
    std::string_view path = url.substr(7);
    if (path.starts_with("//")) path.remove_prefix(2);  // Also accept sqlite://PATH.
    if (path.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("store URL '{}' names no file (use sqlite:PATH)", url));
    }
    return StoreUrl{StoreKind::kSqlite, std::string(path)};
  }
  const size_t colon = url.find(':');
  const std::string_view scheme = colon == std::string_view::npos ? url : url.substr(0, colon);
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("unknown store URL '{}' (scheme '{}'); expected memory: or "
                               "sqlite:PATH",
                               url, scheme));
}

Result<std::unique_ptr<Queue>> Queue::Open(std::string_view url, Clock& clock,
                                           QueueOptions options) {
  LAB_ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(url));
  const StoreOptions store_options{.enforce_fencing = options.guards.fencing,
                                   .enforce_commit_boundary = options.guards.commit_boundary};
  std::unique_ptr<Store> store;
  if (parsed.kind == StoreKind::kMemory) {
    store = std::make_unique<MemoryStore>(clock, store_options);
  } else {
    LAB_ASSIGN_OR_RETURN(
        store,
        SqliteStore::Open({.path = parsed.path, .vfs = options.sqlite_vfs, .store = store_options},
                          clock));
  }
  return std::unique_ptr<Queue>(new Queue(std::move(store), clock, options));
}

Result<EnqueueResult> Queue::Enqueue(const NewJob& job) {
  LAB_ASSIGN_OR_RETURN(EnqueueResult r, store_->Enqueue(job));
  if (options_.trace != nullptr) {
    options_.trace->Emit({.time_ms = clock_.NowMs(),
                          .actor = "producer",
                          .event = "enqueue",
                          .job = r.job_id,
                          .result = r.created ? "ok" : "existing job (same key)"});
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
  Guards guards = options_.guards;
  if (!*guards.Find(guard)) {
    Emit(std::string(actor), std::string(event), fmt::format("skipped: {} guard is off", guard));
    return 0;
  }
  LAB_ASSIGN_OR_RETURN(int n, (store_.get()->*sweep)());
  Emit(std::string(actor), std::string(event), fmt::format("{} {}", n, what));
  return n;
}

Result<int> Queue::Reap() {
  return GuardedSweep("reaper", "reaper", "reap", &Store::ReapExpired, "expired lease(s) aborted");
}

Result<int> Queue::Reconcile() {
  return GuardedSweep("reconcile", "reconciler", "reconcile", &Store::Reconcile,
                      "committed execution(s) finalized");
}

}  // namespace lab
