#include "store/fault_backend.h"

#include <fmt/core.h>

#include "core/enum_names.h"
#include "core/marks.h"

namespace lab {
namespace {

constexpr EnumNames<BackendOp, 7> kOps = {{{BackendOp::kBegin, "begin"},
                                           {BackendOp::kCommit, "commit"},
                                           {BackendOp::kRollback, "rollback"},
                                           {BackendOp::kSavepoint, "savepoint"},
                                           {BackendOp::kRead, "read"},
                                           {BackendOp::kWrite, "write"},
                                           {BackendOp::kReopen, "reopen"}}};

constexpr EnumNames<StorageFault, 7> kFaults = {
    {{StorageFault::kBusy, "busy"},
     {StorageFault::kSerialization, "serialization-failure"},
     {StorageFault::kConnectionLost, "connection-lost"},
     {StorageFault::kIoError, "io-error"},
     {StorageFault::kDiskFull, "disk-full"},
     {StorageFault::kCorrupt, "corrupt"},
     {StorageFault::kReplyLost, "reply-lost"}}};

}  // namespace

std::string_view ToString(BackendOp op) { return NameOf(kOps, op); }
std::string_view ToString(StorageFault fault) { return NameOf(kFaults, fault); }
std::optional<StorageFault> ParseStorageFault(std::string_view name) {
  return ValueOf(kFaults, name);
}

bool OutcomeUnknownAtCommit(StorageFault fault) {
  return fault == StorageFault::kConnectionLost || fault == StorageFault::kIoError ||
         fault == StorageFault::kReplyLost;
}

Error StorageFaultError(StorageFault fault, BackendOp op) {
  const std::string where = fmt::format("injected at {}", ToString(op));
  switch (fault) {
    case StorageFault::kBusy:
      return {ErrorCode::kUnavailable, fmt::format("database is locked ({})", where)};
    case StorageFault::kSerialization:
      return {ErrorCode::kUnavailable,
              fmt::format("could not serialize access due to concurrent update (SQLSTATE 40001, "
                          "{})",
                          where)};
    case StorageFault::kConnectionLost:
    case StorageFault::kReplyLost:
      if (op == BackendOp::kCommit) {
        return {ErrorCode::kUnknownOutcome,
                fmt::format("server closed the connection during COMMIT ({})", where)};
      }
      return {ErrorCode::kUnavailable,
              fmt::format("server closed the connection unexpectedly ({})", where)};
    case StorageFault::kIoError:
      // SQLite answers SQLITE_IOERR as busy is answered; at the commit (the
      // sync) the runner reads any error but busy as an unknown outcome.
      return {op == BackendOp::kCommit ? ErrorCode::kInternal : ErrorCode::kUnavailable,
              fmt::format("disk I/O error ({})", where)};
    case StorageFault::kDiskFull:
      return {ErrorCode::kResourceExhausted, fmt::format("database or disk is full ({})", where)};
    case StorageFault::kCorrupt:
      return {ErrorCode::kDataLoss, fmt::format("database disk image is malformed ({})", where)};
  }
  return {ErrorCode::kInternal, where};
}

std::optional<BackendFault> FaultBackend::Ask(BackendOp op) {
  ++calls_;
  auto fault = hook_ ? hook_(op, calls_) : std::nullopt;
  if (fault) ++injected_;
  return fault;
}

template <typename F>
auto FaultBackend::Call(BackendOp op, F call) -> decltype(call()) {
  auto fault = Ask(op);
  if (!fault) return call();
  LAB_MARK(kStorageFaultInjected);
  return std::unexpected(StorageFaultError(fault->fault, op));
}

Result<void> FaultBackend::BeginWrite() {
  return Call(BackendOp::kBegin, [&] { return inner_->BeginWrite(); });
}

Result<void> FaultBackend::CommitWrite() {
  auto fault = Ask(BackendOp::kCommit);
  if (!fault) return inner_->CommitWrite();
  LAB_MARK(kStorageFaultInjected);
  const bool applied = fault->fault == StorageFault::kReplyLost ||
                       (fault->applied && OutcomeUnknownAtCommit(fault->fault));
  if (applied) {
    // Durable now; only the answer is lost. The runner's rollback that
    // follows finds nothing open.
    LAB_RETURN_IF_ERROR(inner_->CommitWrite());
    LAB_MARK(kReplyLost);
  }
  // Not applied: the transaction stays open for the runner to roll back.
  return std::unexpected(StorageFaultError(fault->fault, BackendOp::kCommit));
}

template <typename F>
Result<void> FaultBackend::UndoThenFail(BackendOp op, F undo) {
  auto fault = Ask(op);
  auto undone = undo();
  if (!fault || !undone) return undone;
  // The undo happened; its answer says it failed, so the runner must treat
  // the handle's state as unknown.
  LAB_MARK(kStorageFaultInjected);
  return std::unexpected(StorageFaultError(fault->fault, op));
}

Result<void> FaultBackend::Rollback() {
  return UndoThenFail(BackendOp::kRollback, [&] { return inner_->Rollback(); });
}

Result<void> FaultBackend::Savepoint() {
  return Call(BackendOp::kSavepoint, [&] { return inner_->Savepoint(); });
}
Result<void> FaultBackend::ReleaseSavepoint() {
  return Call(BackendOp::kSavepoint, [&] { return inner_->ReleaseSavepoint(); });
}
Result<void> FaultBackend::RollbackToSavepoint() {
  return UndoThenFail(BackendOp::kSavepoint, [&] { return inner_->RollbackToSavepoint(); });
}
Result<void> FaultBackend::Reopen() {
  return Call(BackendOp::kReopen, [&] { return inner_->Reopen(); });
}

Result<std::optional<Job>> FaultBackend::LoadJob(JobId id) {
  return Call(BackendOp::kRead, [&] { return inner_->LoadJob(id); });
}
Result<std::optional<Job>> FaultBackend::LoadJobByKey(const std::string& queue,
                                                      const std::string& key) {
  return Call(BackendOp::kRead, [&] { return inner_->LoadJobByKey(queue, key); });
}
Result<std::optional<Execution>> FaultBackend::LoadExecution(ExecutionId id) {
  return Call(BackendOp::kRead, [&] { return inner_->LoadExecution(id); });
}
Result<std::vector<Job>> FaultBackend::LoadClaimable(const std::string& queue, TimeMs now,
                                                     int limit) {
  return Call(BackendOp::kRead, [&] { return inner_->LoadClaimable(queue, now, limit); });
}
Result<std::vector<Execution>> FaultBackend::LoadExpired(ExecState state, TimeMs now) {
  return Call(BackendOp::kRead, [&] { return inner_->LoadExpired(state, now); });
}
Result<std::optional<ExecutionId>> FaultBackend::FindCommitted(JobId job, ExecutionId other_than) {
  return Call(BackendOp::kRead, [&] { return inner_->FindCommitted(job, other_than); });
}
Result<JobId> FaultBackend::InsertJob(const Job& job) {
  return Call(BackendOp::kWrite, [&] { return inner_->InsertJob(job); });
}
Result<ExecutionId> FaultBackend::InsertExecution(const Execution& exec) {
  return Call(BackendOp::kWrite, [&] { return inner_->InsertExecution(exec); });
}
Result<void> FaultBackend::SaveJob(const Job& job) {
  return Call(BackendOp::kWrite, [&] { return inner_->SaveJob(job); });
}
Result<void> FaultBackend::SaveExecution(const Execution& exec) {
  return Call(BackendOp::kWrite, [&] { return inner_->SaveExecution(exec); });
}
Result<void> FaultBackend::InsertEffect(const EffectRecord& effect) {
  return Call(BackendOp::kWrite, [&] { return inner_->InsertEffect(effect); });
}
Result<std::optional<EffectRecord>> FaultBackend::LoadEffect(int64_t id) {
  return Call(BackendOp::kRead, [&] { return inner_->LoadEffect(id); });
}
Result<std::vector<EffectRecord>> FaultBackend::LoadOutbox(int limit) {
  return Call(BackendOp::kRead, [&] { return inner_->LoadOutbox(limit); });
}
Result<void> FaultBackend::SaveDelivery(const EffectRecord& effect) {
  return Call(BackendOp::kWrite, [&] { return inner_->SaveDelivery(effect); });
}
Result<void> FaultBackend::AppendAudit(const AuditEntry& entry) {
  return Call(BackendOp::kWrite, [&] { return inner_->AppendAudit(entry); });
}
Result<Snapshot> FaultBackend::LoadSnapshot() {
  return Call(BackendOp::kRead, [&] { return inner_->LoadSnapshot(); });
}
Result<std::vector<JobId>> FaultBackend::LoadFinished(TimeMs cutoff, int limit) {
  return Call(BackendOp::kRead, [&] { return inner_->LoadFinished(cutoff, limit); });
}
Result<NewestIds> FaultBackend::LoadNewestIds() {
  return Call(BackendOp::kRead, [&] { return inner_->LoadNewestIds(); });
}
Result<PruneResult> FaultBackend::DeleteJobs(std::span<const JobId> jobs) {
  return Call(BackendOp::kWrite, [&] { return inner_->DeleteJobs(jobs); });
}
Result<std::vector<Job>> FaultBackend::LoadJobs(const JobFilter& filter) {
  return Call(BackendOp::kRead, [&] { return inner_->LoadJobs(filter); });
}
Result<JobDetail> FaultBackend::LoadJobRecords(JobId job) {
  return Call(BackendOp::kRead, [&] { return inner_->LoadJobRecords(job); });
}
Result<std::vector<StateCount>> FaultBackend::LoadCounts() {
  return Call(BackendOp::kRead, [&] { return inner_->LoadCounts(); });
}
Result<int64_t> FaultBackend::LoadQueueLimit(const std::string& queue) {
  return Call(BackendOp::kRead, [&] { return inner_->LoadQueueLimit(queue); });
}
Result<void> FaultBackend::SaveQueueLimit(const QueueLimit& limit) {
  return Call(BackendOp::kWrite, [&] { return inner_->SaveQueueLimit(limit); });
}
Result<std::vector<QueueLimit>> FaultBackend::LoadQueueLimits() {
  return Call(BackendOp::kRead, [&] { return inner_->LoadQueueLimits(); });
}
Result<int64_t> FaultBackend::CountOpen(const std::string& queue, int64_t cap) {
  return Call(BackendOp::kRead, [&] { return inner_->CountOpen(queue, cap); });
}

BackendFaultHook FailOnce(int64_t n, BackendFault fault) {
  return [n, fault](BackendOp, int64_t i) -> std::optional<BackendFault> {
    if (i == n) return fault;
    return std::nullopt;
  };
}

BackendFaultHook FailFrom(int64_t n, BackendFault fault) {
  return [n, fault](BackendOp, int64_t i) -> std::optional<BackendFault> {
    if (i >= n) return fault;
    return std::nullopt;
  };
}

}  // namespace lab
