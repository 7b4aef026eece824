#include "store/postgres_store.h"

#include <fmt/core.h>
#include <fmt/format.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

#include "core/assert.h"
#include "store/row_codec.h"

namespace lab {
namespace {

using Params = std::vector<std::optional<std::string>>;

constexpr const char* kDefaultConnectTimeoutS = "10";

// Maps a failed result by SQLSTATE to what the caller should do next.
Error PgError(PGconn* conn, const PGresult* res, std::string_view context) {
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  std::string message = PQerrorMessage(conn);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  ErrorCode code = ErrorCode::kInternal;
  // No SQLSTATE: libpq itself failed the call, before the server answered
  // (found by the crash test: after an immediate server shutdown the first
  // statement fails with "server closed the connection unexpectedly" while
  // the connection still reads as OK).
  if (PQstatus(conn) == CONNECTION_BAD || sqlstate.empty() || sqlstate.starts_with("08") ||
      sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
    code = ErrorCode::kUnavailable;  // Connection lost or server shutting down.
  } else if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") {
    code = ErrorCode::kUnavailable;  // Serialization failure, deadlock, lock timeout.
  } else if (sqlstate.starts_with("23")) {
    code = ErrorCode::kFailedPrecondition;  // Constraint violated.
  } else if (sqlstate == "53100") {
    code = ErrorCode::kResourceExhausted;  // Disk full.
  } else if (sqlstate == "XX001" || sqlstate == "XX002") {
    code = ErrorCode::kDataLoss;
  } else if (sqlstate == "28000" || sqlstate == "28P01" || sqlstate == "42501" ||
             sqlstate == "25006") {
    code = ErrorCode::kPermissionDenied;  // Auth failed, no privilege, read-only.
  } else if (sqlstate == "3D000") {
    code = ErrorCode::kFailedPrecondition;  // No such database.
  }
  return Error{code, fmt::format("{}: {}{}", context, message,
                                 sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")")};
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  LAB_ASSERT_MSG(c >= 'A' && c <= 'F', "not a hex digit in a bytea value");
  return c - 'A' + 10;
}

// A row of a PGresult, read like a SQLite statement (row_codec.h).
class PgRow {
 public:
  PgRow(const PGresult* res, int row) : res_(res), row_(row) {}
  int64_t Int(int col) const { return std::stoll(PQgetvalue(res_, row_, col)); }
  std::string Text(int col) const {
    return std::string(PQgetvalue(res_, row_, col),
                       static_cast<size_t>(PQgetlength(res_, row_, col)));
  }
  // A BYTEA column in the text result format: "\\x" and two hex digits a byte.
  std::string Bytes(int col) const {
    const std::string hex = Text(col);
    LAB_ASSERT_MSG(hex.starts_with("\\x") && hex.size() % 2 == 0, "bytea not in hex format");
    std::string out;
    out.reserve(hex.size() / 2 - 1);
    for (size_t i = 2; i + 1 < hex.size(); i += 2) {
      out += static_cast<char>(HexDigit(hex[i]) << 4 | HexDigit(hex[i + 1]));
    }
    return out;
  }
  bool IsNull(int col) const { return PQgetisnull(res_, row_, col) != 0; }

