// Goal: every Store implementation honours the same contract, operation by
// operation. Method: one parameterized suite; each case builds a store on a
// manual clock through a factory (memory, SQLite on a temp file, PostgreSQL),
// drives one operation's happy path and its refusals, and checks the records
// and the audit log it leaves.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "check/invariants.h"
#include "check/liveness.h"
#include "core/clock.h"
#include "core/marks.h"
#include "core/testing/temp_dir.h"
#include "core/text.h"
#include "store/fault_backend.h"
#include "store/group_commit.h"
#include "store/memory_store.h"
#include "store/postgres_store.h"
#include "store/rules.h"
#include "store/sqlite_store.h"
#include "store/testing/backends.h"

namespace lab {
namespace {

using Factory = std::function<std::unique_ptr<Store>(Clock&, StoreOptions, testing::TempDir&)>;
using RecordFactory =
    std::function<std::unique_ptr<RecordStore>(Clock&, StoreOptions, testing::TempDir&)>;

struct Backend {
  std::string name;
  Factory make;
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

std::vector<std::pair<std::string, RecordFactory>> RecordBackends() {
  std::vector<std::pair<std::string, RecordFactory>> out;
  for (auto& [name, make] : testing::StorageBackends()) {
    out.emplace_back(name,
                     [make](Clock& clock, StoreOptions options,
                            testing::TempDir& dir) -> std::unique_ptr<RecordStore> {
                       auto backend = make(dir);
                       if (!backend) return nullptr;
                       return std::make_unique<RecordStore>(std::move(backend), clock, options);
                     });
  }
  return out;
}

// Every backend alone, and every backend behind a CommitGroup handle (each
// call then runs in a savepoint of a group transaction).
std::vector<Backend> Backends() {
  std::vector<Backend> out;
  for (auto& [name, make] : RecordBackends()) {
    out.push_back({name, [make](Clock& clock, StoreOptions options, testing::TempDir& dir) {
                     return std::unique_ptr<Store>(make(clock, options, dir));
                   }});
    out.push_back({"Group" + name,
                   [make](Clock& clock, StoreOptions options,
                          testing::TempDir& dir) -> std::unique_ptr<Store> {
                     auto group = CommitGroup::Open(
                         [&clock, options, &dir, make]() -> Result<std::unique_ptr<RecordStore>> {
                           auto store = make(clock, options, dir);
                           if (!store) return MakeError(ErrorCode::kInternal, "no backend");
                           return store;
                         });
                     EXPECT_TRUE(group.has_value()) << group.error().ToString();
                     if (!group) return nullptr;
                     return (*group)->NewHandle();
                   }});
  }
  return out;
}

class StoreConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    store_ = GetParam().make(clock_, {}, dir_);
    ASSERT_NE(store_, nullptr);
  }
  void Reopen(StoreOptions options) {
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(dir_.File(std::string("q.db") + suffix));
    }
    store_ = GetParam().make(clock_, options, dir_);
  }

  JobId Add(NewJob job = {}) {
    auto r = store_->Enqueue(job);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r->job_id;
  }
  Lease ClaimOne(DurationMs lease_ms = 1'000) {
    auto leases = store_->Claim({.worker = "w1", .max_jobs = 1, .lease_ms = lease_ms});
    EXPECT_TRUE(leases.has_value()) << leases.error().ToString();
    EXPECT_EQ(leases->size(), 1u);
    return leases->empty() ? Lease{} : leases->front();
  }
  LeaseRef Ref(const Lease& l) { return {l.execution_id, l.token}; }
  // Claim, begin: a lease in IN_PROGRESS.
  Lease Started(DurationMs lease_ms = 1'000) {
    Lease l = ClaimOne(lease_ms);
    EXPECT_TRUE(store_->Begin(Ref(l)).has_value());
    return l;
  }
  Snapshot Snap() {
    auto s = store_->ReadSnapshot();
    EXPECT_TRUE(s.has_value()) << s.error().ToString();
    return *s;
  }
  JobState StateOf(JobId id) { return store_->GetJob(id)->state; }
  ExecState ExecStateOf(ExecutionId id) {
    for (const auto& e : Snap().executions) {
      if (e.id == id) return e.state;
    }
    ADD_FAILURE() << "no execution " << id;
    return ExecState::kAborted;
  }
  size_t CountAudit(AuditEvent event) {
    const auto audit = Snap().audit;
    return std::count_if(audit.begin(), audit.end(),
                         [&](const AuditEntry& a) { return a.event == event; });
  }

