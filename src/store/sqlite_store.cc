#include "store/sqlite_store.h"

#include <fmt/core.h>

#include "core/assert.h"
#include "core/marks.h"
#include "store/row_codec.h"

namespace lab {
namespace {

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  queue TEXT NOT NULL,
  key TEXT,
  payload TEXT NOT NULL,
  priority INTEGER NOT NULL,
  run_at_ms INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  attempts_at_redrive INTEGER NOT NULL,
  state TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  UNIQUE (queue, key)
);
CREATE INDEX jobs_ready ON jobs (queue, state, priority DESC, run_at_ms, id);
CREATE TABLE executions (
  id INTEGER PRIMARY KEY,
  job_id INTEGER NOT NULL REFERENCES jobs (id),
  attempt INTEGER NOT NULL,
  worker TEXT NOT NULL,
  state TEXT NOT NULL,
  leased_at_ms INTEGER NOT NULL,
  lease_expires_at_ms INTEGER NOT NULL,
  ended_at_ms INTEGER NOT NULL,
  reason TEXT NOT NULL,
  UNIQUE (job_id, attempt)
);
CREATE INDEX executions_by_state ON executions (state, lease_expires_at_ms);
CREATE INDEX executions_by_job ON executions (job_id);
CREATE TABLE effects (
  id INTEGER PRIMARY KEY,
  job_id INTEGER NOT NULL UNIQUE REFERENCES jobs (id),
  execution_id INTEGER NOT NULL REFERENCES executions (id),
  key TEXT NOT NULL,
  payload TEXT NOT NULL,
  applied_at_ms INTEGER NOT NULL
);
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  job_id INTEGER NOT NULL,
  execution_id INTEGER NOT NULL,
  event TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX audit_by_job ON audit (job_id, seq);
)sql";

// A per-job limit on how long one attempt may run.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE jobs ADD COLUMN timeout_ms INTEGER NOT NULL DEFAULT 0;
)sql";

// Retention: when each job finished, indexed over finished jobs only. Jobs
// finished before this version take their last audited moment. And one
// index fewer to write: UNIQUE (job_id, attempt) already finds a job's
// executions.
constexpr const char* kSchemaV3 = R"sql(
ALTER TABLE jobs ADD COLUMN finished_at_ms INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET finished_at_ms =
  coalesce((SELECT max(at_ms) FROM audit WHERE audit.job_id = jobs.id), created_at_ms)
  WHERE state IN ('SUCCEEDED', 'DEAD');
CREATE INDEX jobs_finished ON jobs (finished_at_ms) WHERE state IN ('SUCCEEDED', 'DEAD');
DROP INDEX executions_by_job;
)sql";

// Admission control: a job's deadline, a queue's depth limit, and EXPIRED
// among the finished states that retention finds.
constexpr const char* kSchemaV4 = R"sql(
ALTER TABLE jobs ADD COLUMN deadline_at_ms INTEGER NOT NULL DEFAULT 0;
CREATE TABLE queues (name TEXT PRIMARY KEY, max_depth INTEGER NOT NULL) WITHOUT ROWID;
DROP INDEX jobs_finished;
CREATE INDEX jobs_finished ON jobs (finished_at_ms) WHERE state IN ('SUCCEEDED', 'DEAD', 'EXPIRED');
)sql";

// The outbox (DESIGN's third effect shape): whether each ledger effect is
// an intent a relay delivers, and when its receiver acknowledged it. The
// relay's read scans the ledger (retention keeps it short): an index of
// the pending effects adds a page to every new file, which moves where
// FM_011's failed sync falls in the log and hides the hole it reproduces
// (an issue of its own: that scenario depends on the log's layout).
constexpr const char* kSchemaV5 = R"sql(
ALTER TABLE effects ADD COLUMN delivery TEXT NOT NULL DEFAULT 'none';
ALTER TABLE effects ADD COLUMN delivered_at_ms INTEGER NOT NULL DEFAULT 0;
)sql";

// Steps `stmt` to the end, decoding every row.
template <typename T>
Result<std::vector<T>> QueryRows(Statement& stmt, Result<T> (*decode)(const Statement&)) {
  std::vector<T> out;
  while (true) {
    LAB_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    LAB_ASSIGN_OR_RETURN(T value, decode(stmt));
    out.push_back(std::move(value));
  }
  stmt.Reset();
  return out;
}