 private:
  const PGresult* res_;
  int row_;
};

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

std::string Str(int64_t v) { return std::to_string(v); }

// Bytes as a BYTEA text parameter ("\\x" and hex): a text parameter is a C
// string, so a payload's NUL bytes must not travel raw.
std::string Bytea(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (char c : bytes) {
    out += kHex[static_cast<uint8_t>(c) >> 4];
    out += kHex[static_cast<uint8_t>(c) & 0xF];
  }
  return out;
}

Params JobParams(const Job& j) {
  return {j.queue,
          j.key,
          Bytea(j.payload),
          Str(j.priority),
          Str(j.run_at_ms),
          Str(j.max_attempts),
          Str(j.attempts),
          Str(j.attempts_at_redrive),
          std::string(ToString(j.state)),
          Str(j.created_at_ms),
          j.last_error,
          Str(j.timeout_ms),
          Str(j.finished_at_ms),
          Str(j.deadline_at_ms)};
}

Params ExecParams(const Execution& e) {
  return {Str(e.job_id),
          Str(e.attempt),
          e.worker,
          std::string(ToString(e.state)),
          Str(e.leased_at_ms),
          Str(e.lease_expires_at_ms),
          Str(e.ended_at_ms),
          e.reason};
}

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE {s}.lab_meta (schema_version INTEGER NOT NULL);
CREATE TABLE {s}.jobs (
  id BIGSERIAL PRIMARY KEY, queue TEXT NOT NULL, key TEXT, payload TEXT NOT NULL,
  priority INTEGER NOT NULL, run_at_ms BIGINT NOT NULL, max_attempts INTEGER NOT NULL,
  attempts INTEGER NOT NULL, attempts_at_redrive INTEGER NOT NULL, state TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL, last_error TEXT NOT NULL, UNIQUE (queue, key));
CREATE INDEX jobs_ready ON {s}.jobs (queue, state, priority DESC, run_at_ms, id);
CREATE TABLE {s}.executions (
  id BIGSERIAL PRIMARY KEY, job_id BIGINT NOT NULL REFERENCES {s}.jobs (id),
  attempt INTEGER NOT NULL, worker TEXT NOT NULL, state TEXT NOT NULL,
  leased_at_ms BIGINT NOT NULL, lease_expires_at_ms BIGINT NOT NULL,
  ended_at_ms BIGINT NOT NULL, reason TEXT NOT NULL, UNIQUE (job_id, attempt));
CREATE INDEX executions_by_state ON {s}.executions (state, lease_expires_at_ms);
CREATE INDEX executions_by_job ON {s}.executions (job_id);
CREATE TABLE {s}.effects (
  id BIGSERIAL PRIMARY KEY, job_id BIGINT NOT NULL UNIQUE REFERENCES {s}.jobs (id),
  execution_id BIGINT NOT NULL REFERENCES {s}.executions (id), key TEXT NOT NULL,
  payload TEXT NOT NULL, applied_at_ms BIGINT NOT NULL);
CREATE TABLE {s}.audit (
  seq BIGSERIAL PRIMARY KEY, at_ms BIGINT NOT NULL, job_id BIGINT NOT NULL,
  execution_id BIGINT NOT NULL, event TEXT NOT NULL, from_state TEXT NOT NULL,
  to_state TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX audit_by_job ON {s}.audit (job_id, seq);
)sql";

// Payloads are bytes: TEXT cut them at the first NUL byte and refused
// invalid UTF-8. Existing text converts to the same bytes.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE {s}.jobs ALTER COLUMN payload TYPE BYTEA USING convert_to(payload, 'UTF8');
ALTER TABLE {s}.effects ALTER COLUMN payload TYPE BYTEA USING convert_to(payload, 'UTF8');
)sql";

// A per-job limit on how long one attempt may run.
constexpr const char* kSchemaV3 = R"sql(
ALTER TABLE {s}.jobs ADD COLUMN timeout_ms BIGINT NOT NULL DEFAULT 0;
)sql";

// Retention: when each job finished, indexed over finished jobs only. Jobs
// finished before this version take their last audited moment. And one
// index fewer to write: UNIQUE (job_id, attempt) already finds a job's
// executions.
constexpr const char* kSchemaV4 = R"sql(
ALTER TABLE {s}.jobs ADD COLUMN finished_at_ms BIGINT NOT NULL DEFAULT 0;
UPDATE {s}.jobs SET finished_at_ms =
  coalesce((SELECT max(at_ms) FROM {s}.audit a WHERE a.job_id = jobs.id), created_at_ms)
  WHERE state IN ('SUCCEEDED', 'DEAD');
CREATE INDEX jobs_finished ON {s}.jobs (finished_at_ms) WHERE state IN ('SUCCEEDED', 'DEAD');
DROP INDEX {s}.executions_by_job;
)sql";

// Admission control: a job's deadline, a queue's depth limit, and EXPIRED
// among the finished states that retention finds.
constexpr const char* kSchemaV5 = R"sql(
ALTER TABLE {s}.jobs ADD COLUMN deadline_at_ms BIGINT NOT NULL DEFAULT 0;
CREATE TABLE {s}.queues (name TEXT PRIMARY KEY, max_depth BIGINT NOT NULL);
DROP INDEX {s}.jobs_finished;
CREATE INDEX jobs_finished ON {s}.jobs (finished_at_ms)
  WHERE state IN ('SUCCEEDED', 'DEAD', 'EXPIRED');
)sql";

// The outbox (DESIGN's third effect shape): whether each ledger effect is
// an intent a relay delivers, and when its receiver acknowledged it; the
// pending ones indexed apart.
constexpr const char* kSchemaV6 = R"sql(
ALTER TABLE {s}.effects ADD COLUMN delivery TEXT NOT NULL DEFAULT 'none';
ALTER TABLE {s}.effects ADD COLUMN delivered_at_ms BIGINT NOT NULL DEFAULT 0;
CREATE INDEX effects_outbox ON {s}.effects (id) WHERE delivery = 'pending';
)sql";

}  // namespace

