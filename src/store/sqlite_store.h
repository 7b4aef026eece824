// SqliteBackend: the embedded default, a real SQLite file in WAL mode.
//
// Every operation is one BEGIN IMMEDIATE transaction; with synchronous=FULL
// (the default) a call that returned success has reached stable storage.
// The schema is versioned (PRAGMA user_version, application_id 'LABQ') and
// migrated on open (store/migration.h): opening a corrupt file, a file of another application, a
// newer schema, or a path that cannot be opened fails with a clear error and writes nothing. The
// VFS is chosen at open time, so the simulator can run this same code on a simulated disk.
// Thread-safety: one thread at a time per handle; many handles (threads, processes) may share one
// file.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "store/migration.h"
#include "store/record_store.h"
#include "store/sqlite_db.h"

namespace lab {

struct SqliteOptions {
  std::string path;
  std::string vfs;  // Empty: SQLite's default VFS.
  // FULL or EXTRA: every commit synced. NORMAL (WAL mode): commits are not
  // synced, so an acknowledged call survives a process crash but may be
  // lost with the machine's power; only on the caller's explicit choice.
  std::string synchronous = "FULL";
  int busy_timeout_ms = 5'000;
  // Reopen (after a fail-stop: a failed sync, an unknown commit) folds the
  // log into the database before the handle serves again: a TRUNCATE
  // checkpoint rewrites every logged page into the file, syncs it, and
  // starts an empty log. After a failed fsync the kernel may have forgotten
  // pages of the log that SQLite believes written; appending after them
  // would put acknowledged commits behind a hole that recovery stops at
  // (FM_011). False: reopen and carry on (the guard log_recovery off).
  bool recover_log_on_reopen = true;
  bool create = true;  // False: a missing file is kNotFound (read-only commands).       // Waits
                       // through the VFS's xSleep when another handle writes.
  std::span<const Migration> migrations;  // Empty: this build's (SqliteBackend::Migrations()).
  StoreOptions store;
};

class SqliteBackend final : public StoreBackend {
 public:
  static constexpr int64_t kApplicationId = 0x4C414251;  // 'LABQ'
  // This build's schema steps; the last one's version is PRAGMA user_version.
  static std::span<const Migration> Migrations();

  static Result<std::unique_ptr<SqliteBackend>> Open(const SqliteOptions& options);

  Result<void> BeginWrite() override;
  Result<void> CommitWrite() override;
  Result<void> Rollback() override;
  Result<void> Savepoint() override;
  Result<void> ReleaseSavepoint() override;
  Result<void> RollbackToSavepoint() override;
  // A new connection to the same file (the old one's page cache is gone).
  Result<void> Reopen() override;
  // PRAGMA integrity_check: kDataLoss with SQLite's first complaint unless
  // the file is whole.
  Result<void> CheckIntegrity() override;
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

 private:
  SqliteBackend(std::unique_ptr<SqliteDb> db, SqliteOptions options)
      : options_(std::move(options)), db_(std::move(db)) {}
  // A connection set up as every handle's is: pragmas, schema checked and
  // created or migrated.
  static Result<std::unique_ptr<SqliteDb>> Connect(const SqliteOptions& options);
  // Checks the file is ours and not newer, then creates or migrates the schema.
  static Result<void> PrepareSchema(SqliteDb& db, const std::string& path,
                                    std::span<const Migration> steps);
  static Result<void> SwitchToWal(SqliteDb& db, const std::string& path);
  // Runs `body` in one read transaction.
  template <typename T>
  Result<T> ReadTxn(const std::function<Result<T>()>& body);

  SqliteOptions options_;
  std::unique_ptr<SqliteDb> db_;
};

// A store on a SQLite file (see above).
Result<std::unique_ptr<RecordStore>> OpenSqliteStore(const SqliteOptions& options, Clock& clock);

}  // namespace lab