constexpr auto kJob = &JobFromRow<Statement>;
constexpr auto kExec = &ExecutionFromRow<Statement>;
constexpr auto kEffect = &EffectFromRow<Statement>;
constexpr auto kAudit = &AuditFromRow<Statement>;
constexpr auto kCount = &CountFromRow<Statement>;
constexpr auto kQueueLimit = &QueueLimitFromRow<Statement>;
constexpr auto kId = &IdFromRow<Statement>;
constexpr auto kNewestIds = &NewestIdsFromRow<Statement>;

// Binds every job column except id, starting at parameter `first`.
void BindJob(Statement& s, const Job& j, int first) {
  s.Bind(first, j.queue);
  if (j.key) {
    s.Bind(first + 1, *j.key);
  } else {
    s.BindNull(first + 1);
  }
  s.Bind(first + 2, j.payload)
      .Bind(first + 3, int64_t{j.priority})
      .Bind(first + 4, j.run_at_ms)
      .Bind(first + 5, int64_t{j.max_attempts})
      .Bind(first + 6, int64_t{j.attempts})
      .Bind(first + 7, int64_t{j.attempts_at_redrive})
      .Bind(first + 8, ToString(j.state))
      .Bind(first + 9, j.created_at_ms)
      .Bind(first + 10, j.last_error)
      .Bind(first + 11, j.timeout_ms)
      .Bind(first + 12, j.finished_at_ms)
      .Bind(first + 13, j.deadline_at_ms);
}

void BindExecution(Statement& s, const Execution& e, int first) {
  s.Bind(first, e.job_id)
      .Bind(first + 1, int64_t{e.attempt})
      .Bind(first + 2, e.worker)
      .Bind(first + 3, ToString(e.state))
      .Bind(first + 4, e.leased_at_ms)
      .Bind(first + 5, e.lease_expires_at_ms)
      .Bind(first + 6, e.ended_at_ms)
      .Bind(first + 7, e.reason);
}

}  // namespace

Result<std::unique_ptr<SqliteDb>> SqliteBackend::Connect(const SqliteOptions& options) {
  if (options.path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "sqlite store needs a file path");
  }
  if (options.synchronous != "FULL" && options.synchronous != "EXTRA" &&
      options.synchronous != "NORMAL") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "synchronous must be FULL, EXTRA or NORMAL, got " + options.synchronous);
  }
  const char* vfs = options.vfs.empty() ? nullptr : options.vfs.c_str();
  LAB_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(options.path, vfs, options.create));
  LAB_RETURN_IF_ERROR(db->Exec(fmt::format("PRAGMA busy_timeout = {}", options.busy_timeout_ms)));
  LAB_RETURN_IF_ERROR(PrepareSchema(
      *db, options.path, options.migrations.empty() ? Migrations() : options.migrations));
  LAB_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous = " + options.synchronous));
  LAB_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys = ON"));
  // Savepoints (every call of a group commit runs in one) keep the pages
  // they change in a statement journal; in a temporary file that cost two
  // write syscalls a page, 31 a job in a batched bench run (1.5 million for
  // 50,000 jobs). In memory it costs none, and it holds only the pages one
  // transaction changed. Durability is untouched: the WAL is the journal.
  LAB_RETURN_IF_ERROR(db->Exec("PRAGMA temp_store = MEMORY"));
  return db;
}

Result<std::unique_ptr<SqliteBackend>> SqliteBackend::Open(const SqliteOptions& options) {
  LAB_ASSIGN_OR_RETURN(auto db, Connect(options));
  // The file may be new: its directory entry must be durable before the
  // first acknowledgement, or a power loss can take the whole file.
  if (options.create) LAB_RETURN_IF_ERROR(db->SyncDirectory(options.path));
  auto backend = std::unique_ptr<SqliteBackend>(new SqliteBackend(std::move(db), options));
  // A reopen takes the schema as it is now; it never migrates again.
  backend->options_.create = false;
  return backend;
}