// One libpq connection; reconnects lazily after the server went away.
class PostgresBackend::Conn {
 public:
  Conn(std::string conninfo, std::string schema)
      : conninfo_(std::move(conninfo)), schema_(std::move(schema)) {}
  ~Conn() {
    if (pg_ != nullptr) PQfinish(pg_);
  }

  Result<void> Connect() {
    if (pg_ != nullptr && PQstatus(pg_) == CONNECTION_OK) return {};
    if (pg_ != nullptr) {
      PQfinish(pg_);
      ++reconnects_;
    }
    // Defaults, each overridden by the URL (it comes later): a connect
    // timeout, so a server that accepts and never answers cannot hang a
    // command; TCP keepalives and a user timeout, so a host or network that
    // vanishes mid-call ends it with an error instead of a hang (a server
    // process that stops answering on a live host is not caught by these).
    const char* keywords[] = {"connect_timeout",
                              "keepalives_idle",
                              "keepalives_interval",
                              "keepalives_count",
                              "tcp_user_timeout",
                              "dbname",
                              nullptr};
    const char* values[] = {kDefaultConnectTimeoutS, "10",   "5", "3", "30000",
                            conninfo_.c_str(),       nullptr};
    pg_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
    if (PQstatus(pg_) != CONNECTION_OK) {
      std::string why = PQerrorMessage(pg_);
      while (!why.empty() && why.back() == '\n') why.pop_back();
      return MakeError(ErrorCode::kUnavailable, "cannot connect to PostgreSQL: " + why);
    }
    // The server's NOTICEs ("schema already exists, skipping", "drop
    // cascades to 5 other objects") are not for the lab's user: libpq
    // would print each one on stderr.
    PQsetNoticeProcessor(
        pg_, [](void*, const char*) {}, nullptr);
    // Payloads are read back as hex whatever the server's default is.
    return Run("SET bytea_output = 'hex'");
  }

  // Runs `sql` with {s} replaced by the schema and $n text parameters.
  Result<ResultPtr> Exec(const std::string& sql, const Params& params = {}) {
    LAB_ASSERT(pg_ != nullptr);
    const std::string text = Expand(sql);
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    // Without parameters, the simple protocol (which allows a script of
    // several statements, as the schema is); with them, the extended one.
    ResultPtr res(params.empty() ? PQexec(pg_, text.c_str())
                                 : PQexecParams(pg_, text.c_str(), static_cast<int>(values.size()),
                                                nullptr, values.data(), nullptr, nullptr, 0));
    const auto status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    serialization_failure_ = false;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      const char* state = res ? PQresultErrorField(res.get(), PG_DIAG_SQLSTATE) : nullptr;
      serialization_failure_ = state != nullptr && (std::string_view(state) == "40001" ||
                                                    std::string_view(state) == "40P01");
      return std::unexpected(PgError(pg_, res.get(), "PostgreSQL"));
    }
    return res;
  }

  // Drops the connection (the server rolls back anything open) and makes
  // a new one.
  Result<void> Reconnect() {
    if (pg_ != nullptr) {
      PQfinish(pg_);
      pg_ = nullptr;
      ++reconnects_;
    }
    return Connect();
  }

  // The last statement failed with a serialization failure or a deadlock:
  // the server answered, and rolled the transaction back.
  bool serialization_failure() const { return serialization_failure_; }

  // Exec for statements whose rows do not matter.
  Result<void> Run(const std::string& sql, const Params& params = {}) {
    LAB_ASSIGN_OR_RETURN(ResultPtr unused, Exec(sql, params));
    return {};
  }

  std::string Expand(const std::string& sql) const {
    std::string out;
    for (size_t i = 0; i < sql.size(); ++i) {
      if (sql.compare(i, 3, "{s}") == 0) {
        out += schema_;
        i += 2;
      } else {
        out += sql[i];
      }
    }
    return out;
  }

  PGconn* raw() { return pg_; }
  int64_t reconnects() const { return reconnects_; }
  const std::string& schema() const { return schema_; }

 private:
  std::string conninfo_;
  std::string schema_;
  PGconn* pg_ = nullptr;
  int64_t reconnects_ = 0;  // Connections re-made after one was lost.
  bool serialization_failure_ = false;
};

PostgresBackend::PostgresBackend(std::unique_ptr<Conn> conn) : conn_(std::move(conn)) {}

PostgresBackend::~PostgresBackend() = default;

int64_t PostgresBackend::reconnects() const { return conn_->reconnects(); }

namespace {

Result<void> CheckSchemaName(const std::string& schema) {
  for (char c : schema) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
      return MakeError(ErrorCode::kInvalidArgument, "schema name must be [A-Za-z0-9_]+");
    }
  }
  if (schema.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty schema name");
  return {};
}

}  // namespace

