// CommitGroup: one store handle shared by many threads, whose writes share
// transactions and syncs (group commit).
//
// Each thread takes a handle (NewHandle), a Store like any other. A write
// call is queued; the first caller that finds no batch running becomes the
// leader: it takes every call queued so far (up to max_batch), runs them in
// one write transaction, each in its own savepoint (RecordStore::BeginGroup),
// commits once, and only then answers every caller. So no call returns
// success before the sync that makes it durable, one failed call undoes only
// its own writes, and a disk that syncs S times a second carries up to
// S * max_batch calls a second. If the batch's commit fails, every call in
// it gets that error (kUnknownOutcome: the batch may or may not be durable)
// and every handle that was in it is fail-stopped, as store.h requires; the
// group reopens its backend for the next batch, so a fresh handle
// (the pool's reopen) goes on. Reads take the backend between batches and
// run outside any transaction. Thread-safety: the group and NewHandle from
// any thread; each handle, as every Store, one thread at a time.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "store/record_store.h"

namespace lab {

struct GroupStats {
  int64_t batches = 0;  // Write transactions committed (one sync each).
  int64_t calls = 0;    // Write calls they carried.
};

class CommitGroup : public std::enable_shared_from_this<CommitGroup> {
 public:
  using Opener = std::function<Result<std::unique_ptr<RecordStore>>()>;
  static constexpr int kDefaultMaxBatch = 256;

  // Opens the backend once now (so a bad URL fails here) and again after a
  // batch left it fail-stopped.
  static Result<std::shared_ptr<CommitGroup>> Open(Opener open, int max_batch = kDefaultMaxBatch);

  std::unique_ptr<Store> NewHandle();
  GroupStats stats() const;
  // Write calls queued and not yet taken into a batch.
  int waiting() const;

  // One queued write call; public for the handle, opaque to others.
  struct Call {
    std::function<void(RecordStore&)> run;
    std::optional<Error> batch_error;  // Set when the batch did not commit.
    bool done = false;
  };
  // Runs `call` in a batch; returns when the batch is durable (or failed).
  void Write(Call& call);
  // Runs `read` on the backend between batches, outside any transaction.
  Result<void> Read(const std::function<Result<void>(RecordStore&)>& read);
  int64_t reconnects() const;

 private:
  CommitGroup(Opener open, int max_batch) : open_(std::move(open)), max_batch_(max_batch) {}
  // The leader's work: one transaction for `batch`. Called with backend_mu_.
  void RunBatch(std::deque<Call*>& batch);
  // The backend, reopened if the last batch fail-stopped it.
  Result<RecordStore*> Backend();

  Opener open_;
  const int max_batch_;

  mutable std::mutex mu_;  // Guards queue_, leader_, stats_.
  std::condition_variable cv_;
  std::deque<Call*> queue_;
  bool leader_ = false;
  GroupStats stats_;

  std::mutex backend_mu_;  // Held by the leader for a batch, and by a read.
  std::unique_ptr<RecordStore> backend_;
  int64_t reopened_ = 0;
};

}  // namespace lab