Result<void> SqliteBackend::Reopen() {
  LAB_ASSIGN_OR_RETURN(auto db, Connect(options_));
  // The new connection is made before the old one closes, so closing the
  // old one is never the last close (which would checkpoint by itself).
  db_ = std::move(db);
  if (!options_.recover_log_on_reopen) return {};
  // Row: busy (1 when a reader kept the checkpoint from finishing), pages
  // in the log, pages copied. Anything short of a whole checkpoint leaves
  // the handle unusable: the caller reopens again later.
  LAB_ASSIGN_OR_RETURN(Statement * checkpoint, db_->Prepare("PRAGMA wal_checkpoint(TRUNCATE)"));
  auto row = checkpoint->Step();
  const bool whole = row && *row && checkpoint->Int(0) == 0;
  checkpoint->Reset();
  if (!row) return std::unexpected(row.error());
  if (!whole) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("'{}': the log could not be folded into the database after a "
                                 "failure (another connection is reading it); try again",
                                 options_.path));
  }
  LAB_MARK(kLogRecovered);
  return {};
}

Result<void> SqliteBackend::CheckIntegrity() {
  LAB_ASSIGN_OR_RETURN(Statement * check, db_->Prepare("PRAGMA integrity_check"));
  LAB_ASSIGN_OR_RETURN(bool row, check->Step());
  const std::string verdict = row ? check->Text(0) : "no answer";
  check->Reset();
  if (verdict == "ok") return {};
  return MakeError(ErrorCode::kDataLoss,
                   fmt::format("'{}' failed its integrity check: {}", options_.path, verdict));
}

Result<std::unique_ptr<RecordStore>> OpenSqliteStore(const SqliteOptions& options, Clock& clock) {
  LAB_ASSIGN_OR_RETURN(std::shared_ptr<SqliteBackend> backend, SqliteBackend::Open(options));
  return std::make_unique<RecordStore>(std::move(backend), clock, options.store);
}

Result<void> SqliteBackend::SwitchToWal(SqliteDb& db, const std::string& path) {
  // Switching a file to WAL needs every other connection out of it, and
  // SQLite does not wait for that itself (it answers busy at once). BEGIN
  // EXCLUSIVE does wait, through the busy timeout: take it, let it go, try
  // again. Only a new file, opened by several processes at once, gets here.
  constexpr int kTries = 100;
  for (int attempt = 1;; ++attempt) {
    LAB_ASSIGN_OR_RETURN(Statement * wal, db.Prepare("PRAGMA journal_mode = WAL"));
    auto row = wal->Step();
    const std::string mode = row && *row ? wal->Text(0) : "";
    wal->Reset();
    if (row && mode == "wal") return {};
    if (row) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       fmt::format("'{}': cannot switch to WAL mode (got '{}')", path, mode));
    }
    if (row.error().code != ErrorCode::kUnavailable || attempt == kTries) {
      return std::unexpected(row.error());
    }
    if (db.Exec("BEGIN EXCLUSIVE")) (void)db.Exec("ROLLBACK");
  }
}

namespace {

// What a file says about itself: read in one transaction, so the three
// reads agree even while another process creates or migrates the schema.
struct FileState {
  int64_t app_id = 0;
  int64_t version = 0;
  int64_t objects = 0;
};

Result<FileState> ReadFileState(SqliteDb& db, const std::string& path) {
  FileState state;
  auto app_id = db.QueryInt("PRAGMA application_id");
  if (!app_id) {
    return MakeError(app_id.error().code, fmt::format("'{}' is not a readable lab database: {}",
                                                      path, app_id.error().message));
  }
  state.app_id = *app_id;
  LAB_ASSIGN_OR_RETURN(state.version, db.QueryInt("PRAGMA user_version"));
  LAB_ASSIGN_OR_RETURN(state.objects, db.QueryInt("SELECT count(*) FROM sqlite_master"));
  return state;
}

// Whether the file is at `latest` (true) or needs the steps above its
// version (false); an error if it must not be touched.
Result<bool> CheckFileState(const FileState& state, int latest, const std::string& path) {
  if (state.objects > 0 && state.app_id != SqliteBackend::kApplicationId) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("'{}' is a SQLite database of another application "
                                 "(application_id {}); refusing to touch it",
                                 path, state.app_id));
  }
  if (state.version > latest) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("'{}' has schema version {}, newer than this build supports "
                                 "({}); upgrade lab to open it",
                                 path, state.version, latest));
  }
  if (state.objects > 0 && state.version == 0) {
    return MakeError(ErrorCode::kDataLoss,
                     fmt::format("'{}' is a lab database without a schema version", path));
  }
  return state.objects > 0 && state.version == latest;
}

}  // namespace