Result<void> PostgresBackend::CreateEmptySchema(const std::string& conninfo,
                                                const std::string& schema) {
  LAB_RETURN_IF_ERROR(CheckSchemaName(schema));
  Conn conn(conninfo, schema);
  LAB_RETURN_IF_ERROR(conn.Connect());
  auto created = conn.Run("CREATE SCHEMA {s}");
  if (!created && created.error().message.find("already exists") != std::string::npos) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("schema '{}' already exists; it is not a fresh one", schema));
  }
  return created;
}

Result<void> PostgresBackend::DropSchema(const std::string& conninfo, const std::string& schema) {
  LAB_RETURN_IF_ERROR(CheckSchemaName(schema));
  Conn conn(conninfo, schema);
  LAB_RETURN_IF_ERROR(conn.Connect());
  return conn.Run("DROP SCHEMA IF EXISTS {s} CASCADE");
}

Result<std::unique_ptr<PostgresBackend>> PostgresBackend::Open(const PostgresOptions& options) {
  LAB_RETURN_IF_ERROR(CheckSchemaName(options.schema));
  // A malformed URL or an unknown parameter is the user's to fix (exit 2),
  // not a server that might come back.
  char* why = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(options.conninfo.c_str(), &why);
  if (parsed == nullptr) {
    std::string message = why != nullptr ? why : "out of memory";
    PQfreemem(why);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return MakeError(ErrorCode::kInvalidArgument, "bad PostgreSQL URL: " + message);
  }
  PQconninfoFree(parsed);
  auto conn = std::make_unique<Conn>(options.conninfo, options.schema);
  LAB_RETURN_IF_ERROR(conn->Connect());
  std::unique_ptr<PostgresBackend> store(new PostgresBackend(std::move(conn)));
  LAB_RETURN_IF_ERROR(store->PrepareSchema(
      options.schema, options.migrations.empty() ? Migrations() : options.migrations,
      options.create));
  return store;
}

std::span<const Migration> PostgresBackend::Migrations() {
  static constexpr Migration kSteps[] = {{1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3},
                                         {4, kSchemaV4}, {5, kSchemaV5}, {6, kSchemaV6}};
  return kSteps;
}

Result<void> PostgresBackend::PrepareSchema(const std::string& schema,
                                            std::span<const Migration> steps, bool create) {
  const int latest = LatestVersion(steps);
  // One transaction, serialized across processes by an advisory lock, so
  // two workers starting at once do not both create or migrate the schema.
  LAB_RETURN_IF_ERROR(conn_->Exec("BEGIN"));
  auto body = [&]() -> Result<void> {
    LAB_RETURN_IF_ERROR(conn_->Exec("SELECT pg_advisory_xact_lock(hashtext($1))", {schema}));
    LAB_ASSIGN_OR_RETURN(ResultPtr meta,
                         conn_->Exec("SELECT to_regclass($1) IS NOT NULL", {schema + ".lab_meta"}));
    int64_t version = 0;
    if (PgRow(meta.get(), 0).Text(0) == "t") {
      LAB_ASSIGN_OR_RETURN(ResultPtr v,
                           conn_->Exec("SELECT max(schema_version) FROM {s}.lab_meta"));
      if (PgRow(v.get(), 0).IsNull(0)) {
        return MakeError(ErrorCode::kDataLoss,
                         fmt::format("schema '{}' has no valid version row", schema));
      }
      version = PgRow(v.get(), 0).Int(0);
    } else if (!create) {
      return MakeError(ErrorCode::kNotFound,
                       fmt::format("no lab queue in schema '{}' of this database", schema));
    } else {
      LAB_RETURN_IF_ERROR(conn_->Exec("CREATE SCHEMA IF NOT EXISTS {s}"));
    }
    if (version > latest) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       fmt::format("schema '{}' has version {}, newer than this build supports "
                                   "({}); upgrade lab to use it",
                                   schema, version, latest));
    }
    for (const Migration& step : steps) {
      if (step.version <= version) continue;
      LAB_RETURN_IF_ERROR(conn_->Exec(std::string(step.sql)));
      LAB_RETURN_IF_ERROR(
          conn_->Exec(fmt::format("INSERT INTO {{s}}.lab_meta VALUES ({})", step.version)));
    }
    return {};
  }();
  if (!body) {
    auto rolled_back = conn_->Exec("ROLLBACK");
    if (!rolled_back) return std::unexpected(rolled_back.error());
    return body;
  }
  return conn_->Run("COMMIT");
}

Result<void> PostgresBackend::BeginWrite() {
  LAB_RETURN_IF_ERROR(conn_->Connect());
  return conn_->Run("BEGIN");
}

