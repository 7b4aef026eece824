// FaultBackend: one fault-injecting decorator for every storage backend.
//
// It sits between the rules runner (RecordStore) and a backend (memory,
// SQLite, PostgreSQL) and, before each primitive, asks a hook whether this
// one fails, and how. The faults are the ones real backends produce, each
// answered as the error contract (backend.h) says that backend answers it,
// so the runner above cannot tell an injected fault from a real one:
// a busy file, a serialization failure, a dropped connection, an I/O
// error, a full disk, corrupt data, a lost reply. A fault before the
// commit writes nothing (the runner rolls back); at the commit it is
// either refused (nothing written) or of unknown outcome, and then
// `applied` (the hook's choice, a seed's in the simulator) decides whether
// the inner backend committed before the error was returned.
// Thread-safety: as the inner backend; the hook is called from the thread
// using this handle.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "store/backend.h"

namespace lab {

// The primitives, as the hook sees them.
enum class BackendOp { kBegin, kCommit, kRollback, kSavepoint, kRead, kWrite, kReopen };

enum class StorageFault {
  kBusy,            // SQLITE_BUSY: refused, nothing written (kUnavailable).
  kSerialization,   // PostgreSQL 40001/40P01: refused, rolled back (kUnavailable).
  kConnectionLost,  // Before COMMIT: rolled back (kUnavailable); at COMMIT: unknown.
  kIoError,         // EIO on a page or the sync: before COMMIT nothing written; at COMMIT unknown.
  kDiskFull,        // ENOSPC / SQLITE_FULL / 53100: refused, nothing written (kResourceExhausted).
  kCorrupt,         // SQLITE_CORRUPT / XX001 (kDataLoss).
  kReplyLost,       // At COMMIT only: committed, and the answer lost on the way.
};

std::string_view ToString(BackendOp op);
std::string_view ToString(StorageFault fault);
std::optional<StorageFault> ParseStorageFault(std::string_view name);

struct BackendFault {
  StorageFault fault = StorageFault::kIoError;
  // At the commit, for a fault of unknown outcome: whether the inner
  // backend committed. Ignored elsewhere (kReplyLost always applies).
  bool applied = false;
};

// Asked before every primitive; `n` counts this handle's primitives from 1.
using BackendFaultHook = std::function<std::optional<BackendFault>(BackendOp op, int64_t n)>;

// The error the contract gives `fault` at `op` (kUnknownOutcome at a commit
// whose outcome the fault leaves unknown).
Error StorageFaultError(StorageFault fault, BackendOp op);
// True when `fault` at the commit may have been applied (the caller cannot know).
bool OutcomeUnknownAtCommit(StorageFault fault);

class FaultBackend final : public StoreBackend {
 public:
  FaultBackend(std::shared_ptr<StoreBackend> inner, BackendFaultHook hook)
      : inner_(std::move(inner)), hook_(std::move(hook)) {}

  // Primitives asked so far, and faults injected.
  int64_t calls() const { return calls_; }
  int64_t injected() const { return injected_; }

  Result<void> BeginWrite() override;
  Result<void> CommitWrite() override;
  Result<void> Rollback() override;
  Result<void> Savepoint() override;
  Result<void> ReleaseSavepoint() override;
  Result<void> RollbackToSavepoint() override;
  Result<void> Reopen() override;
  Result<std::optional<Job>> LoadJob(JobId id) override;
  Result<std::optional<Job>> LoadJobByKey(const std::string& queue,
                                          const std::string& key) override;
  Result<std::optional<Execution>> LoadExecution(ExecutionId id) override;
  Result<std::vector<Job>> LoadClaimable(const std::string& queue, TimeMs now, int limit) override;
  Result<std::vector<Execution>> LoadExpired(ExecState state, TimeMs now) override;
  Result<std::optional<ExecutionId>> FindCommitted(JobId job, ExecutionId other_than) override;
  Result<JobId> InsertJob(const Job& job) override;
  Result<ExecutionId> InsertExecution(const Execution& exec) override;
  Result<void> SaveJob(const Job& job) override;
  Result<void> SaveExecution(const Execution& exec) override;
  Result<void> InsertEffect(const EffectRecord& effect) override;
  Result<std::optional<EffectRecord>> LoadEffect(int64_t id) override;
  Result<std::vector<EffectRecord>> LoadOutbox(int limit) override;
  Result<void> SaveDelivery(const EffectRecord& effect) override;
  Result<void> AppendAudit(const AuditEntry& entry) override;
  Result<Snapshot> LoadSnapshot() override;
  Result<std::vector<JobId>> LoadFinished(TimeMs cutoff, int limit) override;
  Result<NewestIds> LoadNewestIds() override;
  Result<PruneResult> DeleteJobs(std::span<const JobId> jobs) override;
  Result<std::vector<Job>> LoadJobs(const JobFilter& filter) override;
  Result<JobDetail> LoadJobRecords(JobId job) override;
  Result<std::vector<StateCount>> LoadCounts() override;
  Result<int64_t> LoadQueueLimit(const std::string& queue) override;
  Result<void> SaveQueueLimit(const QueueLimit& limit) override;
  Result<std::vector<QueueLimit>> LoadQueueLimits() override;
  Result<int64_t> CountOpen(const std::string& queue, int64_t cap) override;
  Result<void> CheckIntegrity() override { return inner_->CheckIntegrity(); }
  int64_t reconnects() const override { return inner_->reconnects(); }

 private:
  // The fault for this primitive, if the hook asks for one.
  std::optional<BackendFault> Ask(BackendOp op);
  // Runs `call` unless the hook fails this primitive first.
  template <typename F>
  auto Call(BackendOp op, F call) -> decltype(call());
  // Runs `undo` (a rollback) always, then answers the hook's fault, if any.
  template <typename F>
  Result<void> UndoThenFail(BackendOp op, F undo);

  std::shared_ptr<StoreBackend> inner_;
  BackendFaultHook hook_;
  int64_t calls_ = 0;
  int64_t injected_ = 0;
};

// Hooks for the usual patterns: fail the n-th primitive once; fail every
// primitive from the n-th on (a disk that stays broken).
BackendFaultHook FailOnce(int64_t n, BackendFault fault);
BackendFaultHook FailFrom(int64_t n, BackendFault fault);

}  // namespace lab