std::span<const Migration> SqliteBackend::Migrations() {
  static constexpr Migration kSteps[] = {
      {1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3}, {4, kSchemaV4}, {5, kSchemaV5}};
  return kSteps;
}

Result<void> SqliteBackend::PrepareSchema(SqliteDb& db, const std::string& path,
                                          std::span<const Migration> steps) {
  const int latest = LatestVersion(steps);
  // Read-only checks first: nothing is written until the file is known to
  // be empty or ours at a version we understand.
  LAB_RETURN_IF_ERROR(db.Exec("BEGIN"));
  auto seen = ReadFileState(db, path);
  (void)db.Exec("COMMIT");  // Read-only: nothing to lose if it fails.
  if (!seen) return std::unexpected(seen.error());
  LAB_ASSIGN_OR_RETURN(bool current, CheckFileState(*seen, latest, path));
  // WAL first, so schema changes are themselves written through the WAL.
  LAB_RETURN_IF_ERROR(SwitchToWal(db, path));
  if (current) return {};
  // Under the write lock, look again: another process may have created or
  // migrated the schema since (several workers starting at once).
  LAB_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto migrated = [&]() -> Result<bool> {
    LAB_ASSIGN_OR_RETURN(FileState now, ReadFileState(db, path));
    LAB_ASSIGN_OR_RETURN(bool done, CheckFileState(now, latest, path));
    if (done) return false;
    for (const Migration& step : steps) {
      if (step.version > now.version) LAB_RETURN_IF_ERROR(db.Exec(std::string(step.sql)));
    }
    LAB_RETURN_IF_ERROR(db.Exec(fmt::format("PRAGMA application_id = {}", kApplicationId)));
    LAB_RETURN_IF_ERROR(db.Exec(fmt::format("PRAGMA user_version = {}", latest)));
    return true;
  }();
  if (!migrated || !*migrated) {
    (void)db.Exec("ROLLBACK");  // Best effort; the migration's error is what matters.
    if (!migrated) return std::unexpected(migrated.error());
    return {};
  }
  return db.Exec("COMMIT");
}

Result<void> SqliteBackend::BeginWrite() { return db_->Exec("BEGIN IMMEDIATE"); }

Result<void> SqliteBackend::CommitWrite() {
  auto result = db_->Exec("COMMIT");
  if (!result && result.error().code == ErrorCode::kUnavailable &&
      sqlite3_get_autocommit(db_->raw()) == 0) {
    // SQLITE_BUSY on COMMIT leaves the transaction open and unwritten.
    return result;
  }
  // SQLITE_FULL: the log could not take the transaction, so its commit
  // record was never written; SQLite rolls it back.
  if (!result && result.error().code == ErrorCode::kResourceExhausted) return result;
  if (!result) return MakeError(ErrorCode::kInternal, result.error().message);
  return {};
}

Result<void> SqliteBackend::Rollback() {
  if (sqlite3_get_autocommit(db_->raw()) != 0) return {};  // SQLite already rolled back.
  return db_->Exec("ROLLBACK");
}

Result<void> SqliteBackend::Savepoint() { return db_->Exec("SAVEPOINT op"); }

Result<void> SqliteBackend::ReleaseSavepoint() { return db_->Exec("RELEASE SAVEPOINT op"); }

Result<void> SqliteBackend::RollbackToSavepoint() {
  LAB_RETURN_IF_ERROR(db_->Exec("ROLLBACK TO SAVEPOINT op"));
  return ReleaseSavepoint();
}