  ManualClock clock_{1'000'000};
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

// Payloads are bytes on every backend: every byte value, NULs included,
// comes back as it went in (PostgreSQL's TEXT once cut them at a NUL).
TEST_P(StoreConformanceTest, PayloadsRoundTripByteForByte) {
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  const std::string cases[] = {"", std::string("\0", 1), std::string("a\0b", 3),
                               "\xFF\xFE not utf-8", every_byte + every_byte};
  for (const std::string& payload : cases) {
    const JobId id = Add({.payload = payload});
    EXPECT_EQ(store_->GetJob(id)->payload, payload) << ::testing::PrintToString(payload);
  }
  // And the effect a commit records is bytes too.
  Lease l = Started();
  ASSERT_TRUE(store_->Commit(Ref(l), Effect{every_byte}).has_value());
  EXPECT_EQ(Snap().effects.at(0).payload, every_byte);
}

// Queue names and keys are text (core/text.h) on every backend alike: each
// class of bad name is refused with kInvalidArgument and nothing is written.
TEST_P(StoreConformanceTest, BadNamesAndNumbersAreRefusedAndWriteNothing) {
  const std::string bad_text[] = {
      "", std::string("a\0b", 3), "tab\t", "\xC3", "\xFF", std::string(kMaxKeyBytes + 1, 'k')};
  std::vector<NewJob> refused;
  for (const std::string& t : bad_text) {
    refused.push_back({.key = t});
    refused.push_back({.queue = t});
  }
  refused.push_back({.queue = "a/b"});
  refused.push_back({.max_attempts = 0});
  refused.push_back({.max_attempts = kMaxAttempts + 1});
  refused.push_back({.priority = kMaxPriority + 1});
  refused.push_back({.run_at_ms = -1});
  refused.push_back({.run_at_ms = kMaxTimeMs + 1});
  refused.push_back({.timeout_ms = -1});
  refused.push_back({.timeout_ms = kMaxDurationMs + 1});
  for (const NewJob& job : refused) {
    auto r = store_->Enqueue(job);
    ASSERT_FALSE(r.has_value()) << ::testing::PrintToString(job.key.value_or(job.queue));
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().ToString();
  }
  for (const std::string& t : bad_text) {
    auto claim = store_->Claim({.queue = t, .worker = "w"});
    ASSERT_FALSE(claim.has_value());
    EXPECT_EQ(claim.error().code, ErrorCode::kInvalidArgument);
  }
  for (DurationMs lease_ms : {DurationMs{0}, DurationMs{-5}, kMaxDurationMs + 1}) {
    auto claim = store_->Claim({.worker = "w", .lease_ms = lease_ms});
    ASSERT_FALSE(claim.has_value()) << lease_ms;
    EXPECT_EQ(claim.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(Snap().jobs.empty());
  EXPECT_TRUE(Snap().audit.empty());
}

// "The same key" means the same key in the same queue: one job. The same
// key in two queues is two jobs whose effect keys differ.
TEST_P(StoreConformanceTest, SameKeyInTwoQueuesIsTwoJobsWithDistinctEffectKeys) {
  const JobId a = Add({.queue = "billing", .key = "order-1"});
  const JobId b = Add({.queue = "email", .key = "order-1"});
  const JobId again = Add({.queue = "billing", .key = "order-1"});
  EXPECT_NE(a, b);
  EXPECT_EQ(a, again);
  EXPECT_EQ(store_->GetJob(a)->EffectKey(), "billing/order-1");
  EXPECT_EQ(store_->GetJob(b)->EffectKey(), "email/order-1");
  // A job without a key is "job:<id>", which no keyed job's effect key can be.
  const JobId plain = Add({.queue = "billing"});
  EXPECT_EQ(store_->GetJob(plain)->EffectKey(), fmt::format("job:{}", plain));
}

TEST_P(StoreConformanceTest, EnqueueCreatesPendingJobWithAudit) {
  JobId a = Add({.payload = "a"});
  JobId b = Add({.payload = "b"});
  EXPECT_LT(a, b);
  auto job = store_->GetJob(a);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->state, JobState::kPending);
  EXPECT_EQ(job->payload, "a");
  EXPECT_EQ(job->run_at_ms, clock_.NowMs());
  EXPECT_EQ(job->attempts, 0);
  EXPECT_EQ(job->timeout_ms, 0);
  EXPECT_EQ(CountAudit(AuditEvent::kEnqueue), 2u);
  // A job's own timeout is kept as given.
  EXPECT_EQ(store_->GetJob(Add({.timeout_ms = 90'000}))->timeout_ms, 90'000);
}

TEST_P(StoreConformanceTest, EnqueueWithSameKeyReturnsExistingJob) {
  auto first = store_->Enqueue({.key = "order-1", .payload = "x"});
  auto second = store_->Enqueue({.key = "order-1", .payload = "different"});
  ASSERT_TRUE(first && second);
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(first->job_id, second->job_id);
  EXPECT_EQ(store_->GetJob(first->job_id)->payload, "x");
  EXPECT_EQ(Snap().jobs.size(), 1u);
  // The key is scoped by queue.
  auto other = store_->Enqueue({.queue = "other", .key = "order-1"});
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->created);
}

TEST_P(StoreConformanceTest, EnqueueBatchAddsEveryJobInOrderOneKeyOnce) {
  ASSERT_TRUE(store_->Enqueue({.key = "old", .payload = "kept"}).has_value());
  const std::vector<NewJob> batch = {{.key = "a", .payload = "1"},
                                     {.payload = "2"},
                                     {.key = "a", .payload = "again"},
                                     {.key = "old", .payload = "again"},
                                     {.key = "b", .payload = "3"}};
  auto r = store_->EnqueueBatch(batch);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->size(), 5u);
  EXPECT_TRUE((*r)[0].created && (*r)[1].created && (*r)[4].created);
  EXPECT_LT((*r)[0].job_id, (*r)[1].job_id);
  EXPECT_LT((*r)[1].job_id, (*r)[4].job_id);
  // A key used earlier in the batch, or before it, names that job.
  EXPECT_FALSE((*r)[2].created);
  EXPECT_EQ((*r)[2].job_id, (*r)[0].job_id);
  EXPECT_FALSE((*r)[3].created);
  EXPECT_EQ((*r)[3].job_id, 1);
  EXPECT_EQ(store_->GetJob((*r)[0].job_id)->payload, "1");
  EXPECT_EQ(Snap().jobs.size(), 4u);
  EXPECT_EQ(CountAudit(AuditEvent::kEnqueue), 4u);
}

TEST_P(StoreConformanceTest, EnqueueBatchWithOneBadJobStoresNothing) {
  const std::vector<NewJob> batch = {{.payload = "fine"}, {.max_attempts = 0}};
  auto r = store_->EnqueueBatch(batch);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("job 1 of the batch"), std::string::npos) << r.error().message;
  EXPECT_EQ(store_->EnqueueBatch({}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(Snap().jobs.empty());
  EXPECT_TRUE(Snap().audit.empty());
}

TEST_P(StoreConformanceTest, EnqueueRejectsBadInputAndStoresNothing) {
  EXPECT_EQ(store_->Enqueue({.max_attempts = 0}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->Enqueue({.key = ""}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->Enqueue({.queue = ""}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(Snap().jobs.empty());
  EXPECT_TRUE(Snap().audit.empty());
}

TEST_P(StoreConformanceTest, ClaimLeasesReadyJobsBestFirstWithTokenOne) {
  JobId low = Add({.priority = 0});
  JobId high = Add({.priority = 5});
  Add({.run_at_ms = clock_.NowMs() + 10'000});  // Not ready yet.
  auto leases = store_->Claim({.worker = "w1", .max_jobs = 10, .lease_ms = 500});
  ASSERT_TRUE(leases.has_value());
  ASSERT_EQ(leases->size(), 2u);
  EXPECT_EQ((*leases)[0].job.id, high);
  EXPECT_EQ((*leases)[1].job.id, low);
  for (const Lease& l : *leases) {
    EXPECT_EQ(l.token, 1);
    EXPECT_EQ(l.expires_at_ms, clock_.NowMs() + 500);
    EXPECT_EQ(StateOf(l.job.id), JobState::kRunning);
    EXPECT_EQ(ExecStateOf(l.execution_id), ExecState::kLeased);
  }
  // Leased jobs are not handed out twice.
  EXPECT_TRUE(store_->Claim({.worker = "w2", .max_jobs = 10, .lease_ms = 500})->empty());
  clock_.AdvanceMs(10'000);
  EXPECT_EQ(store_->Claim({.worker = "w2", .max_jobs = 10, .lease_ms = 500})->size(), 1u);
}

TEST_P(StoreConformanceTest, ClaimRejectsBadRequest) {
  Add();
  EXPECT_EQ(store_->Claim({.worker = "w", .max_jobs = 0}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->Claim({.worker = "", .max_jobs = 1}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->Claim({.worker = "w", .lease_ms = 0}).error().code,
            ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, BeginCommitFinishRecordsOneEffect) {
  JobId id = Add({.key = "k1"});
  Lease l = Started();
  EXPECT_EQ(ExecStateOf(l.execution_id), ExecState::kInProgress);
  auto outcome = store_->Commit(Ref(l), Effect{"charged"});
  ASSERT_TRUE(outcome.has_value()) << outcome.error().ToString();
  EXPECT_EQ(*outcome, CommitOutcome::kCommitted);
  EXPECT_EQ(ExecStateOf(l.execution_id), ExecState::kCommitted);
  EXPECT_EQ(StateOf(id), JobState::kRunning);
  ASSERT_TRUE(store_->Finish(Ref(l)).has_value());
  EXPECT_EQ(ExecStateOf(l.execution_id), ExecState::kDone);
  EXPECT_EQ(StateOf(id), JobState::kSucceeded);
  // Finishing again is harmless.
  EXPECT_TRUE(store_->Finish(Ref(l)).has_value());
  const Snapshot s = Snap();
  ASSERT_EQ(s.effects.size(), 1u);
  EXPECT_EQ(s.effects[0].key, "default/k1");  // "<queue>/<key>": unambiguous across queues.
  EXPECT_EQ(s.effects[0].payload, "charged");
  EXPECT_EQ(s.effects[0].execution_id, l.execution_id);
}

TEST_P(StoreConformanceTest, OutOfOrderCallsAreRefusedAsPreconditions) {
  Add();
  Lease l = ClaimOne();
  EXPECT_EQ(store_->Commit(Ref(l), Effect{"x"}).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store_->Finish(Ref(l)).error().code, ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(store_->Begin(Ref(l)).has_value());
  EXPECT_EQ(store_->Begin(Ref(l)).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(Snap().effects.empty());
  EXPECT_EQ(store_->Begin({9999, 1}).error().code, ErrorCode::kNotFound);
}

TEST_P(StoreConformanceTest, HeartbeatExtendsTheLease) {
  Add();
  Lease l = Started(1'000);
  clock_.AdvanceMs(800);
  ASSERT_TRUE(store_->Heartbeat(Ref(l), 1'000).has_value());
  clock_.AdvanceMs(800);  // Past the original expiry, within the extension.
  EXPECT_EQ(*store_->ReapExpired(), 0);
  EXPECT_EQ(ExecStateOf(l.execution_id), ExecState::kInProgress);
  clock_.AdvanceMs(200);
  EXPECT_EQ(*store_->ReapExpired(), 1);
}

// The lease cap: a worker that heartbeats for ever keeps a job no longer
// than its timeout and one lease; the refusal is audited, the lease runs
// out and the reaper gives the job back, its attempt counted.
TEST_P(StoreConformanceTest, HeartbeatsExtendALeaseOnlyToItsAttemptsCap) {
  const JobId id = Add({.timeout_ms = 2'000});
  Lease l = Started(1'000);
  const TimeMs leased_at = clock_.NowMs();
  const MarkCheck capped(Mark::kAttemptCapped);
  // Beats every half second: extended up to 2,000 + 1,000 after the claim
  // (the beat at 2,000 takes it there).
  for (int beat = 0; beat < 4; ++beat) {
    clock_.AdvanceMs(500);
    ASSERT_TRUE(store_->Heartbeat(Ref(l), 1'000).has_value()) << beat;
  }
  clock_.AdvanceMs(500);  // At 2,500: the lease runs to the cap, no further.
  auto refused = store_->Heartbeat(Ref(l), 1'000);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kAborted);
  EXPECT_NE(refused.error().message.find("attempt capped"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(capped.hit());
  EXPECT_EQ(CountAudit(AuditEvent::kCapped), 1u);
  EXPECT_EQ(ExecStateOf(l.execution_id), ExecState::kInProgress);  // A refusal changes nothing.
  EXPECT_EQ(*store_->ReapExpired(), 0);
  clock_.AdvanceMs(499);
  EXPECT_EQ(*store_->ReapExpired(), 0);
  clock_.AdvanceMs(1);
  EXPECT_EQ(clock_.NowMs(), leased_at + 3'000);
  EXPECT_EQ(*store_->ReapExpired(), 1);
  EXPECT_EQ(ExecStateOf(l.execution_id), ExecState::kAborted);
  EXPECT_EQ(store_->GetJob(id)->state, JobState::kPending);
  EXPECT_EQ(store_->GetJob(id)->attempts, 1);
}

// A worker whose lease ran out unreaped, and whose cap has passed too (it
// was paused), is refused like any capped heartbeat: the lease is not
// moved to the cap, which is already behind it (found by the differential
// test: an assertion stopped the process).
TEST_P(StoreConformanceTest, AHeartbeatAfterTheCapHasPassedIsRefused) {
  Add({.timeout_ms = 1'000});
  Lease l = Started(1'000);
  clock_.AdvanceMs(2'500);  // The lease ran out at 1,000, the cap at 2,000.
  auto refused = store_->Heartbeat(Ref(l), 1'000);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kAborted);
  EXPECT_EQ(CountAudit(AuditEvent::kCapped), 1u);
  EXPECT_EQ(*store_->ReapExpired(), 1);
}

// With the cap off (FM_014's baseline) the same worker keeps its job for
// as long as it beats; a job without a timeout of its own is capped at the
// default (an hour) with the guard on.
TEST_P(StoreConformanceTest, WithoutTheLeaseCapAWorkerThatBeatsKeepsItsJobForEver) {
  for (bool cap : {false, true}) {
    SCOPED_TRACE(cap ? "capped at the default" : "no cap");
    Reopen({.lease_cap = cap});
    ASSERT_NE(store_, nullptr);
    const JobId id = Add();
    Lease l = Started(60'000);
    bool refused = false;
    for (int beat = 0; beat < 200 && !refused; ++beat) {  // 200 minutes.
      clock_.AdvanceMs(60'000);
      refused = !store_->Heartbeat(Ref(l), 120'000).has_value();
      EXPECT_EQ(*store_->ReapExpired(), 0);
    }
    EXPECT_EQ(refused, cap);
    if (cap) {
      EXPECT_EQ(*store_->ReapExpired(), 0);  // The last lease still runs ...
      clock_.AdvanceMs(120'000);
      EXPECT_EQ(*store_->ReapExpired(), 1);  // ... and then it is the reaper's.
    }
    EXPECT_EQ(store_->GetJob(id)->state, cap ? JobState::kPending : JobState::kRunning);
  }
}

TEST_P(StoreConformanceTest, HeartbeatBetweenCommitAndFinishDefersTheReconciler) {
  Add();
  Lease l = Started(1'000);
  ASSERT_TRUE(store_->Commit(Ref(l), Effect{"e"}).has_value());
  clock_.AdvanceMs(900);
  ASSERT_TRUE(store_->Heartbeat(Ref(l), 1'000).has_value());
  clock_.AdvanceMs(900);
  EXPECT_EQ(*store_->Reconcile(), 0);  // The worker is alive; it will finish.
  ASSERT_TRUE(store_->Finish(Ref(l)).has_value());
  EXPECT_EQ(store_->Heartbeat(Ref(l), 1'000).error().code, ErrorCode::kAborted);
}

TEST_P(StoreConformanceTest, ReaperRequeuesExpiredLeaseAndStaleTokenIsFenced) {
  JobId id = Add();
  Lease first = Started(1'000);
  clock_.AdvanceMs(999);
  EXPECT_EQ(*store_->ReapExpired(), 0);
  clock_.AdvanceMs(1);
  EXPECT_EQ(*store_->ReapExpired(), 1);
  EXPECT_EQ(ExecStateOf(first.execution_id), ExecState::kAborted);
  EXPECT_EQ(StateOf(id), JobState::kPending);

  Lease second = Started();
  EXPECT_EQ(second.token, 2);
  // The first holder wakes up and tries to commit: refused, and it shows.
  auto zombie = store_->Commit(Ref(first), Effect{"late"});
  ASSERT_FALSE(zombie.has_value());
  EXPECT_EQ(zombie.error().code, ErrorCode::kAborted);
  EXPECT_EQ(CountAudit(AuditEvent::kFenced), 1u);
  EXPECT_EQ(store_->Heartbeat(Ref(first), 1'000).error().code, ErrorCode::kAborted);
  EXPECT_EQ(store_->Commit({second.execution_id, 1}, Effect{"forged"}).error().code,
            ErrorCode::kAborted);
  ASSERT_TRUE(store_->Commit(Ref(second), Effect{"ok"}).has_value());
  ASSERT_TRUE(store_->Finish(Ref(second)).has_value());
  EXPECT_EQ(Snap().effects.size(), 1u);
}

TEST_P(StoreConformanceTest, ReleaseRequeuesAtOnceWithTheReasonAudited) {
  const JobId id = Add({.max_attempts = 2});
  Lease first = Started();
  ASSERT_TRUE(store_->Release(Ref(first), "database is locked").has_value());
  EXPECT_EQ(ExecStateOf(first.execution_id), ExecState::kAborted);
  const Job job = *store_->GetJob(id);
  EXPECT_EQ(job.state, JobState::kPending);
  EXPECT_EQ(job.run_at_ms, clock_.NowMs());         // Runs again now, not after the lease.
  EXPECT_EQ(CountAudit(AuditEvent::kRelease), 2u);  // The execution's and the job's.
  EXPECT_NE(job.last_error.find("database is locked"), std::string::npos) << job.last_error;
  // The released lease is spent: a second release or a commit on it is fenced.
  EXPECT_EQ(store_->Release(Ref(first), "again").error().code, ErrorCode::kAborted);
  EXPECT_EQ(store_->Commit(Ref(first), Effect{"x"}).error().code, ErrorCode::kAborted);
  // A release spends the attempt: the second one's release dead-letters.
  Lease second = ClaimOne();
  ASSERT_TRUE(store_->Release(Ref(second), "still locked").has_value());
  EXPECT_EQ(StateOf(id), JobState::kDead);
  // Only a live, uncommitted lease can be released.
  Add();
  Lease committed = Started();
  ASSERT_TRUE(store_->Commit(Ref(committed), Effect{"e"}).has_value());
  EXPECT_EQ(store_->Release(Ref(committed), "late").error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(ExecStateOf(committed.execution_id), ExecState::kCommitted);
}

TEST_P(StoreConformanceTest, DeferPutsTheJobBackAtItsTimeAndGivesTheAttemptBack) {
  const JobId id = Add({.max_attempts = 1});
  TimeMs later = 0;
  // Deferred again and again, a job of one attempt never comes nearer its
  // dead letter: each deferral gives its attempt back.
  for (int round = 1; round <= 3; ++round) {
    clock_.Set(std::max(clock_.NowMs(), store_->GetJob(id)->run_at_ms));
    later = clock_.NowMs() + 7'000;
    Lease lease = Started();
    ASSERT_TRUE(store_->Defer(Ref(lease), {.run_at_ms = later, .why = "retry budget spent"}));
    EXPECT_EQ(ExecStateOf(lease.execution_id), ExecState::kAborted);
    const Job job = *store_->GetJob(id);
    EXPECT_EQ(job.state, JobState::kPending);
    EXPECT_EQ(job.run_at_ms, later);
    EXPECT_EQ(job.attempts, round);  // Tokens keep counting: each lease is fenced apart.
    EXPECT_EQ(job.AttemptsUsed(), 0);
    EXPECT_NE(job.last_error.find("retry budget spent"), std::string::npos) << job.last_error;
    // The deferred lease is spent.
    EXPECT_EQ(store_->Defer(Ref(lease), {.run_at_ms = later}).error().code, ErrorCode::kAborted);
  }
  EXPECT_EQ(CountAudit(AuditEvent::kDefer), 6u);  // Each execution's and the job's.
  // Not before its time; then it runs and can still succeed.
  EXPECT_TRUE(store_->Claim({.worker = "w"})->empty());
  clock_.Set(later);
  Lease last = Started();
  ASSERT_TRUE(store_->Commit(Ref(last), Effect{"done"}, CommitThen::kFinish).has_value());
  EXPECT_EQ(StateOf(id), JobState::kSucceeded);
  // Only a live, uncommitted lease can be deferred; a time out of range is refused.
  Add();
  Lease committed = Started();
  ASSERT_TRUE(store_->Commit(Ref(committed), Effect{"e"}).has_value());
  EXPECT_EQ(store_->Defer(Ref(committed), {.run_at_ms = later}).error().code,
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store_->Defer(Ref(committed), {.run_at_ms = -1}).error().code,
            ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, ReaperDeadLettersWhenAttemptsAreExhausted) {
  JobId id = Add({.max_attempts = 2});
  for (int attempt = 1; attempt <= 2; ++attempt) {
    Lease l = ClaimOne(100);
    EXPECT_EQ(l.token, attempt);
    clock_.AdvanceMs(100);
    EXPECT_EQ(*store_->ReapExpired(), 1);
  }
  EXPECT_EQ(StateOf(id), JobState::kDead);
  EXPECT_TRUE(store_->Claim({.worker = "w", .lease_ms = 100})->empty());
}

TEST_P(StoreConformanceTest, FailSchedulesRetryAtTheGivenTime) {
  JobId id = Add();
  Lease l = Started();
  auto outcome = store_->Fail(Ref(l), {.error = "boom", .retry_at_ms = clock_.NowMs() + 5'000});
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(*outcome, FailOutcome::kRetryScheduled);
  EXPECT_EQ(ExecStateOf(l.execution_id), ExecState::kFailed);
  auto job = store_->GetJob(id);
  EXPECT_EQ(job->state, JobState::kPending);
  EXPECT_EQ(job->last_error, "boom");
  EXPECT_TRUE(store_->Claim({.worker = "w", .lease_ms = 100})->empty());
  clock_.AdvanceMs(5'000);
  EXPECT_EQ(ClaimOne().token, 2);
}

TEST_P(StoreConformanceTest, FailWithoutRetryDeadLettersAndRedriveRestartsTheBudget) {
  JobId id = Add({.max_attempts = 1});
  Lease l = Started();
  EXPECT_EQ(*store_->Fail(Ref(l), {.error = "poison"}), FailOutcome::kDeadLettered);
  EXPECT_EQ(StateOf(id), JobState::kDead);
  ASSERT_TRUE(store_->Redrive(id).has_value());
  auto job = store_->GetJob(id);
  EXPECT_EQ(job->state, JobState::kPending);
  EXPECT_EQ(job->AttemptsUsed(), 0);
  Lease again = ClaimOne(100);
  EXPECT_EQ(again.token, 2);  // Tokens never go back.
  clock_.AdvanceMs(100);
  EXPECT_EQ(*store_->ReapExpired(), 1);
  EXPECT_EQ(StateOf(id), JobState::kDead);  // One attempt per redrive.
}

TEST_P(StoreConformanceTest, RedriveRefusesLiveAndUnknownJobs) {
  JobId id = Add();
  EXPECT_EQ(store_->Redrive(id).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store_->Redrive(4242).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(StateOf(id), JobState::kPending);
}

TEST_P(StoreConformanceTest, ReconcileFinalizesCommittedButUnfinishedExecutions) {
  JobId id = Add();
  Lease l = Started(1'000);
  ASSERT_TRUE(store_->Commit(Ref(l), Effect{"e"}).has_value());
  // The worker dies here. Before its lease runs out nothing is touched.
  EXPECT_EQ(*store_->Reconcile(), 0);
  clock_.AdvanceMs(1'000);
  // The reaper never aborts a committed execution.
  EXPECT_EQ(*store_->ReapExpired(), 0);
  EXPECT_EQ(ExecStateOf(l.execution_id), ExecState::kCommitted);
  EXPECT_EQ(*store_->Reconcile(), 1);
  EXPECT_EQ(ExecStateOf(l.execution_id), ExecState::kDone);
  EXPECT_EQ(StateOf(id), JobState::kSucceeded);
  EXPECT_EQ(Snap().effects.size(), 1u);
  // A late finish from the original worker is still accepted, idempotently.
  EXPECT_TRUE(store_->Finish(Ref(l)).has_value());
}

TEST_P(StoreConformanceTest, CommitBoundaryShortCircuitsADuplicateEvenWithoutFencing) {
  Reopen({.enforce_fencing = false, .enforce_commit_boundary = true});
  Add();
  Lease first = Started(100);
  clock_.AdvanceMs(100);
  ASSERT_EQ(*store_->ReapExpired(), 1);
  Lease second = Started(100);
  ASSERT_EQ(*store_->Commit(Ref(second), Effect{"one"}), CommitOutcome::kCommitted);
  auto dup = store_->Commit(Ref(first), Effect{"two"});
  ASSERT_TRUE(dup.has_value());
  EXPECT_EQ(*dup, CommitOutcome::kAlreadyCommitted);
  EXPECT_EQ(Snap().effects.size(), 1u);
  EXPECT_EQ(CountAudit(AuditEvent::kDuplicate), 1u);
}

TEST_P(StoreConformanceTest, WithoutFencingAZombieCommitIsAcceptedAndAudited) {
  Reopen({.enforce_fencing = false, .enforce_commit_boundary = true});
  Add();
  Lease first = Started(100);
  clock_.AdvanceMs(100);
  ASSERT_EQ(*store_->ReapExpired(), 1);
  ASSERT_EQ(*store_->Commit(Ref(first), Effect{"zombie"}), CommitOutcome::kCommitted);
  // The audit log shows the illegal ABORTED -> COMMITTED move for INV_003.
  const auto audit = Snap().audit;
  const bool illegal = std::any_of(audit.begin(), audit.end(), [](const AuditEntry& a) {
    return a.event == AuditEvent::kCommit && a.from == "ABORTED" && a.to == "COMMITTED";
  });
  EXPECT_TRUE(illegal);
}

// Every transition of one job, in audit order, as "event:from>to".
std::vector<std::string> AuditTrail(const Snapshot& snapshot) {
  std::vector<std::string> events;
  int64_t last_seq = 0;
  for (const AuditEntry& a : snapshot.audit) {
    EXPECT_GT(a.seq, last_seq);
    last_seq = a.seq;
    events.push_back(std::string(ToString(a.event)) + ":" + a.from + ">" + a.to);
  }
  return events;
}

const std::vector<std::string> kOneJobTrail = {
    "enqueue:>PENDING",         "claim:PENDING>RUNNING",        "claim:>LEASED",
    "begin:LEASED>IN_PROGRESS", "commit:IN_PROGRESS>COMMITTED", "finish:COMMITTED>DONE",
    "finish:RUNNING>SUCCEEDED"};

TEST_P(StoreConformanceTest, AuditLogRecordsEveryTransitionInOrder) {
  Add();
  Lease l = Started();
  ASSERT_TRUE(store_->Commit(Ref(l), Effect{"e"}).has_value());
  ASSERT_TRUE(store_->Finish(Ref(l)).has_value());
  EXPECT_EQ(AuditTrail(Snap()), kOneJobTrail);
}

TEST_P(StoreConformanceTest, FusedClaimAndCommitAuditEveryTransitionOfTheSplitPath) {
  const JobId id = Add({.key = "k"});
  auto leases = store_->Claim({.worker = "w1", .max_jobs = 1, .begin = true});
  ASSERT_TRUE(leases.has_value() && leases->size() == 1u);
  const Lease l = leases->front();
  EXPECT_EQ(ExecStateOf(l.execution_id), ExecState::kInProgress);
  EXPECT_EQ(store_->Begin(Ref(l)).error().code, ErrorCode::kFailedPrecondition);
  auto outcome = store_->Commit(Ref(l), Effect{"e"}, CommitThen::kFinish);
  ASSERT_TRUE(outcome.has_value()) << outcome.error().ToString();
  EXPECT_EQ(*outcome, CommitOutcome::kCommitted);
  EXPECT_EQ(ExecStateOf(l.execution_id), ExecState::kDone);
  EXPECT_EQ(StateOf(id), JobState::kSucceeded);
  const Snapshot s = Snap();
  EXPECT_EQ(s.effects.size(), 1u);
  EXPECT_EQ(AuditTrail(s), kOneJobTrail);
}

TEST_P(StoreConformanceTest, CompleteRecordsEachItemOnItsOwnInOneCall) {
  const JobId ok = Add({.key = "ok"});
  const JobId retry = Add({.key = "retry"});
  const JobId dead = Add({.key = "dead"});
  const JobId zombie = Add({.key = "zombie", .max_attempts = 3});
  auto leases = store_->Claim({.worker = "w1", .max_jobs = 4, .lease_ms = 1'000, .begin = true});
  ASSERT_TRUE(leases.has_value() && leases->size() == 4u);
  std::map<JobId, LeaseRef> by_job;
  for (const Lease& l : *leases) by_job[l.job.id] = Ref(l);
  // The zombie's lease is taken over before its worker reports.
  clock_.AdvanceMs(2'000);
  ASSERT_EQ(*store_->ReapExpired(), 4);
  auto again = store_->Claim({.worker = "w2", .max_jobs = 4, .lease_ms = 1'000, .begin = true});
  ASSERT_TRUE(again.has_value() && again->size() == 4u);
  for (const Lease& l : *again) {
    if (l.job.id != zombie) by_job[l.job.id] = Ref(l);
  }
  const std::vector<Completion> items = {
      {.lease = by_job[ok], .effect = Effect{"paid"}},
      {.lease = by_job[retry], .fail = FailRequest{"busy", clock_.NowMs() + 500}},
      {.lease = by_job[dead], .fail = FailRequest{"bad input", std::nullopt}},
      {.lease = by_job[zombie], .effect = Effect{"late"}},
      {.lease = {9999, 1}, .effect = Effect{"nobody"}}};
  auto out = store_->Complete(items);
  ASSERT_TRUE(out.has_value()) << out.error().ToString();
  ASSERT_EQ(out->size(), 5u);
  EXPECT_EQ((*out)[0], CompleteOutcome::kFinished);
  EXPECT_EQ((*out)[1], CompleteOutcome::kRetryScheduled);
  EXPECT_EQ((*out)[2], CompleteOutcome::kDeadLettered);
  EXPECT_EQ((*out)[3].error().code, ErrorCode::kAborted);
  EXPECT_EQ((*out)[4].error().code, ErrorCode::kNotFound);
  EXPECT_EQ(StateOf(ok), JobState::kSucceeded);
  EXPECT_EQ(StateOf(retry), JobState::kPending);
  EXPECT_EQ(StateOf(dead), JobState::kDead);
  EXPECT_EQ(StateOf(zombie), JobState::kRunning);  // Its new lease stands.
  const Snapshot s = Snap();
  ASSERT_EQ(s.effects.size(), 1u);
  EXPECT_EQ(s.effects[0].payload, "paid");
  EXPECT_TRUE(std::any_of(s.audit.begin(), s.audit.end(), [&](const AuditEntry& a) {
    return a.job_id == zombie && a.event == AuditEvent::kFenced;
  }));
}

TEST_P(StoreConformanceTest, CompleteRefusesABadBatchWhole) {
  Add();
  Lease l = Started();
  EXPECT_EQ(store_->Complete({}).error().code, ErrorCode::kInvalidArgument);
  const std::vector<Completion> bad = {{.lease = Ref(l), .effect = Effect{"x"}},
                                       {.lease = Ref(l), .fail = FailRequest{"e", kMaxTimeMs + 1}}};
  EXPECT_EQ(store_->Complete(bad).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ExecStateOf(l.execution_id), ExecState::kInProgress);
  EXPECT_TRUE(Snap().effects.empty());
}

TEST_P(StoreConformanceTest, FusedCommitOfADuplicateStopsAtAbortedWithNoEffect) {
  Add();
  Lease first = Started(100);
  clock_.AdvanceMs(200);
  ASSERT_EQ(*store_->ReapExpired(), 1);
  auto second = store_->Claim({.worker = "w2", .max_jobs = 1, .begin = true});
  ASSERT_TRUE(second.has_value() && second->size() == 1u);
  ASSERT_EQ(*store_->Commit(Ref(second->front()), Effect{"one"}, CommitThen::kFinish),
            CommitOutcome::kCommitted);
  // The first worker's late commit is fenced, finish or not.
  EXPECT_EQ(store_->Commit(Ref(first), Effect{"two"}, CommitThen::kFinish).error().code,
            ErrorCode::kAborted);
  EXPECT_EQ(Snap().effects.size(), 1u);
}

TEST_P(StoreConformanceTest, OperatorReadsListInspectAndCount) {
  JobId a = Add({.queue = "mail", .key = "m1"});
  JobId b = Add({.queue = "mail"});
  JobId c = Add({.queue = "billing", .max_attempts = 1});
  EXPECT_TRUE(store_->Claim({.worker = "w", .lease_ms = 100})->empty());  // Default queue: empty.
  auto leases = store_->Claim({.queue = "billing", .worker = "w", .lease_ms = 100});
  ASSERT_EQ(leases->size(), 1u);
  const LeaseRef ref{leases->front().execution_id, leases->front().token};
  ASSERT_TRUE(store_->Begin(ref).has_value());
  ASSERT_TRUE(store_->Fail(ref, {.error = "bad card"}).has_value());

  auto mail = store_->ListJobs({.queue = "mail"});
  ASSERT_TRUE(mail.has_value());
  ASSERT_EQ(mail->size(), 2u);
  EXPECT_EQ((*mail)[0].id, a);
  EXPECT_EQ((*mail)[1].id, b);
  auto dead = store_->ListJobs({.state = JobState::kDead});
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].id, c);
  EXPECT_EQ((*dead)[0].last_error, "bad card");
  EXPECT_EQ(store_->ListJobs({.limit = 1})->size(), 1u);
  EXPECT_EQ(store_->ListJobs({.limit = 0}).error().code, ErrorCode::kInvalidArgument);
  // The jobs that finished since a time: c, dead-lettered now; the pending
  // ones have not finished.
  const TimeMs now = clock_.NowMs();
  auto recent = store_->ListJobs({.finished_since_ms = now});
  ASSERT_TRUE(recent.has_value()) << recent.error().ToString();
  ASSERT_EQ(recent->size(), 1u);
  EXPECT_EQ((*recent)[0].id, c);
  EXPECT_TRUE(store_->ListJobs({.finished_since_ms = now + 1})->empty());
  EXPECT_TRUE(store_->ListJobs({.queue = "mail", .finished_since_ms = 0})->empty());

  auto detail = store_->InspectJob(c);
  ASSERT_TRUE(detail.has_value()) << detail.error().ToString();
  EXPECT_EQ(detail->job.state, JobState::kDead);
  ASSERT_EQ(detail->executions.size(), 1u);
  EXPECT_EQ(detail->executions[0].state, ExecState::kFailed);
  EXPECT_EQ(detail->audit.size(), 6u);  // enqueue, claim x2, begin, fail, dead.
  EXPECT_TRUE(detail->effects.empty());
  EXPECT_EQ(store_->InspectJob(999).error().code, ErrorCode::kNotFound);

  auto counts = store_->CountJobs();
  ASSERT_TRUE(counts.has_value());
  ASSERT_EQ(counts->size(), 2u);
  EXPECT_EQ((*counts)[0].queue, "billing");
  EXPECT_EQ((*counts)[0].state, JobState::kDead);
  EXPECT_EQ((*counts)[0].count, 1);
  EXPECT_EQ((*counts)[1].queue, "mail");
  EXPECT_EQ((*counts)[1].state, JobState::kPending);
  EXPECT_EQ((*counts)[1].count, 2);
}

// The retention policy on every backend: jobs that finished (SUCCEEDED or
// DEAD) at or before now - retain go with their executions, effects and
// audit entries; running, pending and younger jobs stay; one audit entry
// (job 0) records the deletion; every job's finished_at is when it finished.
TEST_P(StoreConformanceTest, PruneDeletesOnlyJobsFinishedBeforeTheRetentionWindow) {
  const TimeMs t0 = clock_.NowMs();
  const JobId done = Add({.key = "done"});
  Lease l = Started(60'000);
  ASSERT_TRUE(store_->Commit(Ref(l), Effect{"e"}, CommitThen::kFinish).has_value());
  clock_.AdvanceMs(1'000);
  const JobId dead = Add({.max_attempts = 1});
  Lease d = Started(60'000);
  ASSERT_EQ(d.job.id, dead);
  ASSERT_TRUE(store_->Fail(Ref(d), {.error = "boom"}).has_value());
  const JobId running = Add();
  Lease r = Started(600'000);
  ASSERT_EQ(r.job.id, running);
  clock_.AdvanceMs(5'000);
  const JobId young = Add();
  Lease y = Started(60'000);
  ASSERT_EQ(y.job.id, young);
  ASSERT_TRUE(store_->Commit(Ref(y), Effect{"young"}, CommitThen::kFinish).has_value());
  const JobId pending = Add();
  EXPECT_EQ(store_->GetJob(done)->finished_at_ms, t0);
  EXPECT_EQ(store_->GetJob(dead)->finished_at_ms, t0 + 1'000);
  EXPECT_EQ(store_->GetJob(running)->finished_at_ms, 0);
  const size_t audit_before = Snap().audit.size();

  clock_.AdvanceMs(1'000);  // now = t0 + 7s: retain 5s reaches t0 + 2s.
  auto pruned = store_->Prune({.retain = 5'000});
  ASSERT_TRUE(pruned.has_value()) << pruned.error().ToString();
  EXPECT_EQ(pruned->jobs, 2);
  EXPECT_EQ(pruned->executions, 2);
  EXPECT_EQ(pruned->effects, 1);
  EXPECT_EQ(pruned->cutoff_ms, t0 + 2'000);
  const Snapshot s = Snap();
  std::vector<JobId> kept;
  for (const Job& j : s.jobs) kept.push_back(j.id);
  EXPECT_EQ(kept, (std::vector<JobId>{running, young, pending}));
  for (const Execution& e : s.executions) EXPECT_TRUE(e.job_id == running || e.job_id == young);
  ASSERT_EQ(s.effects.size(), 1u);
  EXPECT_EQ(s.effects[0].job_id, young);
  int prune_entries = 0;
  for (const AuditEntry& a : s.audit) {
    EXPECT_NE(a.job_id, done);
    EXPECT_NE(a.job_id, dead);
    if (a.event == AuditEvent::kPrune) {
      ++prune_entries;
      EXPECT_EQ(a.job_id, 0);
      EXPECT_NE(a.detail.find("deleted 2 job(s)"), std::string::npos) << a.detail;
    }
  }
  EXPECT_EQ(prune_entries, 1);
  EXPECT_EQ(s.audit.size(), audit_before - static_cast<size_t>(pruned->audit) + 1);
  EXPECT_EQ(store_->GetJob(done).error().code, ErrorCode::kNotFound);

  // Nothing more is old enough: no deletion, no audit entry.
  auto again = store_->Prune({.retain = 5'000});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->jobs, 0);
  EXPECT_EQ(CountAudit(AuditEvent::kPrune), 1u);
}

// A pruned job is gone for good: a late call with its lease is refused and
// writes nothing, and its idempotency key may name a new job. The jobs of
// the newest job id, execution, ledger effect and audit entry are kept, so
// no id or audit seq comes back (NewestIds).
TEST_P(StoreConformanceTest, PruneRefusesLateCallsForgetsKeysAndNeverReusesIds) {
  const JobId first = Add({.key = "k"});
  Lease zombie = Started(1'000);
  clock_.AdvanceMs(2'000);
  ASSERT_EQ(store_->ReapExpired(), 1);
  Lease second = Started(60'000);
  ASSERT_EQ(second.job.id, first);
  ASSERT_TRUE(store_->Commit(Ref(second), Effect{"once"}, CommitThen::kFinish).has_value());
  // The newest job and the newest execution are first's: nothing to prune.
  auto none = store_->Prune({.retain = 0});
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->jobs, 0);
  const JobId other = Add();
  Lease o = Started(60'000);
  ASSERT_TRUE(store_->Commit(Ref(o), Effect{"other"}, CommitThen::kFinish).has_value());
  const Snapshot before = Snap();
  auto pruned = store_->Prune({.retain = 0});
  ASSERT_TRUE(pruned.has_value());
  EXPECT_EQ(pruned->jobs, 1);
  EXPECT_EQ(pruned->executions, 2);

  auto late = store_->Commit(Ref(zombie), Effect{"twice"}, CommitThen::kFinish);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, ErrorCode::kNotFound) << late.error().ToString();
  EXPECT_FALSE(store_->Heartbeat(Ref(second), 1'000).has_value());
  ASSERT_EQ(Snap().effects.size(), 1u);
  EXPECT_EQ(Snap().effects[0].job_id, other);

  auto again = store_->Enqueue({.key = "k"});
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->created);
  EXPECT_GT(again->job_id, other);
  Lease fresh = ClaimOne(60'000);
  EXPECT_GT(fresh.execution_id, o.execution_id);
  ASSERT_TRUE(store_->Begin(Ref(fresh)).has_value());
  ASSERT_TRUE(store_->Commit(Ref(fresh), Effect{"new"}, CommitThen::kFinish).has_value());
  const Snapshot after = Snap();
  EXPECT_GT(after.effects.back().id, before.effects.back().id);
  for (const AuditEntry& a : after.audit) {
    if (a.job_id == again->job_id) {
      EXPECT_GT(a.seq, before.audit.back().seq) << a.seq;
    }
  }
}

// The job of the newest audit entry is kept even when nothing else keeps
// it (here a drill's finding on an old finished job is that entry): else
// SQLite's next entry, the prune's own, would take its seq again.
TEST_P(StoreConformanceTest, PruneKeepsTheJobOfTheNewestAuditEntry) {
  const JobId old = Add();
  Lease l = Started(60'000);
  ASSERT_TRUE(store_->Commit(Ref(l), Effect{"old"}, CommitThen::kFinish).has_value());
  const JobId newer = Add();  // The newest job, execution and ledger effect.
  Lease n = Started(60'000);
  ASSERT_TRUE(store_->Commit(Ref(n), Effect{"newer"}, CommitThen::kFinish).has_value());
  ASSERT_TRUE(store_->RecordFinding(old, "drill: mismatched").has_value());
  const int64_t finding_seq = Snap().audit.back().seq;
  clock_.AdvanceMs(1'000);
  ASSERT_TRUE(store_->Prune({.retain = 0}).has_value());
  EXPECT_TRUE(store_->GetJob(old).has_value()) << "the newest audit entry's job was pruned";
  EXPECT_TRUE(store_->GetJob(newer).has_value());
  ASSERT_TRUE(store_->Enqueue({}).has_value());
  for (const AuditEntry& a : Snap().audit) {
    if (a.event != AuditEvent::kDrill) {
      EXPECT_NE(a.seq, finding_seq) << "seq handed out twice";
    }
  }
}

// Bad retention requests are refused before anything is read or written.
TEST_P(StoreConformanceTest, PruneRefusesOutOfRangeRequests) {
  for (const PruneRequest& bad :
       {PruneRequest{.retain = -1}, PruneRequest{.retain = kMaxDurationMs + 1},
        PruneRequest{.limit = 0}, PruneRequest{.limit = kMaxEnqueueBatch + 1}}) {
    auto r = store_->Prune(bad);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().ToString();
  }
  EXPECT_EQ(CountAudit(AuditEvent::kPrune), 0u);
}

// Admission control, the depth limit: an enqueue that finds its queue at
// the limit is refused with kOverloaded and writes nothing; a batch is
// refused whole; a repeated key is still answered; a finished job frees its
// place; another queue is not limited; removing the limit admits again.
TEST_P(StoreConformanceTest, AQueueAtItsDepthLimitRefusesEnqueuesAndWritesNothing) {
  ASSERT_TRUE(store_->SetQueueLimit({.queue = "default", .max_depth = 2}).has_value());
  EXPECT_EQ(store_->QueueLimits().value(),
            (std::vector<QueueLimit>{{.queue = "default", .max_depth = 2}}));
  Add({.key = "a"});
  Add({.key = "b"});
  const size_t audit_before = Snap().audit.size();
  auto full = store_->Enqueue({.key = "c"});
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().code, ErrorCode::kOverloaded) << full.error().ToString();
  EXPECT_NE(full.error().message.find("queue 'default' is full"), std::string::npos)
      << full.error().message;
  EXPECT_EQ(Snap().jobs.size(), 2u);
  EXPECT_EQ(Snap().audit.size(), audit_before);
  // A key already used names its job: nothing new is asked of the queue.
  auto again = store_->Enqueue({.key = "a"});
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_FALSE(again->created);
  // Another queue has no limit.
  ASSERT_TRUE(store_->Enqueue({.queue = "other"}).has_value());

  // A running job still holds its place; a finished one gives it back.
  Lease l = Started(60'000);
  EXPECT_EQ(store_->Enqueue({}).error().code, ErrorCode::kOverloaded);
  ASSERT_TRUE(store_->Commit(Ref(l), std::nullopt, CommitThen::kFinish).has_value());
  ASSERT_TRUE(store_->Enqueue({.key = "c"}).has_value());
  // A batch that would pass the limit is refused whole, naming the job.
  ASSERT_TRUE(store_->SetQueueLimit({.queue = "default", .max_depth = 4}).has_value());
  const std::vector<NewJob> three(3);
  auto batch = store_->EnqueueBatch(three);
  ASSERT_FALSE(batch.has_value());
  EXPECT_EQ(batch.error().code, ErrorCode::kOverloaded);
  EXPECT_NE(batch.error().message.find("job 2 of the batch"), std::string::npos)
      << batch.error().message;
  EXPECT_EQ(Snap().jobs.size(), 4u);
  ASSERT_TRUE(store_->EnqueueBatch(std::span(three).first(2)).has_value());

  // No limit: admitted again. Every change of limit is audited (job 0).
  ASSERT_TRUE(store_->SetQueueLimit({.queue = "default", .max_depth = 0}).has_value());
  EXPECT_TRUE(store_->QueueLimits().value().empty());
  EXPECT_TRUE(store_->Enqueue({}).has_value());
  EXPECT_EQ(CountAudit(AuditEvent::kLimit), 3u);
  for (const QueueLimit& bad :
       {QueueLimit{.queue = "q", .max_depth = -1}, QueueLimit{.queue = "", .max_depth = 1},
        QueueLimit{.queue = "q", .max_depth = kMaxQueueDepth + 1}}) {
    EXPECT_EQ(store_->SetQueueLimit(bad).error().code, ErrorCode::kInvalidArgument);
  }
}

// Admission control, the deadline: a claim that finds a job whose deadline
// passed expires it (EXPIRED, its reason recorded and audited, never run)
// and looks further, so the caller still gets a job that may run. A job is
// not late at its deadline itself. An expired job is finished: retention
// prunes it, and redriving it is refused.
TEST_P(StoreConformanceTest, AJobPastItsDeadlineIsExpiredByTheClaimNotRun) {
  const TimeMs now = clock_.NowMs();
  const JobId late1 = Add({.deadline_ms = now + 1'000});
  const JobId late2 = Add({.deadline_ms = now + 2'000});
  const JobId in_time = Add({.deadline_ms = now + 3'000});
  const JobId no_deadline = Add();
  clock_.AdvanceMs(3'000);  // now + 3 s: the first two are late, the third exactly on time.
  Lease l = ClaimOne(60'000);
  EXPECT_EQ(l.job.id, in_time);
  EXPECT_EQ(l.job.deadline_at_ms, now + 3'000);
  for (JobId late : {late1, late2}) {
    const Job j = store_->GetJob(late).value();
    EXPECT_EQ(j.state, JobState::kExpired);
    EXPECT_EQ(j.attempts, 0);
    EXPECT_EQ(j.finished_at_ms, now + 3'000);
    EXPECT_NE(j.last_error.find("deadline"), std::string::npos) << j.last_error;
  }
  EXPECT_EQ(CountAudit(AuditEvent::kExpire), 2u);
  for (const Execution& e : Snap().executions) EXPECT_EQ(e.job_id, in_time);
  EXPECT_EQ(ClaimOne(60'000).job.id, no_deadline);

  auto redrive = store_->Redrive(late1);
  ASSERT_FALSE(redrive.has_value());
  EXPECT_EQ(redrive.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(redrive.error().message.find("EXPIRED"), std::string::npos);
  auto pruned = store_->Prune({.retain = 0});
  ASSERT_TRUE(pruned.has_value());
  EXPECT_EQ(pruned->jobs, 2);
  EXPECT_EQ(store_->ListJobs({.state = JobState::kExpired}).value().size(), 0u);

  // A deadline before the job may start can never be met: refused.
  auto never = store_->Enqueue({.run_at_ms = now + 10'000, .deadline_ms = now + 5'000});
  ASSERT_FALSE(never.has_value());
  EXPECT_EQ(never.error().code, ErrorCode::kInvalidArgument) << never.error().ToString();
}

// With admission control off (a failure mode's baseline) the store admits
// past the limit and runs a job however late.
TEST_P(StoreConformanceTest, WithoutAdmissionControlEverythingIsAdmittedAndRun) {
  Reopen({.admission_control = false});
  ASSERT_NE(store_, nullptr);
  ASSERT_TRUE(store_->SetQueueLimit({.queue = "default", .max_depth = 1}).has_value());
  const JobId late = Add({.deadline_ms = clock_.NowMs() + 1});
  Add();
  clock_.AdvanceMs(10'000);
  EXPECT_EQ(ClaimOne().job.id, late);
  EXPECT_EQ(CountAudit(AuditEvent::kExpire), 0u);
}

// The refusal matrix: every call a worker makes after its claim, against
// every way it must be refused, on every backend: the error code, nothing
// changed but the audit trail, and the audit signal the refusal leaves (a
// `fenced` entry when the caller no longer holds the job; none for a
// caller calling out of order on its own live execution, a bug of its own).
template <typename T>
Result<void> WithoutValue(const Result<T>& r) {
  if (!r) return std::unexpected(r.error());
  return {};
}

enum class AfterClaim { kHeartbeat, kBegin, kCommit, kFinish, kFail, kRelease, kDefer };
constexpr std::string_view kAfterClaimNames[] = {"heartbeat", "begin",   "commit", "finish",
                                                 "fail",      "release", "defer"};
enum class Refusal {
  kStaleToken,  // Its lease was reaped and the job claimed again: a newer token.
  kEnded,       // Its execution was reaped (ABORTED), the job not claimed since.
  kOutOfOrder,  // Its own live execution, in a state the call does not apply to.
};
constexpr std::string_view kRefusalNames[] = {"stale token", "ended", "out of order"};

TEST_P(StoreConformanceTest, EveryCallAfterClaimIsRefusedCleanlyInEveryWayItMustBe) {
  const AfterClaim calls[] = {AfterClaim::kHeartbeat, AfterClaim::kBegin, AfterClaim::kCommit,
                              AfterClaim::kFinish,    AfterClaim::kFail,  AfterClaim::kRelease,
                              AfterClaim::kDefer};
  const auto call = [&](AfterClaim c, const Lease& l) -> Result<void> {
    switch (c) {
      case AfterClaim::kHeartbeat:
        return store_->Heartbeat(Ref(l), 1'000);
      case AfterClaim::kBegin:
        return store_->Begin(Ref(l));
      case AfterClaim::kCommit:
        return WithoutValue(store_->Commit(Ref(l), Effect{"charge"}));
      case AfterClaim::kFinish:
        return store_->Finish(Ref(l));
      case AfterClaim::kFail:
        return WithoutValue(store_->Fail(Ref(l), {.error = "boom", .retry_at_ms = clock_.NowMs()}));
      case AfterClaim::kRelease:
        return store_->Release(Ref(l), "giving up");
      case AfterClaim::kDefer:
        return store_->Defer(Ref(l), {.run_at_ms = clock_.NowMs(), .why = "held"});
    }
    return {};
  };
  // The caller's own live execution in a state each call does not apply
  // to: claimed only (LEASED), begun (IN_PROGRESS) or committed. None for
  // a heartbeat (any live state), nor release and defer (a committed
  // execution has nothing to let go of: they do nothing, successfully).
  const auto wrong_state = [](AfterClaim c) -> std::optional<ExecState> {
    switch (c) {
      case AfterClaim::kBegin:
        return ExecState::kInProgress;
      case AfterClaim::kCommit:
        return ExecState::kLeased;
      case AfterClaim::kFinish:
        return ExecState::kInProgress;
      case AfterClaim::kFail:
        return ExecState::kCommitted;
      default:
        return std::nullopt;
    }
  };
  int cases = 0;
  for (AfterClaim c : calls) {
    for (Refusal why : {Refusal::kStaleToken, Refusal::kEnded, Refusal::kOutOfOrder}) {
      SCOPED_TRACE(::testing::Message() << kAfterClaimNames[static_cast<int>(c)] << ", "
                                        << kRefusalNames[static_cast<int>(why)]);
      Reopen({});
      ASSERT_NE(store_, nullptr);
      Add();
      Lease mine = ClaimOne();
      if (why == Refusal::kOutOfOrder) {
        const auto state = wrong_state(c);
        if (!state) continue;
        if (*state != ExecState::kLeased) {
          ASSERT_TRUE(store_->Begin(Ref(mine)).has_value());
        }
        if (*state == ExecState::kCommitted) {
          ASSERT_TRUE(store_->Commit(Ref(mine), Effect{"e"}).has_value());
        }
      } else {
        ASSERT_TRUE(store_->Begin(Ref(mine)).has_value());
        clock_.AdvanceMs(1'000);
        ASSERT_EQ(*store_->ReapExpired(), 1);
        if (why == Refusal::kStaleToken) {
          auto taken = store_->Claim({.worker = "w2", .max_jobs = 1, .lease_ms = 1'000});
          ASSERT_TRUE(taken.has_value() && taken->size() == 1u);
          ASSERT_EQ(taken->front().token, mine.token + 1);
        }
      }
      const Snapshot before = Snap();
      auto refused = call(c, mine);
      ASSERT_FALSE(refused.has_value());
      ++cases;
      const Snapshot after = Snap();
      EXPECT_EQ(after.jobs, before.jobs);
      EXPECT_EQ(after.executions, before.executions);
      EXPECT_EQ(after.effects, before.effects);
      if (why == Refusal::kOutOfOrder) {
        EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition)
            << refused.error().ToString();
        EXPECT_EQ(after.audit.size(), before.audit.size());
      } else {
        EXPECT_EQ(refused.error().code, ErrorCode::kAborted) << refused.error().ToString();
        ASSERT_EQ(after.audit.size(), before.audit.size() + 1);
        EXPECT_EQ(after.audit.back().event, AuditEvent::kFenced);
        EXPECT_EQ(after.audit.back().execution_id, mine.execution_id);
      }
    }
  }
  EXPECT_EQ(cases, 7 * 2 + 4);
}

// Redrive, the operator's call: from DEAD only; every other state refused,
// nothing changed, nothing audited.
TEST_P(StoreConformanceTest, RedriveIsRefusedFromEveryStateButDead) {
  const auto job_in = [&](JobState state) -> JobId {
    const JobId id = Add({.max_attempts = 1, .deadline_ms = clock_.NowMs() + 10});
    if (state == JobState::kPending) return id;
    if (state == JobState::kExpired) {
      clock_.AdvanceMs(100);
      EXPECT_TRUE(store_->Claim({.worker = "w1", .max_jobs = 1, .lease_ms = 1'000})->empty());
      return id;
    }
    Lease l = Started();
    if (state == JobState::kSucceeded) {
      EXPECT_TRUE(store_->Commit(Ref(l), Effect{"e"}, CommitThen::kFinish).has_value());
    }
    if (state == JobState::kDead) {
      EXPECT_TRUE(store_->Fail(Ref(l), {.error = "no"}).has_value());
    }
    return id;
  };
  for (JobState state : {JobState::kPending, JobState::kRunning, JobState::kSucceeded,
                         JobState::kDead, JobState::kExpired}) {
    SCOPED_TRACE(ToString(state));
    Reopen({});
    ASSERT_NE(store_, nullptr);
    const JobId id = job_in(state);
    ASSERT_EQ(StateOf(id), state);
    const Snapshot before = Snap();
    auto redriven = store_->Redrive(id);
    if (state == JobState::kDead) {
      ASSERT_TRUE(redriven.has_value()) << redriven.error().ToString();
      EXPECT_EQ(StateOf(id), JobState::kPending);
      continue;
    }
    ASSERT_FALSE(redriven.has_value());
    EXPECT_EQ(redriven.error().code, ErrorCode::kFailedPrecondition);
    const Snapshot after = Snap();
    EXPECT_EQ(after.jobs, before.jobs);
    EXPECT_EQ(after.executions, before.executions);
    EXPECT_EQ(after.audit.size(), before.audit.size());
  }
}

// A redriven job is unfinished again: a queue at its depth limit refuses
// the redrive as it refuses an enqueue, and the job stays DEAD; with room,
// it goes. A drill's finding is one audit entry and changes nothing else.
TEST_P(StoreConformanceTest, RedriveRespectsTheDepthLimitAndAFindingIsOnlyRecorded) {
  const JobId dead = Add({.max_attempts = 1});
  Lease l = Started();
  ASSERT_TRUE(store_->Fail(Ref(l), {.error = "no"}).has_value());
  ASSERT_EQ(StateOf(dead), JobState::kDead);
  const JobId waiting = Add();
  ASSERT_TRUE(store_->SetQueueLimit({.queue = "default", .max_depth = 1}).has_value());
  auto refused = store_->Redrive(dead);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kOverloaded);
  EXPECT_NE(refused.error().message.find("the job stays DEAD"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(StateOf(dead), JobState::kDead);
  ASSERT_TRUE(store_->Claim({.worker = "w1", .max_jobs = 1, .lease_ms = 1'000}).has_value());
  const Snapshot before = Snap();
  ASSERT_TRUE(store_->RecordFinding(dead, "drill: extra: held downstream").has_value());
  const Snapshot after = Snap();
  EXPECT_EQ(after.jobs, before.jobs);
  EXPECT_EQ(after.executions, before.executions);
  ASSERT_EQ(after.audit.size(), before.audit.size() + 1);
  EXPECT_EQ(after.audit.back().event, AuditEvent::kDrill);
  EXPECT_EQ(after.audit.back().detail, "drill: extra: held downstream");
  EXPECT_EQ(store_->RecordFinding(4242, "x").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(store_->SetQueueLimit({.queue = "default", .max_depth = 2}).has_value());
  ASSERT_TRUE(store_->Redrive(dead).has_value());
  EXPECT_EQ(StateOf(dead), JobState::kPending);
  EXPECT_EQ(StateOf(waiting), JobState::kRunning);
}

// The outbox: an effect committed as an intent is pending until its relay
// marks it delivered (audited `deliver`, once however often it is marked);
// a redelivery makes it pending again (audited `redeliver` with why).
// Retention keeps a finished job whose effect is pending, and prunes it once
// delivered. A plain ledger effect has nothing to deliver.
TEST_P(StoreConformanceTest, AnOutboxEffectIsPendingUntilDeliveredAndRetentionWaitsForIt) {
  // Each finished with a plain effect: retention's to prune.
  const auto finished_plain = [&] {
    const JobId id = Add();
    Lease p = Started();
    EXPECT_TRUE(store_->Commit(Ref(p), Effect{"row"}, CommitThen::kFinish).has_value());
    return id;
  };
  const JobId plain = finished_plain();
  const JobId mail = Add({.key = "mail"});
  Lease l = Started();
  ASSERT_TRUE(
      store_->Commit(Ref(l), Effect{"send", /*outbox=*/true}, CommitThen::kFinish).has_value());
  // The newest execution, ledger effect, job and audit entry: kept by the
  // newest ids' rule, so the mail's job is kept by the outbox's alone.
  finished_plain();
  Add();
  const auto mail_effect = [&] {
    for (const EffectRecord& e : Snap().effects) {
      if (e.job_id == mail) return e;
    }
    ADD_FAILURE() << "the mail's effect is gone";
    return EffectRecord{};
  };
  auto outbox = store_->Outbox(10);
  ASSERT_TRUE(outbox.has_value()) << outbox.error().ToString();
  ASSERT_EQ(outbox->size(), 1u);
  const EffectRecord intent = outbox->front();
  EXPECT_EQ(intent.job_id, mail);
  EXPECT_EQ(intent.key, "default/mail");
  EXPECT_EQ(intent.payload, "send");
  EXPECT_EQ(intent.delivery, Delivery::kPending);
  EXPECT_EQ(intent.delivered_at_ms, 0);
  const int64_t row = Snap().effects.front().id;
  EXPECT_EQ(Snap().effects.front().delivery, Delivery::kNone);

  clock_.AdvanceMs(10'000);
  auto pruned = store_->Prune({.retain = 0});
  ASSERT_TRUE(pruned.has_value()) << pruned.error().ToString();
  EXPECT_EQ(pruned->jobs, 1);  // The plain job only.
  EXPECT_EQ(store_->GetJob(plain).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(StateOf(mail), JobState::kSucceeded);

  ASSERT_TRUE(store_->MarkDelivered(intent.id).has_value());
  const Snapshot delivered = Snap();
  EXPECT_EQ(mail_effect().delivery, Delivery::kDelivered);
  EXPECT_EQ(mail_effect().delivered_at_ms, clock_.NowMs());
  EXPECT_EQ(delivered.audit.back().event, AuditEvent::kDeliver);
  EXPECT_EQ(delivered.audit.back().job_id, mail);
  EXPECT_EQ(delivered.audit.back().from, "SUCCEEDED");
  EXPECT_EQ(delivered.audit.back().to, "SUCCEEDED");
  EXPECT_TRUE(store_->Outbox(10)->empty());
  ASSERT_TRUE(store_->MarkDelivered(intent.id).has_value());  // Again: nothing changes.
  EXPECT_EQ(Snap().audit.size(), delivered.audit.size());

  ASSERT_TRUE(store_->Redeliver(intent.id, "drill: missing downstream").has_value());
  const Snapshot again = Snap();
  EXPECT_EQ(mail_effect().delivery, Delivery::kPending);
  EXPECT_EQ(mail_effect().delivered_at_ms, 0);
  EXPECT_EQ(again.audit.back().event, AuditEvent::kRedeliver);
  EXPECT_NE(again.audit.back().detail.find("drill: missing downstream"), std::string::npos)
      << again.audit.back().detail;
  ASSERT_EQ(store_->Outbox(10)->size(), 1u);
  ASSERT_TRUE(store_->Redeliver(intent.id, "again").has_value());
  EXPECT_EQ(Snap().audit.size(), again.audit.size());

  EXPECT_EQ(store_->MarkDelivered(4242).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->Redeliver(4242, "x").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->MarkDelivered(row).error().code, ErrorCode::kNotFound);  // Pruned with its job.
  EXPECT_EQ(store_->Outbox(0).error().code, ErrorCode::kInvalidArgument);

  ASSERT_TRUE(store_->MarkDelivered(intent.id).has_value());
  finished_plain();  // Newer ledger effect and execution than the mail's.
  const JobId newest = Add();
  ASSERT_TRUE(store_->Prune({.retain = 0}).has_value());
  EXPECT_EQ(store_->GetJob(mail).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(StateOf(newest), JobState::kPending);
}

// A ledger effect that is not an outbox's has nothing to deliver.
TEST_P(StoreConformanceTest, APlainLedgerEffectCannotBeMarkedDelivered) {
  Add();
  Lease l = Started();
  ASSERT_TRUE(store_->Commit(Ref(l), Effect{"row"}, CommitThen::kFinish).has_value());
  const int64_t id = Snap().effects.back().id;
  const size_t audit = Snap().audit.size();
  EXPECT_EQ(store_->MarkDelivered(id).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store_->Redeliver(id, "x").error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(Snap().effects.back().delivery, Delivery::kNone);
  EXPECT_EQ(Snap().audit.size(), audit);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

// The error contract (store/backend.h), on every backend: a fault backend
// fails a chosen primitive with a fault real backends produce, and the
// runner must answer it as the contract says, writing nothing it did not
// answer for and fail-stopping exactly when the outcome is unknown.
// One kind of error for StoreFaultTest's sweep over a scenario.
struct SweepKind {
  StorageFault fault;
  bool applied;     // At the commit: the transaction took effect anyway.
  bool persistent;  // Every primitive from the n-th on fails, not only it.
};

class StoreFaultTest : public ::testing::TestWithParam<testing::StorageBackend> {
 protected:
  void SetUp() override { Open(dir_); }
  // Fresh storage in `dir` (and a fresh PostgreSQL schema), both handles
  // on it; the hook is kept.
  void Open(testing::TempDir& dir) {
    inner_ = GetParam().make(dir);
    ASSERT_NE(inner_, nullptr);
    faulty_ = std::make_shared<FaultBackend>(inner_, [this](BackendOp op, int64_t n) {
      return hook_ ? hook_(op, n - base_) : std::nullopt;
    });
    store_ = std::make_unique<RecordStore>(faulty_, clock_, options_);
    // The same backend without faults: what is durable, as a reopen sees it.
    clean_ = std::make_unique<RecordStore>(inner_, clock_, options_);
  }
  // From now on the hook counts primitives from 1 again.
  void Arm(BackendFaultHook hook) {
    base_ = faulty_->calls();
    hook_ = std::move(hook);
  }
  void Disarm() { hook_ = nullptr; }
  // Everything durable, in one comparable line per record.
  std::string State() {
    auto s = clean_->ReadSnapshot();
    EXPECT_TRUE(s.has_value()) << s.error().ToString();
    std::string out;
    for (const Job& j : s->jobs) {
      out += fmt::format("job {} {} {}\n", j.id, ToString(j.state), j.attempts);
    }
    for (const Execution& e : s->executions) {
      out += fmt::format("exec {} {}\n", e.id, ToString(e.state));
    }
    for (const EffectRecord& e : s->effects) out += fmt::format("effect {}\n", e.job_id);
    out += fmt::format("audit {}\n", s->audit.size());
    return out;
  }
  // A job claimed and begun through the clean handle.
  Lease Started() {
    EXPECT_TRUE(clean_->Enqueue({}).has_value());
    auto leases = clean_->Claim({.worker = "w1", .max_jobs = 1, .lease_ms = 60'000, .begin = true});
    EXPECT_TRUE(leases.has_value() && leases->size() == 1u);
    return leases->front();
  }
  static LeaseRef Ref(const Lease& l) { return {l.execution_id, l.token}; }
  std::vector<Violation> SweepErrorPoints(const SweepKind& kind, int& explored);

  StoreOptions options_;  // For the handles Open makes.
  ManualClock clock_{1'000};
  testing::TempDir dir_;
  std::shared_ptr<StoreBackend> inner_;
  std::shared_ptr<FaultBackend> faulty_;
  std::unique_ptr<RecordStore> store_;
  std::unique_ptr<RecordStore> clean_;
  BackendFaultHook hook_;
  int64_t base_ = 0;
};

TEST_P(StoreFaultTest, EveryPrimitiveOfACommitCanBeRefusedAndThenNothingIsWritten) {
  const Lease lease = Started();
  const std::string before = State();
  int refused = 0;
  for (int64_t n = 1;; ++n) {
    Arm(FailOnce(n, {StorageFault::kSerialization}));
    auto r = store_->Commit(Ref(lease), Effect{"paid"}, CommitThen::kFinish);
    if (r) break;  // n is past the call's last primitive.
    ++refused;
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << "primitive " << n;
    EXPECT_EQ(State(), before) << "primitive " << n << " wrote something";
    EXPECT_FALSE(store_->failed()) << "a refusal is not an unknown outcome";
    ASSERT_LT(n, 100) << "the call never got past its faults";
  }
  // Load the lease (2), look for a committed twin, the writes, begin and commit.
  EXPECT_GE(refused, 8);
  EXPECT_EQ(clean_->GetJob(lease.job.id)->state, JobState::kSucceeded);
}

TEST_P(StoreFaultTest, ADiskFullMidTransactionUndoesTheWritesBeforeIt) {
  const Lease lease = Started();
  const std::string before = State();
  int refused = 0;
  for (int write = 1;; ++write) {
    // Fail the write-th write primitive of the call.
    int writes = 0;
    Arm([&writes, write](BackendOp op, int64_t) -> std::optional<BackendFault> {
      if (op == BackendOp::kWrite && ++writes == write)
        return BackendFault{StorageFault::kDiskFull};
      return std::nullopt;
    });
    auto r = store_->Commit(Ref(lease), Effect{"paid"}, CommitThen::kFinish);
    if (r) break;
    ++refused;
    EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
    EXPECT_EQ(State(), before) << "write " << write << " left earlier writes behind";
    ASSERT_LT(write, 100);
  }
  EXPECT_GE(refused, 4);  // Audit entries, the effect, the execution, the job.
  // At the commit too: the log could not take it, so nothing is durable.
  const Lease next = Started();
  const std::string before_commit = State();
  Arm([](BackendOp op, int64_t) -> std::optional<BackendFault> {
    if (op == BackendOp::kCommit) return BackendFault{StorageFault::kDiskFull};
    return std::nullopt;
  });
  auto r = store_->Commit(Ref(next), Effect{"paid"}, CommitThen::kFinish);
  Disarm();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(State(), before_commit);
  EXPECT_FALSE(store_->failed());
}

TEST_P(StoreFaultTest, AnUnknownCommitFailStopsUntilReopenedAndTheStateSaysWhatHappened) {
  for (bool applied : {false, true}) {
    SCOPED_TRACE(applied ? "applied" : "not applied");
    const Lease lease = Started();
    Arm([applied](BackendOp op, int64_t) -> std::optional<BackendFault> {
      if (op == BackendOp::kCommit) return BackendFault{StorageFault::kConnectionLost, applied};
      return std::nullopt;
    });
    auto r = store_->Commit(Ref(lease), Effect{"paid"}, CommitThen::kFinish);
    Disarm();
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kUnknownOutcome);
    EXPECT_TRUE(store_->failed());
    // Fail-stop is its own state, distinct from every refusal.
    EXPECT_EQ(store_->GetJob(lease.job.id).error().code, ErrorCode::kFailStopped);
    EXPECT_EQ(store_->Commit(Ref(lease), Effect{"paid"}).error().code, ErrorCode::kFailStopped);
    EXPECT_EQ(clean_->GetJob(lease.job.id)->state,
              applied ? JobState::kSucceeded : JobState::kRunning);
    ASSERT_TRUE(store_->Reopen().has_value());
    EXPECT_FALSE(store_->failed());
    if (!applied) {
      EXPECT_TRUE(store_->Commit(Ref(lease), Effect{"paid"}, CommitThen::kFinish).has_value());
    }
    EXPECT_EQ(store_->GetJob(lease.job.id)->state, JobState::kSucceeded);
  }
  EXPECT_EQ(clean_->ReadSnapshot()->effects.size(), 2u);  // One a job, never two.
}

TEST_P(StoreFaultTest, ALostReplyTookEffectAndIsAnsweredAsUnknown) {
  Arm([](BackendOp op, int64_t) -> std::optional<BackendFault> {
    if (op == BackendOp::kCommit) return BackendFault{StorageFault::kReplyLost};
    return std::nullopt;
  });
  auto r = store_->Enqueue({.key = "order-1"});
  Disarm();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnknownOutcome);
  ASSERT_TRUE(store_->Reopen().has_value());
  // The producer sends it again; the key finds what the lost reply created.
  auto again = store_->Enqueue({.key = "order-1"});
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(clean_->ReadSnapshot()->jobs.size(), 1u);
}

TEST_P(StoreFaultTest, BusyAtBeginAndCorruptOnReadAreAnsweredAsSuchAndWriteNothing) {
  const std::string before = State();
  Arm(FailOnce(1, {StorageFault::kBusy}));
  EXPECT_EQ(store_->Enqueue({}).error().code, ErrorCode::kUnavailable);
  Arm([](BackendOp op, int64_t) -> std::optional<BackendFault> {
    if (op == BackendOp::kRead) return BackendFault{StorageFault::kCorrupt};
    return std::nullopt;
  });
  EXPECT_EQ(store_->Enqueue({.key = "k"}).error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(store_->GetJob(1).error().code, ErrorCode::kDataLoss);
  Disarm();
  EXPECT_EQ(State(), before);
  EXPECT_FALSE(store_->failed());
  EXPECT_GE(faulty_->injected(), 3);
}

TEST_P(StoreFaultTest, AFailedRollbackFailStopsTheHandle) {
  const Lease lease = Started();
  const std::string before = State();
  Arm([](BackendOp op, int64_t) -> std::optional<BackendFault> {
    if (op == BackendOp::kWrite || op == BackendOp::kRollback) {
      return BackendFault{StorageFault::kIoError};
    }
    return std::nullopt;
  });
  EXPECT_EQ(store_->Heartbeat(Ref(lease), 60'000).error().code, ErrorCode::kUnavailable);
  Disarm();
  EXPECT_EQ(store_->Heartbeat(Ref(lease), 60'000).error().code, ErrorCode::kFailStopped);
  EXPECT_EQ(State(), before);
  ASSERT_TRUE(store_->Reopen().has_value());
  EXPECT_TRUE(store_->Heartbeat(Ref(lease), 60'000).has_value());
}

TEST_P(StoreFaultTest, ADiskThatStaysBrokenFailsEveryCallAndReopenUntilItHeals) {
  Arm(FailFrom(1, {StorageFault::kIoError}));
  EXPECT_FALSE(store_->Enqueue({}).has_value());
  EXPECT_FALSE(store_->Claim({.worker = "w1", .max_jobs = 1, .lease_ms = 1'000}).has_value());
  EXPECT_FALSE(store_->Reopen().has_value());
  EXPECT_GE(faulty_->injected(), 3);
  Disarm();
  ASSERT_TRUE(store_->Reopen().has_value());
  EXPECT_TRUE(store_->Enqueue({}).has_value());
  EXPECT_EQ(clean_->ReadSnapshot()->jobs.size(), 1u);
}

// The reaper ends leased and running executions in one transaction: a
// fault anywhere in it means nothing was reaped, never half.
TEST_P(StoreFaultTest, TheReaperIsOneTransactionAFaultInItReapsNothing) {
  const Lease running = Started();  // IN_PROGRESS.
  ASSERT_TRUE(clean_->Enqueue({}).has_value());
  ASSERT_TRUE(clean_->Claim({.worker = "w2", .max_jobs = 1, .lease_ms = 1'000}).has_value());
  clock_.AdvanceMs(120'000);  // Both leases expired.
  const std::string before = State();
  int writes = 0;
  for (int last = 1;; ++last) {
    writes = 0;
    Arm([&writes, last](BackendOp op, int64_t) -> std::optional<BackendFault> {
      if (op == BackendOp::kWrite && ++writes == last) return BackendFault{StorageFault::kIoError};
      return std::nullopt;
    });
    auto reaped = store_->ReapExpired();
    Disarm();
    if (reaped) {
      EXPECT_EQ(*reaped, 2);
      break;
    }
    EXPECT_EQ(State(), before) << "a fault at write " << last << " left a half-reaped store";
    ASSERT_LT(last, 50);
  }
  EXPECT_EQ(clean_->GetJob(running.job.id)->state, JobState::kPending);
}

// What a producer and the workers of the sweep's scenario were told.
struct Told {
  std::vector<JobId> enqueued;
  std::set<JobId> succeeded;
  std::vector<ExecutionId> fenced;
};

// The records of one queue's jobs: the sweep runs each error point in a
// queue of its own on one backend.
Snapshot OnlyQueue(const Snapshot& all, const std::string& queue) {
  Snapshot out;
  std::set<JobId> jobs;
  for (const Job& j : all.jobs) {
    if (j.queue != queue) continue;
    out.jobs.push_back(j);
    jobs.insert(j.id);
  }
  for (const Execution& e : all.executions) {
    if (jobs.contains(e.job_id)) out.executions.push_back(e);
  }
  for (const EffectRecord& e : all.effects) {
    if (jobs.contains(e.job_id)) out.effects.push_back(e);
  }
  for (const AuditEntry& a : all.audit) {
    if (jobs.contains(a.job_id)) out.audit.push_back(a);
  }
  return out;
}

// A small scenario through a store whose primitives may fail: three jobs,
// two workers; a fused commit, a failure and its retry, a lease that
// expires and is taken over, and the old worker's late commit (fenced).
// Every call's error is handled as the worker pool does: a fail-stopped
// handle is reopened; the scenario goes on with what it was told.
Told RunFaultedScenario(RecordStore& store, ManualClock& clock, const std::string& queue) {
  Told told;
  auto answered = [&store](const auto& r) {
    if (!r && store.failed()) (void)store.Reopen();
    return r.has_value();
  };
  auto ref = [](const Lease& l) { return LeaseRef{l.execution_id, l.token}; };
  for (int i = 0; i < 3; ++i) {
    auto r = store.Enqueue({.queue = queue, .key = fmt::format("job-{}", i), .max_attempts = 3});
    if (answered(r)) told.enqueued.push_back(r->job_id);
  }
  auto first = store.Claim(
      {.queue = queue, .worker = "w1", .max_jobs = 3, .lease_ms = 10'000, .begin = true});
  std::vector<Lease> leases = answered(first) ? *first : std::vector<Lease>{};
  if (leases.size() > 0) {
    auto r = store.Commit(ref(leases[0]), Effect{"paid"}, CommitThen::kFinish);
    if (answered(r) && *r == CommitOutcome::kCommitted) told.succeeded.insert(leases[0].job.id);
  }
  if (leases.size() > 1) {
    answered(store.Fail(ref(leases[1]), {.error = "try again", .retry_at_ms = clock.NowMs()}));
  }
  clock.AdvanceMs(20'000);  // w1's leases expire; w1 stalls.
  answered(store.ReapExpired());
  auto second = store.Claim(
      {.queue = queue, .worker = "w2", .max_jobs = 3, .lease_ms = 10'000, .begin = true});
  for (const Lease& l : answered(second) ? *second : std::vector<Lease>{}) {
    auto r = store.Commit(ref(l), Effect{"shipped"});
    if (!answered(r) || *r != CommitOutcome::kCommitted) continue;
    if (answered(store.Finish(ref(l)))) told.succeeded.insert(l.job.id);
  }
  if (leases.size() > 2) {  // w1 wakes up and commits late.
    auto late = store.Commit(ref(leases[2]), Effect{"late"}, CommitThen::kFinish);
    if (!late && late.error().code == ErrorCode::kAborted) {
      told.fenced.push_back(leases[2].execution_id);
    }
    answered(late);
  }
  return told;
}

// An error at the n-th storage primitive of the scenario, for every n, of
// `kind`, on fresh storage. After the faults stop, a recovery pass
// (reaper, reconciler) and a clean worker finish the queue; then the
// checkers judge the scenario's records: INV_001..INV_005, every job
// terminal (INV_006), and every call answered success kept its promise
// (a broken one is reported as INV_004). Returns what they found.
std::vector<Violation> StoreFaultTest::SweepErrorPoints(const SweepKind& kind, int& explored) {
  std::vector<Violation> found;
  testing::TempDir dir;  // Fresh storage for each kind: the snapshots stay small.
  Open(dir);
  for (int64_t n = 1;; ++n) {
    const std::string queue =
        fmt::format("{}-{}-{}-{}", ToString(kind.fault), kind.applied ? "applied" : "not",
                    kind.persistent ? "from" : "at", n);
    int64_t fired = 0;
    Arm([&](BackendOp, int64_t call) -> std::optional<BackendFault> {
      if (call < n || (!kind.persistent && call > n)) return std::nullopt;
      ++fired;
      return BackendFault{kind.fault, kind.applied};
    });
    const Told told = RunFaultedScenario(*store_, clock_, queue);
    Disarm();
    if (store_->failed() && !store_->Reopen()) ADD_FAILURE() << queue << ": no reopen";
    if (fired == 0) break;  // The scenario made fewer than n primitive calls.
    ++explored;
    clock_.AdvanceMs(60'000);
    EXPECT_TRUE(clean_->ReapExpired().has_value()) << queue;
    EXPECT_TRUE(clean_->Reconcile().has_value()) << queue;
    const TimeMs recovered_at = clock_.NowMs();
    for (int round = 0; round < 5; ++round) {
      auto leases = clean_->Claim(
          {.queue = queue, .worker = "w3", .max_jobs = 3, .lease_ms = 10'000, .begin = true});
      EXPECT_TRUE(leases.has_value()) << queue;
      // A commit the drain cannot make leaves its job open: the liveness
      // checker names it (INV_006).
      for (const Lease& l : leases.value_or(std::vector<Lease>{})) {
        (void)clean_->Commit({l.execution_id, l.token}, Effect{"drained"}, CommitThen::kFinish);
      }
    }
    auto all = clean_->ReadSnapshot();
    EXPECT_TRUE(all.has_value()) << queue;
    if (!all) return found;
    const Snapshot mine = OnlyQueue(*all, queue);
    std::vector<Violation> here = CheckAll({.snapshot = mine,
                                            .external = {},
                                            .acknowledged = told.enqueued,
                                            .recovered_at_ms = recovered_at,
                                            .fenced = told.fenced});
    for (Violation& v : CheckLiveness(mine, clock_.NowMs())) here.push_back(std::move(v));
    for (JobId id : told.succeeded) {
      auto job = clean_->GetJob(id);
      if (!job || job->state != JobState::kSucceeded) {
        here.push_back({Invariant::kRecovery, id, "answered success, and not SUCCEEDED"});
      }
    }
    for (Violation& v : here) {
      v.message = queue + ": " + v.message;
      found.push_back(std::move(v));
    }
    if (n >= 5'000) {
      ADD_FAILURE() << "the scenario never ends";
      break;
    }
  }
  return found;
}

// Every kind the fault layer raises, once or from then on, on every
// backend; a commit of unknown outcome both applied and not. PostgreSQL,
// a round trip a primitive, runs the kinds that differ there (an I/O error
// once, applied or not, and from n on; a lost connection at the commit);
// memory and SQLite run them all.
TEST_P(StoreFaultTest, AnErrorAtEveryPrimitiveOfAScenarioKeepsEveryInvariant) {
  std::vector<SweepKind> kinds = {{StorageFault::kIoError, false, false},
                                  {StorageFault::kIoError, true, false},
                                  {StorageFault::kConnectionLost, true, false},
                                  {StorageFault::kIoError, false, true}};
  if (GetParam().name != "Postgres") {
    kinds.insert(kinds.end(), {{StorageFault::kConnectionLost, false, false},
                               {StorageFault::kBusy, false, false},
                               {StorageFault::kDiskFull, false, false},
                               {StorageFault::kReplyLost, true, false},
                               {StorageFault::kDiskFull, false, true}});
  }
  int explored = 0;
  for (const SweepKind& kind : kinds) {
    for (const Violation& v : SweepErrorPoints(kind, explored)) ADD_FAILURE() << v.ToString();
  }
  std::printf("explored %d storage error points on %s\n", explored, GetParam().name.c_str());
  RecordProperty("error_points", explored);
  EXPECT_GT(explored, 100);
}

// The sweep is seen to fail: with the effect written in a transaction of
// its own before the commit (the guard one_transaction off), an error
// between the two leaves an effect no commit owns, and the checkers say so.
TEST_P(StoreFaultTest, TheSweepFindsAnEffectWrittenApartFromItsCommit) {
  options_.effect_with_commit = false;
  int explored = 0;
  const auto found = SweepErrorPoints({StorageFault::kIoError, false, false}, explored);
  EXPECT_TRUE(std::any_of(
      found.begin(), found.end(),
      [](const Violation& v) { return v.invariant == Invariant::kNoEffectWithoutCommit; }))
      << found.size() << " violations in " << explored << " error points";
}

TEST_P(StoreFaultTest, InAGroupAFailedCallUndoesOnlyItsOwnWrites) {
  ASSERT_TRUE(store_->BeginGroup().has_value());
  ASSERT_TRUE(store_->Enqueue({.key = "a"}).has_value());
  // The second call fails after its first write: its savepoint undoes it.
  int writes = 0;
  Arm([&writes](BackendOp op, int64_t) -> std::optional<BackendFault> {
    if (op == BackendOp::kWrite && ++writes == 2) return BackendFault{StorageFault::kDiskFull};
    return std::nullopt;
  });
  EXPECT_EQ(store_->Enqueue({.key = "b"}).error().code, ErrorCode::kResourceExhausted);
  Disarm();
  ASSERT_TRUE(store_->Enqueue({.key = "c"}).has_value());
  ASSERT_TRUE(store_->EndGroup().has_value());
  auto jobs = clean_->ListJobs({});
  ASSERT_TRUE(jobs.has_value());
  std::vector<std::string> keys;
  for (const Job& j : *jobs) keys.push_back(*j.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(clean_->ReadSnapshot()->audit.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreFaultTest, ::testing::ValuesIn(testing::StorageBackends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace lab