Result<void> PostgresBackend::CommitWrite() {
  auto done = conn_->Exec("COMMIT");
  if (done) return {};
  // The server refused the commit and rolled back: nothing was written.
  if (conn_->serialization_failure()) return std::unexpected(done.error());
  // Whether the server committed before the connection dropped is unknown.
  return MakeError(ErrorCode::kUnknownOutcome, done.error().message);
}

Result<void> PostgresBackend::Reopen() { return conn_->Reconnect(); }

Result<std::unique_ptr<RecordStore>> OpenPostgresStore(const PostgresOptions& options,
                                                       Clock& clock) {
  LAB_ASSIGN_OR_RETURN(std::shared_ptr<PostgresBackend> backend, PostgresBackend::Open(options));
  return std::make_unique<RecordStore>(std::move(backend), clock, options.store);
}

Result<void> PostgresBackend::Rollback() {
  if (PQstatus(conn_->raw()) != CONNECTION_OK) return {};  // The server rolled back.
  return conn_->Run("ROLLBACK");
}

Result<void> PostgresBackend::Savepoint() { return conn_->Run("SAVEPOINT op"); }

Result<void> PostgresBackend::ReleaseSavepoint() { return conn_->Run("RELEASE SAVEPOINT op"); }

Result<void> PostgresBackend::RollbackToSavepoint() {
  LAB_RETURN_IF_ERROR(conn_->Run("ROLLBACK TO SAVEPOINT op"));
  return ReleaseSavepoint();
}

namespace {

template <typename T, typename Decode>
Result<std::vector<T>> Rows(const ResultPtr& res, Decode decode) {
  std::vector<T> out;
  for (int i = 0; i < PQntuples(res.get()); ++i) {
    LAB_ASSIGN_OR_RETURN(T value, decode(PgRow(res.get(), i)));
    out.push_back(std::move(value));
  }
  return out;
}

template <typename T>
std::optional<T> First(std::vector<T> rows) {
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

// The row a query for at most one found, if any.
template <typename T, typename Decode>
Result<std::optional<T>> OneRow(const Result<ResultPtr>& res, Decode decode) {
  if (!res) return std::unexpected(res.error());
  LAB_ASSIGN_OR_RETURN(auto rows, Rows<T>(*res, decode));
  return First(std::move(rows));
}

// The row of `table` whose id is $1, locked for the transaction.
std::string LockedById(const char* columns, const char* table) {
  return fmt::format("SELECT {} FROM {{s}}.{} WHERE id = $1 FOR UPDATE", columns, table);
}

}  // namespace

Result<std::optional<Job>> PostgresBackend::LoadJob(JobId id) {
  return OneRow<Job>(conn_->Exec(LockedById(kJobColumns, "jobs"), {Str(id)}), JobFromRow<PgRow>);
}

Result<std::optional<Job>> PostgresBackend::LoadJobByKey(const std::string& queue,
                                                         const std::string& key) {
  // Serializes concurrent enqueues of one key until this transaction ends.
  LAB_RETURN_IF_ERROR(
      conn_->Exec("SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2))", {queue, key}));
  LAB_ASSIGN_OR_RETURN(ResultPtr res,
                       conn_->Exec(fmt::format("SELECT {} FROM {{s}}.jobs WHERE queue = $1 AND "
                                               "key = $2 FOR UPDATE",
                                               kJobColumns),
                                   {queue, key}));
  LAB_ASSIGN_OR_RETURN(auto jobs, Rows<Job>(res, JobFromRow<PgRow>));
  return First(std::move(jobs));
}

Result<std::optional<Execution>> PostgresBackend::LoadExecution(ExecutionId id) {
  return OneRow<Execution>(conn_->Exec(LockedById(kExecColumns, "executions"), {Str(id)}),
                           ExecutionFromRow<PgRow>);
}

Result<std::vector<Job>> PostgresBackend::LoadClaimable(const std::string& queue, TimeMs now,
                                                        int limit) {
  LAB_ASSIGN_OR_RETURN(
      ResultPtr res,
      conn_->Exec(fmt::format("SELECT {} FROM {{s}}.jobs WHERE queue = $1 AND state = 'PENDING' "
                              "AND run_at_ms <= $2 ORDER BY priority DESC, run_at_ms, id "
                              "LIMIT $3 FOR UPDATE SKIP LOCKED",
                              kJobColumns),
                  {queue, Str(now), Str(limit)}));
  return Rows<Job>(res, JobFromRow<PgRow>);
}

Result<std::vector<Execution>> PostgresBackend::LoadExpired(ExecState state, TimeMs now) {
  LAB_ASSIGN_OR_RETURN(
      ResultPtr res,
      conn_->Exec(fmt::format("SELECT {} FROM {{s}}.executions WHERE state = $1 AND "
                              "lease_expires_at_ms <= $2 ORDER BY id FOR UPDATE SKIP LOCKED",
                              kExecColumns),
                  {std::string(ToString(state)), Str(now)}));
  return Rows<Execution>(res, ExecutionFromRow<PgRow>);
}

Result<std::optional<ExecutionId>> PostgresBackend::FindCommitted(JobId job,
                                                                  ExecutionId other_than) {
  LAB_ASSIGN_OR_RETURN(ResultPtr res,
                       conn_->Exec("SELECT id FROM {s}.executions WHERE job_id = $1 AND id <> $2 "
                                   "AND state IN ('COMMITTED', 'DONE') ORDER BY id LIMIT 1",
                                   {Str(job), Str(other_than)}));
  if (PQntuples(res.get()) == 0) return std::optional<ExecutionId>();
  return std::optional<ExecutionId>(PgRow(res.get(), 0).Int(0));
}

Result<JobId> PostgresBackend::InsertJob(const Job& job) {
  LAB_ASSIGN_OR_RETURN(
      ResultPtr res,
      conn_->Exec("INSERT INTO {s}.jobs (queue, key, payload, priority, run_at_ms, max_attempts, "
                  "attempts, attempts_at_redrive, state, created_at_ms, last_error, timeout_ms, "
                  "finished_at_ms, deadline_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                  "$10, $11, $12, $13, $14) RETURNING id",
                  JobParams(job)));
  return PgRow(res.get(), 0).Int(0);
}