Result<std::optional<Job>> SqliteBackend::LoadJob(JobId id) {
  LAB_ASSIGN_OR_RETURN(Statement * s,
                       db_->Prepare(fmt::format("SELECT {} FROM jobs WHERE id = ?1", kJobColumns)));
  s->Bind(1, id);
  LAB_ASSIGN_OR_RETURN(auto jobs, QueryRows(*s, kJob));
  if (jobs.empty()) return std::optional<Job>();
  return std::optional<Job>(std::move(jobs.front()));
}

Result<std::optional<Job>> SqliteBackend::LoadJobByKey(const std::string& queue,
                                                       const std::string& key) {
  LAB_ASSIGN_OR_RETURN(
      Statement * s,
      db_->Prepare(fmt::format("SELECT {} FROM jobs WHERE queue = ?1 AND key = ?2", kJobColumns)));
  s->Bind(1, queue).Bind(2, key);
  LAB_ASSIGN_OR_RETURN(auto jobs, QueryRows(*s, kJob));
  if (jobs.empty()) return std::optional<Job>();
  return std::optional<Job>(std::move(jobs.front()));
}

Result<std::optional<Execution>> SqliteBackend::LoadExecution(ExecutionId id) {
  LAB_ASSIGN_OR_RETURN(
      Statement * s,
      db_->Prepare(fmt::format("SELECT {} FROM executions WHERE id = ?1", kExecColumns)));
  s->Bind(1, id);
  LAB_ASSIGN_OR_RETURN(auto execs, QueryRows(*s, kExec));
  if (execs.empty()) return std::optional<Execution>();
  return std::optional<Execution>(std::move(execs.front()));
}

Result<std::vector<Job>> SqliteBackend::LoadClaimable(const std::string& queue, TimeMs now,
                                                      int limit) {
  LAB_ASSIGN_OR_RETURN(Statement * s,
                       db_->Prepare(fmt::format("SELECT {} FROM jobs WHERE queue = ?1 AND "
                                                "state = 'PENDING' AND run_at_ms <= ?2 "
                                                "ORDER BY priority DESC, run_at_ms, id LIMIT ?3",
                                                kJobColumns)));
  s->Bind(1, queue).Bind(2, now).Bind(3, int64_t{limit});
  return QueryRows(*s, kJob);
}

Result<std::vector<Execution>> SqliteBackend::LoadExpired(ExecState state, TimeMs now) {
  LAB_ASSIGN_OR_RETURN(Statement * s,
                       db_->Prepare(fmt::format("SELECT {} FROM executions WHERE state = ?1 AND "
                                                "lease_expires_at_ms <= ?2 ORDER BY id",
                                                kExecColumns)));
  s->Bind(1, ToString(state)).Bind(2, now);
  return QueryRows(*s, kExec);
}

Result<std::optional<ExecutionId>> SqliteBackend::FindCommitted(JobId job, ExecutionId other_than) {
  LAB_ASSIGN_OR_RETURN(Statement * s,
                       db_->Prepare("SELECT id FROM executions WHERE job_id = ?1 AND id != ?2 "
                                    "AND state IN ('COMMITTED', 'DONE') ORDER BY id LIMIT 1"));
  s->Bind(1, job).Bind(2, other_than);
  LAB_ASSIGN_OR_RETURN(bool row, s->Step());
  std::optional<ExecutionId> found;
  if (row) found = s->Int(0);
  s->Reset();
  return found;
}

