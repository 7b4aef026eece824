// Decoding store rows into records, once for every SQL backend.
//
// A Row is anything with Int(col), Text(col), Bytes(col) and IsNull(col) (SQLite's
// Statement, PostgreSQL's PgRow); columns follow the k*Columns lists below.
// Every decoder returns a Result, so one row loop serves them all.
// Thread-safety: pure functions.
#pragma once

#include "core/status.h"
#include "store/types.h"

namespace lab {

inline constexpr const char* kJobColumns =
    "id, queue, key, payload, priority, run_at_ms, max_attempts, attempts, attempts_at_redrive, "
    "state, created_at_ms, last_error, timeout_ms, finished_at_ms, deadline_at_ms";
inline constexpr const char* kExecColumns =
    "id, job_id, attempt, worker, state, leased_at_ms, lease_expires_at_ms, ended_at_ms, reason";
inline constexpr const char* kEffectColumns =
    "id, job_id, execution_id, key, payload, applied_at_ms, delivery, delivered_at_ms";
inline constexpr const char* kAuditColumns =
    "seq, at_ms, job_id, execution_id, event, from_state, to_state, detail";
inline constexpr const char* kCountColumns = "queue, state, count(*)";
// The finished job states (IsFinished), as SQL, for retention.
inline constexpr const char* kFinishedStatesSql = "('SUCCEEDED', 'DEAD', 'EXPIRED')";
// Retention keeps a job whose outbox effect is still to be delivered
// (Delivery::kPending), its table prefix first.
inline constexpr const char* kNoPendingDeliverySql =
    "NOT EXISTS (SELECT 1 FROM {}effects e WHERE e.job_id = jobs.id AND e.delivery = 'pending')";
// The outbox's pending effects, by id, at most $1 (after the prefix and
// the parameter mark).
inline constexpr const char* kOutboxSql =
    "SELECT {} FROM {}effects WHERE delivery = 'pending' ORDER BY id LIMIT {}1";
inline constexpr const char* kQueueLimitColumns = "name, max_depth";
// The unfinished jobs of queue $1, counting no further than $2.
inline constexpr const char* kCountOpenSql =
    "SELECT count(*) FROM (SELECT 1 FROM {}jobs WHERE queue = {}1 AND state IN ('PENDING', "
    "'RUNNING') LIMIT {}2) AS open_jobs";

// What a prune deletes for each job, children first (effects name
// executions, executions name jobs), and where each count goes.
struct PruneTable {
  const char* table;
  const char* job_column;
  int64_t PruneResult::*count;
};
inline constexpr PruneTable kPruneTables[] = {{"audit", "job_id", &PruneResult::audit},
                                              {"effects", "job_id", &PruneResult::effects},
                                              {"executions", "job_id", &PruneResult::executions},
                                              {"jobs", "id", &PruneResult::jobs}};

template <typename Row>
Result<Job> JobFromRow(const Row& s) {
  Job j;
  j.id = s.Int(0);
  j.queue = s.Text(1);
  if (!s.IsNull(2)) j.key = s.Text(2);
  j.payload = s.Bytes(3);
  j.priority = static_cast<int>(s.Int(4));
  j.run_at_ms = s.Int(5);
  j.max_attempts = static_cast<int>(s.Int(6));
  j.attempts = static_cast<int>(s.Int(7));
  j.attempts_at_redrive = static_cast<int>(s.Int(8));
  auto state = ParseJobState(s.Text(9));
  if (!state) return MakeError(ErrorCode::kDataLoss, "job has unknown state " + s.Text(9));
  j.state = *state;
  j.created_at_ms = s.Int(10);
  j.last_error = s.Text(11);
  j.timeout_ms = s.Int(12);
  j.finished_at_ms = s.Int(13);
  j.deadline_at_ms = s.Int(14);
  return j;
}

template <typename Row>
Result<Execution> ExecutionFromRow(const Row& s) {
  Execution e;
  e.id = s.Int(0);
  e.job_id = s.Int(1);
  e.attempt = static_cast<int>(s.Int(2));
  e.worker = s.Text(3);
  auto state = ParseExecState(s.Text(4));
  if (!state) return MakeError(ErrorCode::kDataLoss, "execution has unknown state " + s.Text(4));
  e.state = *state;
  e.leased_at_ms = s.Int(5);
  e.lease_expires_at_ms = s.Int(6);
  e.ended_at_ms = s.Int(7);
  e.reason = s.Text(8);
  return e;
}

template <typename Row>
Result<EffectRecord> EffectFromRow(const Row& s) {
  const auto delivery = ParseDelivery(s.Text(6));
  if (!delivery) {
    return MakeError(ErrorCode::kDataLoss, "ledger effect has unknown delivery " + s.Text(6));
  }
  return EffectRecord{s.Int(0),   s.Int(1), s.Int(2),  s.Text(3),
                      s.Bytes(4), s.Int(5), *delivery, s.Int(7)};
}

template <typename Row>
Result<AuditEntry> AuditFromRow(const Row& s) {
  const auto event = ParseAuditEvent(s.Text(4));
  if (!event) return MakeError(ErrorCode::kDataLoss, "audit entry has unknown event " + s.Text(4));
  return AuditEntry{s.Int(0), s.Int(1),  s.Int(2),  s.Int(3),
                    *event,   s.Text(5), s.Text(6), s.Text(7)};
}

template <typename Row>
Result<QueueLimit> QueueLimitFromRow(const Row& s) {
  return QueueLimit{s.Text(0), s.Int(1)};
}

template <typename Row>
Result<int64_t> IdFromRow(const Row& s) {
  return s.Int(0);
}

// (newest job id, jobs of the newest execution, effect and audit entry);
// NULL (no rows yet) reads as 0.
template <typename Row>
Result<NewestIds> NewestIdsFromRow(const Row& s) {
  auto id = [&](int column) -> JobId { return s.IsNull(column) ? 0 : s.Int(column); };
  return NewestIds{id(0), id(1), id(2), id(3)};
}

template <typename Row>
Result<StateCount> CountFromRow(const Row& s) {
  auto state = ParseJobState(s.Text(1));
  if (!state) return MakeError(ErrorCode::kDataLoss, "job has unknown state " + s.Text(1));
  return StateCount{s.Text(0), *state, s.Int(2)};
}

}  // namespace lab
