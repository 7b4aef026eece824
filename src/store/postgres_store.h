// PostgresBackend: the engine for many workers on many machines.
//
// The same rules as every store (record_store.h), over libpq. Every
// operation is one transaction; the rows it decides on are locked FOR
// UPDATE, so fencing and the commit boundary are judged on rows no other
// transaction can change meanwhile. Claims use FOR UPDATE SKIP LOCKED, so
// concurrent workers never wait on each other's jobs. The ledger's
// UNIQUE(job_id) is the commit boundary's last line in SQL. Errors map by
// SQLSTATE; a lost connection at COMMIT is kUnknownOutcome (and the handle
// fail-stops, see store.h); elsewhere it is kUnavailable and the next call
// reconnects. Schema versioned in lab_meta. Thread-safety: one thread at a
// time per handle.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "store/migration.h"
#include "store/record_store.h"

struct pg_conn;

namespace lab {

struct PostgresOptions {
  std::string conninfo;        // A libpq URL or key=value string; PG* env vars fill gaps.
  std::string schema = "lab";  // All tables live in this schema.
  std::span<const Migration> migrations;  // Empty: this build's (PostgresBackend::Migrations()).
  // False: a schema without the lab's tables is kNotFound and nothing is
  // created (commands that only read).
  bool create = true;
  StoreOptions store;
};

class PostgresBackend final : public StoreBackend {
 public:
  // This build's schema steps, recorded in <schema>.lab_meta. Steps may use
  // {s} for the schema name.
  static std::span<const Migration> Migrations();

  int64_t reconnects() const override;
  // A new, empty schema (kFailedPrecondition if the name is taken), and its
  // removal with everything in it: for runs that need a store of their own.
  static Result<void> CreateEmptySchema(const std::string& conninfo, const std::string& schema);
  static Result<void> DropSchema(const std::string& conninfo, const std::string& schema);
  static Result<std::unique_ptr<PostgresBackend>> Open(const PostgresOptions& options);
  ~PostgresBackend() override;

  Result<void> BeginWrite() override;
  Result<void> CommitWrite() override;
  Result<void> Rollback() override;
  Result<void> Savepoint() override;
  Result<void> ReleaseSavepoint() override;
  Result<void> RollbackToSavepoint() override;
  // A new connection (the server rolled back anything the old one had open).
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

 private:
  class Conn;
  explicit PostgresBackend(std::unique_ptr<Conn> conn);
  Result<void> PrepareSchema(const std::string& schema, std::span<const Migration> steps,
                             bool create);
  // Runs `body` in one read-only REPEATABLE READ transaction.
  template <typename T>
  Result<T> ReadTxn(const std::function<Result<T>()>& body);

  std::unique_ptr<Conn> conn_;
};

// A store on a PostgreSQL schema (see above).
Result<std::unique_ptr<RecordStore>> OpenPostgresStore(const PostgresOptions& options,
                                                       Clock& clock);

}  // namespace lab