Result<JobId> SqliteBackend::InsertJob(const Job& job) {
  LAB_ASSIGN_OR_RETURN(Statement * s,
                       db_->Prepare("INSERT INTO jobs (queue, key, payload, priority, run_at_ms, "
                                    "max_attempts, attempts, attempts_at_redrive, state, "
                                    "created_at_ms, last_error, timeout_ms, finished_at_ms, "
                                    "deadline_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                                    "?10, ?11, ?12, ?13, ?14)"));
  BindJob(*s, job, 1);
  LAB_RETURN_IF_ERROR(s->Run());
  return db_->LastInsertRowId();
}

Result<ExecutionId> SqliteBackend::InsertExecution(const Execution& exec) {
  LAB_ASSIGN_OR_RETURN(Statement * s,
                       db_->Prepare("INSERT INTO executions (job_id, attempt, worker, state, "
                                    "leased_at_ms, lease_expires_at_ms, ended_at_ms, reason) "
                                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  BindExecution(*s, exec, 1);
  LAB_RETURN_IF_ERROR(s->Run());
  return db_->LastInsertRowId();
}

Result<void> SqliteBackend::SaveJob(const Job& job) {
  LAB_ASSIGN_OR_RETURN(Statement * s,
                       db_->Prepare("UPDATE jobs SET state = ?1, attempts = ?2, "
                                    "attempts_at_redrive = ?3, run_at_ms = ?4, last_error = ?5, "
                                    "finished_at_ms = ?6 WHERE id = ?7"));
  s->Bind(1, ToString(job.state))
      .Bind(2, int64_t{job.attempts})
      .Bind(3, int64_t{job.attempts_at_redrive})
      .Bind(4, job.run_at_ms)
      .Bind(5, job.last_error)
      .Bind(6, job.finished_at_ms)
      .Bind(7, job.id);
  LAB_RETURN_IF_ERROR(s->Run());
  LAB_ASSERT(sqlite3_changes(db_->raw()) == 1);
  return {};
}

Result<void> SqliteBackend::SaveExecution(const Execution& exec) {
  // The fencing token is part of the row's identity, a second time below
  // the rules: the update matches only the execution holding this attempt.
  LAB_ASSIGN_OR_RETURN(
      Statement * s, db_->Prepare("UPDATE executions SET state = ?1, lease_expires_at_ms = ?2, "
                                  "ended_at_ms = ?3, reason = ?4 WHERE id = ?5 AND attempt = ?6"));
  s->Bind(1, ToString(exec.state))
      .Bind(2, exec.lease_expires_at_ms)
      .Bind(3, exec.ended_at_ms)
      .Bind(4, exec.reason)
      .Bind(5, exec.id)
      .Bind(6, int64_t{exec.attempt});
  LAB_RETURN_IF_ERROR(s->Run());
  if (sqlite3_changes(db_->raw()) != 1) return NotHeldError(exec);
  return {};
}

Result<void> SqliteBackend::InsertEffect(const EffectRecord& e) {
  LAB_ASSIGN_OR_RETURN(Statement * s,
                       db_->Prepare("INSERT INTO effects (job_id, execution_id, key, payload, "
                                    "applied_at_ms, delivery, delivered_at_ms) VALUES "
                                    "(?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  s->Bind(1, e.job_id)
      .Bind(2, e.execution_id)
      .Bind(3, e.key)
      .Bind(4, e.payload)
      .Bind(5, e.applied_at_ms)
      .Bind(6, ToString(e.delivery))
      .Bind(7, e.delivered_at_ms);
  return s->Run();
}

Result<std::optional<EffectRecord>> SqliteBackend::LoadEffect(int64_t id) {
  LAB_ASSIGN_OR_RETURN(Statement * s, db_->Prepare(fmt::format(
                                          "SELECT {} FROM effects WHERE id = ?1", kEffectColumns)));
  LAB_ASSIGN_OR_RETURN(auto rows, QueryRows(s->Bind(1, id), kEffect));
  if (rows.empty()) return std::optional<EffectRecord>();
  return std::optional<EffectRecord>(std::move(rows.front()));
}

Result<std::vector<EffectRecord>> SqliteBackend::LoadOutbox(int limit) {
  LAB_ASSIGN_OR_RETURN(Statement * s,
                       db_->Prepare(fmt::format(kOutboxSql, kEffectColumns, "", "?")));
  return QueryRows(s->Bind(1, int64_t{limit}), kEffect);
}

Result<void> SqliteBackend::SaveDelivery(const EffectRecord& e) {
  LAB_ASSIGN_OR_RETURN(
      Statement * s,
      db_->Prepare("UPDATE effects SET delivery = ?1, delivered_at_ms = ?2 WHERE id = ?3"));
  s->Bind(1, ToString(e.delivery)).Bind(2, e.delivered_at_ms).Bind(3, e.id);
  return s->Run();
}

Result<void> SqliteBackend::AppendAudit(const AuditEntry& a) {
  LAB_ASSIGN_OR_RETURN(Statement * s,
                       db_->Prepare("INSERT INTO audit (at_ms, job_id, execution_id, event, "
                                    "from_state, to_state, detail) VALUES "
                                    "(?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  s->Bind(1, a.at_ms)
      .Bind(2, a.job_id)
      .Bind(3, a.execution_id)
      .Bind(4, ToString(a.event))
      .Bind(5, a.from)
      .Bind(6, a.to)
      .Bind(7, a.detail);
  return s->Run();
}

Result<std::vector<Job>> SqliteBackend::LoadJobs(const JobFilter& filter) {
  LAB_ASSIGN_OR_RETURN(Statement * s,
                       db_->Prepare(fmt::format("SELECT {} FROM jobs WHERE (?1 IS NULL OR queue = "
                                                "?1) AND (?2 IS NULL OR state = ?2) AND (?4 IS "
                                                "NULL OR (state IN {} AND finished_at_ms >= ?4)) "
                                                "ORDER BY id LIMIT ?3",
                                                kJobColumns, kFinishedStatesSql)));
  if (filter.queue) s->Bind(1, *filter.queue);
  if (filter.state) s->Bind(2, ToString(*filter.state));
  s->Bind(3, int64_t{filter.limit});
  if (filter.finished_since_ms) s->Bind(4, *filter.finished_since_ms);
  return QueryRows(*s, kJob);
}

Result<std::vector<JobId>> SqliteBackend::LoadFinished(TimeMs cutoff, int limit) {
  LAB_ASSIGN_OR_RETURN(
      Statement * s,
      db_->Prepare(fmt::format("SELECT id FROM jobs WHERE state IN {} AND "
                               "finished_at_ms <= ?1 AND {} ORDER BY "
                               "finished_at_ms, id LIMIT ?2",
                               kFinishedStatesSql, fmt::format(kNoPendingDeliverySql, ""))));
  s->Bind(1, cutoff).Bind(2, int64_t{limit});
  return QueryRows(*s, kId);
}

Result<NewestIds> SqliteBackend::LoadNewestIds() {
  LAB_ASSIGN_OR_RETURN(
      Statement * s,
      db_->Prepare("SELECT (SELECT max(id) FROM jobs), "
                   "(SELECT job_id FROM executions WHERE id = (SELECT max(id) FROM executions)), "
                   "(SELECT job_id FROM effects WHERE id = (SELECT max(id) FROM effects)), "
                   "(SELECT job_id FROM audit WHERE seq = (SELECT max(seq) FROM audit))"));
  LAB_ASSIGN_OR_RETURN(auto rows, QueryRows(*s, kNewestIds));
  return rows.front();
}

Result<PruneResult> SqliteBackend::DeleteJobs(std::span<const JobId> jobs) {
  PruneResult deleted;
  for (JobId job : jobs) {
    for (const PruneTable& t : kPruneTables) {
      LAB_ASSIGN_OR_RETURN(Statement * s, db_->Prepare(fmt::format("DELETE FROM {} WHERE {} = ?1",
                                                                   t.table, t.job_column)));
      LAB_RETURN_IF_ERROR(s->Bind(1, job).Run());
      deleted.*t.count += sqlite3_changes(db_->raw());
    }
  }
  return deleted;
}

template <typename T>
Result<T> SqliteBackend::ReadTxn(const std::function<Result<T>()>& body) {
  // One read transaction, so the tables read agree with each other.
  LAB_RETURN_IF_ERROR(db_->Exec("BEGIN"));
  Result<T> result = body();
  auto ended = db_->Exec("COMMIT");
  if (result && !ended) return std::unexpected(ended.error());
  return result;
}

Result<JobDetail> SqliteBackend::LoadJobRecords(JobId job) {
  return ReadTxn<JobDetail>([&]() -> Result<JobDetail> {
    JobDetail d;
    LAB_ASSIGN_OR_RETURN(
        Statement * execs,
        db_->Prepare(
            fmt::format("SELECT {} FROM executions WHERE job_id = ?1 ORDER BY id", kExecColumns)));
    LAB_ASSIGN_OR_RETURN(d.executions, QueryRows(execs->Bind(1, job), kExec));
    LAB_ASSIGN_OR_RETURN(
        Statement * effects,
        db_->Prepare(
            fmt::format("SELECT {} FROM effects WHERE job_id = ?1 ORDER BY id", kEffectColumns)));
    LAB_ASSIGN_OR_RETURN(d.effects, QueryRows(effects->Bind(1, job), kEffect));
    LAB_ASSIGN_OR_RETURN(
        Statement * audit,
        db_->Prepare(
            fmt::format("SELECT {} FROM audit WHERE job_id = ?1 ORDER BY seq", kAuditColumns)));
    LAB_ASSIGN_OR_RETURN(d.audit, QueryRows(audit->Bind(1, job), kAudit));
    return d;
  });
}

Result<std::vector<StateCount>> SqliteBackend::LoadCounts() {
  LAB_ASSIGN_OR_RETURN(
      Statement * s,
      db_->Prepare(fmt::format("SELECT {} FROM jobs GROUP BY queue, state", kCountColumns)));
  return QueryRows(*s, kCount);
}

Result<int64_t> SqliteBackend::LoadQueueLimit(const std::string& queue) {
  LAB_ASSIGN_OR_RETURN(Statement * s, db_->Prepare("SELECT max_depth FROM queues WHERE name = ?1"));
  LAB_ASSIGN_OR_RETURN(auto rows, QueryRows(s->Bind(1, queue), kId));
  return rows.empty() ? 0 : rows.front();
}

Result<void> SqliteBackend::SaveQueueLimit(const QueueLimit& limit) {
  if (limit.max_depth == 0) {
    LAB_ASSIGN_OR_RETURN(Statement * s, db_->Prepare("DELETE FROM queues WHERE name = ?1"));
    return s->Bind(1, limit.queue).Run();
  }
  LAB_ASSIGN_OR_RETURN(Statement * s,
                       db_->Prepare("INSERT INTO queues (name, max_depth) VALUES (?1, ?2) "
                                    "ON CONFLICT (name) DO UPDATE SET max_depth = ?2"));
  return s->Bind(1, limit.queue).Bind(2, limit.max_depth).Run();
}

Result<std::vector<QueueLimit>> SqliteBackend::LoadQueueLimits() {
  LAB_ASSIGN_OR_RETURN(
      Statement * s,
      db_->Prepare(fmt::format("SELECT {} FROM queues ORDER BY name", kQueueLimitColumns)));
  return QueryRows(*s, kQueueLimit);
}

Result<int64_t> SqliteBackend::CountOpen(const std::string& queue, int64_t cap) {
  LAB_ASSIGN_OR_RETURN(Statement * s, db_->Prepare(fmt::format(kCountOpenSql, "", "?", "?")));
  LAB_ASSIGN_OR_RETURN(auto rows, QueryRows(s->Bind(1, queue).Bind(2, cap), kId));
  return rows.front();
}

Result<Snapshot> SqliteBackend::LoadSnapshot() {
  return ReadTxn<Snapshot>([&]() -> Result<Snapshot> {
    Snapshot snap;
    LAB_ASSIGN_OR_RETURN(Statement * jobs,
                         db_->Prepare(fmt::format("SELECT {} FROM jobs ORDER BY id", kJobColumns)));
    LAB_ASSIGN_OR_RETURN(snap.jobs, QueryRows(*jobs, kJob));
    LAB_ASSIGN_OR_RETURN(
        Statement * execs,
        db_->Prepare(fmt::format("SELECT {} FROM executions ORDER BY id", kExecColumns)));
    LAB_ASSIGN_OR_RETURN(snap.executions, QueryRows(*execs, kExec));
    LAB_ASSIGN_OR_RETURN(
        Statement * effects,
        db_->Prepare(fmt::format("SELECT {} FROM effects ORDER BY id", kEffectColumns)));
    LAB_ASSIGN_OR_RETURN(snap.effects, QueryRows(*effects, kEffect));
    LAB_ASSIGN_OR_RETURN(
        Statement * audit,
        db_->Prepare(fmt::format("SELECT {} FROM audit ORDER BY seq", kAuditColumns)));
    LAB_ASSIGN_OR_RETURN(snap.audit, QueryRows(*audit, kAudit));
    return snap;
  });
}

}  // namespace lab