Result<ExecutionId> PostgresBackend::InsertExecution(const Execution& exec) {
  LAB_ASSIGN_OR_RETURN(
      ResultPtr res,
      conn_->Exec("INSERT INTO {s}.executions (job_id, attempt, worker, state, leased_at_ms, "
                  "lease_expires_at_ms, ended_at_ms, reason) VALUES "
                  "($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                  ExecParams(exec)));
  return PgRow(res.get(), 0).Int(0);
}

Result<void> PostgresBackend::SaveJob(const Job& job) {
  LAB_ASSIGN_OR_RETURN(
      ResultPtr res,
      conn_->Exec(
          "UPDATE {s}.jobs SET state = $1, attempts = $2, attempts_at_redrive = $3, "
          "run_at_ms = $4, last_error = $5, finished_at_ms = $6 WHERE id = $7",
          {std::string(ToString(job.state)), Str(job.attempts), Str(job.attempts_at_redrive),
           Str(job.run_at_ms), job.last_error, Str(job.finished_at_ms), Str(job.id)}));
  LAB_ASSERT(std::string_view(PQcmdTuples(res.get())) == "1");
  return {};
}

Result<void> PostgresBackend::SaveExecution(const Execution& exec) {
  // The fencing token is part of the row's identity, a second time below
  // the rules: the update matches only the execution holding this attempt.
  LAB_ASSIGN_OR_RETURN(
      ResultPtr res,
      conn_->Exec("UPDATE {s}.executions SET state = $1, lease_expires_at_ms = $2, "
                  "ended_at_ms = $3, reason = $4 WHERE id = $5 AND attempt = $6",
                  {std::string(ToString(exec.state)), Str(exec.lease_expires_at_ms),
                   Str(exec.ended_at_ms), exec.reason, Str(exec.id), Str(exec.attempt)}));
  if (std::string_view(PQcmdTuples(res.get())) != "1") return NotHeldError(exec);
  return {};
}

Result<void> PostgresBackend::InsertEffect(const EffectRecord& e) {
  return conn_->Run(
      "INSERT INTO {s}.effects (job_id, execution_id, key, payload, applied_at_ms, delivery, "
      "delivered_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
      {Str(e.job_id), Str(e.execution_id), e.key, Bytea(e.payload), Str(e.applied_at_ms),
       std::string(ToString(e.delivery)), Str(e.delivered_at_ms)});
}

Result<std::optional<EffectRecord>> PostgresBackend::LoadEffect(int64_t id) {
  return OneRow<EffectRecord>(conn_->Exec(LockedById(kEffectColumns, "effects"), {Str(id)}),
                              EffectFromRow<PgRow>);
}

Result<std::vector<EffectRecord>> PostgresBackend::LoadOutbox(int limit) {
  LAB_ASSIGN_OR_RETURN(
      ResultPtr res,
      conn_->Exec(fmt::format(kOutboxSql, kEffectColumns, "{s}.", "$"), {Str(limit)}));
  return Rows<EffectRecord>(res, EffectFromRow<PgRow>);
}

Result<void> PostgresBackend::SaveDelivery(const EffectRecord& e) {
  return conn_->Run("UPDATE {s}.effects SET delivery = $1, delivered_at_ms = $2 WHERE id = $3",
                    {std::string(ToString(e.delivery)), Str(e.delivered_at_ms), Str(e.id)});
}

Result<void> PostgresBackend::AppendAudit(const AuditEntry& a) {
  return conn_->Run(
      "INSERT INTO {s}.audit (at_ms, job_id, execution_id, event, from_state, to_state, "
      "detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
      {Str(a.at_ms), Str(a.job_id), Str(a.execution_id), std::string(ToString(a.event)), a.from,
       a.to, a.detail});
}

Result<std::vector<Job>> PostgresBackend::LoadJobs(const JobFilter& filter) {
  LAB_RETURN_IF_ERROR(conn_->Connect());
  std::optional<std::string> state;
  if (filter.state) state = std::string(ToString(*filter.state));
  std::optional<std::string> since;
  if (filter.finished_since_ms) since = Str(*filter.finished_since_ms);
  LAB_ASSIGN_OR_RETURN(
      ResultPtr res,
      conn_->Exec(fmt::format("SELECT {} FROM {{s}}.jobs WHERE ($1::text IS NULL OR queue = $1) "
                              "AND ($2::text IS NULL OR state = $2) AND ($4::bigint IS NULL OR "
                              "(state IN {} AND finished_at_ms >= $4)) ORDER BY id LIMIT $3",
                              kJobColumns, kFinishedStatesSql),
                  {filter.queue, state, Str(filter.limit), since}));
  return Rows<Job>(res, JobFromRow<PgRow>);
}

template <typename T>
Result<T> PostgresBackend::ReadTxn(const std::function<Result<T>()>& body) {
  // One REPEATABLE READ transaction, so the tables read agree.
  LAB_RETURN_IF_ERROR(conn_->Connect());
  LAB_RETURN_IF_ERROR(conn_->Run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  Result<T> result = body();
  auto ended = conn_->Run(result ? "COMMIT" : "ROLLBACK");
  if (result && !ended) return std::unexpected(ended.error());
  return result;
}

Result<JobDetail> PostgresBackend::LoadJobRecords(JobId job) {
  return ReadTxn<JobDetail>([&]() -> Result<JobDetail> {
    JobDetail d;
    LAB_ASSIGN_OR_RETURN(
        ResultPtr execs,
        conn_->Exec(fmt::format("SELECT {} FROM {{s}}.executions WHERE job_id = $1 ORDER BY id",
                                kExecColumns),
                    {Str(job)}));
    LAB_ASSIGN_OR_RETURN(d.executions, Rows<Execution>(execs, ExecutionFromRow<PgRow>));
    LAB_ASSIGN_OR_RETURN(
        ResultPtr effects,
        conn_->Exec(fmt::format("SELECT {} FROM {{s}}.effects WHERE job_id = $1 ORDER BY id",
                                kEffectColumns),
                    {Str(job)}));
    LAB_ASSIGN_OR_RETURN(d.effects, Rows<EffectRecord>(effects, EffectFromRow<PgRow>));
    LAB_ASSIGN_OR_RETURN(
        ResultPtr audit,
        conn_->Exec(
            fmt::format("SELECT {} FROM {{s}}.audit WHERE job_id = $1 ORDER BY seq", kAuditColumns),
            {Str(job)}));
    LAB_ASSIGN_OR_RETURN(d.audit, Rows<AuditEntry>(audit, AuditFromRow<PgRow>));
    return d;
  });
}

Result<std::vector<JobId>> PostgresBackend::LoadFinished(TimeMs cutoff, int limit) {
  LAB_ASSIGN_OR_RETURN(
      ResultPtr res,
      conn_->Exec(fmt::format("SELECT id FROM {{s}}.jobs WHERE state IN {} AND finished_at_ms <= "
                              "$1 AND {} ORDER BY finished_at_ms, id LIMIT $2",
                              kFinishedStatesSql, fmt::format(kNoPendingDeliverySql, "{s}.")),
                  {Str(cutoff), Str(limit)}));
  return Rows<JobId>(res, IdFromRow<PgRow>);
}

Result<NewestIds> PostgresBackend::LoadNewestIds() {
  LAB_ASSIGN_OR_RETURN(ResultPtr res,
                       conn_->Exec("SELECT (SELECT max(id) FROM {s}.jobs), "
                                   "(SELECT job_id FROM {s}.executions ORDER BY id DESC LIMIT 1), "
                                   "(SELECT job_id FROM {s}.effects ORDER BY id DESC LIMIT 1), "
                                   "(SELECT job_id FROM {s}.audit ORDER BY seq DESC LIMIT 1)"));
  LAB_ASSIGN_OR_RETURN(auto rows, Rows<NewestIds>(res, NewestIdsFromRow<PgRow>));
  return rows.front();
}

Result<PruneResult> PostgresBackend::DeleteJobs(std::span<const JobId> jobs) {
  // One statement a table over the array of ids.
  const std::string ids = fmt::format("{{{}}}", fmt::join(jobs, ","));
  PruneResult deleted;
  for (const PruneTable& t : kPruneTables) {
    LAB_ASSIGN_OR_RETURN(
        ResultPtr res, conn_->Exec(fmt::format("DELETE FROM {{s}}.{} WHERE {} = ANY($1::bigint[])",
                                               t.table, t.job_column),
                                   {ids}));
    deleted.*t.count = std::atoll(PQcmdTuples(res.get()));
  }
  return deleted;
}

Result<std::vector<StateCount>> PostgresBackend::LoadCounts() {
  LAB_RETURN_IF_ERROR(conn_->Connect());
  LAB_ASSIGN_OR_RETURN(
      ResultPtr res,
      conn_->Exec(fmt::format("SELECT {} FROM {{s}}.jobs GROUP BY queue, state", kCountColumns)));
  return Rows<StateCount>(res, CountFromRow<PgRow>);
}

Result<int64_t> PostgresBackend::LoadQueueLimit(const std::string& queue) {
  // Locked: enqueues into one limited queue take their places one at a time.
  LAB_ASSIGN_OR_RETURN(
      ResultPtr res,
      conn_->Exec("SELECT max_depth FROM {s}.queues WHERE name = $1 FOR UPDATE", {queue}));
  LAB_ASSIGN_OR_RETURN(auto rows, Rows<int64_t>(res, IdFromRow<PgRow>));
  return rows.empty() ? 0 : rows.front();
}

Result<void> PostgresBackend::SaveQueueLimit(const QueueLimit& limit) {
  if (limit.max_depth == 0) {
    return conn_->Run("DELETE FROM {s}.queues WHERE name = $1", {limit.queue});
  }
  return conn_->Run(
      "INSERT INTO {s}.queues (name, max_depth) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE "
      "SET max_depth = EXCLUDED.max_depth",
      {limit.queue, Str(limit.max_depth)});
}

Result<std::vector<QueueLimit>> PostgresBackend::LoadQueueLimits() {
  LAB_RETURN_IF_ERROR(conn_->Connect());
  LAB_ASSIGN_OR_RETURN(
      ResultPtr res,
      conn_->Exec(fmt::format("SELECT {} FROM {{s}}.queues ORDER BY name", kQueueLimitColumns)));
  return Rows<QueueLimit>(res, QueueLimitFromRow<PgRow>);
}

Result<int64_t> PostgresBackend::CountOpen(const std::string& queue, int64_t cap) {
  LAB_ASSIGN_OR_RETURN(
      ResultPtr res, conn_->Exec(fmt::format(kCountOpenSql, "{s}.", "$", "$"), {queue, Str(cap)}));
  return PgRow(res.get(), 0).Int(0);
}

Result<Snapshot> PostgresBackend::LoadSnapshot() {
  return ReadTxn<Snapshot>([&]() -> Result<Snapshot> {
    Snapshot s;
    LAB_ASSIGN_OR_RETURN(
        ResultPtr jobs,
        conn_->Exec(fmt::format("SELECT {} FROM {{s}}.jobs ORDER BY id", kJobColumns)));
    LAB_ASSIGN_OR_RETURN(s.jobs, Rows<Job>(jobs, JobFromRow<PgRow>));
    LAB_ASSIGN_OR_RETURN(
        ResultPtr execs,
        conn_->Exec(fmt::format("SELECT {} FROM {{s}}.executions ORDER BY id", kExecColumns)));
    LAB_ASSIGN_OR_RETURN(s.executions, Rows<Execution>(execs, ExecutionFromRow<PgRow>));
    LAB_ASSIGN_OR_RETURN(
        ResultPtr effects,
        conn_->Exec(fmt::format("SELECT {} FROM {{s}}.effects ORDER BY id", kEffectColumns)));
    LAB_ASSIGN_OR_RETURN(s.effects, Rows<EffectRecord>(effects, EffectFromRow<PgRow>));
    LAB_ASSIGN_OR_RETURN(
        ResultPtr audit,
        conn_->Exec(fmt::format("SELECT {} FROM {{s}}.audit ORDER BY seq", kAuditColumns)));
    LAB_ASSIGN_OR_RETURN(s.audit, Rows<AuditEntry>(audit, AuditFromRow<PgRow>));
    return s;
  });
}

}  // namespace lab
