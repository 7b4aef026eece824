// Goal: SqliteStore keeps what it acknowledged across a close and reopen,
// and refuses files it must not touch (corrupt, another application's, a
// newer schema, an unopenable path) with a clear error, leaving the file
// byte for byte as it was. Method: real files in a private temp dir.
#include "store/sqlite_store.h"

#include <fmt/core.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/testing/temp_dir.h"
#include "store/testing/fault_vfs.h"

namespace lab {
namespace {

using testing::ReadFile;

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

int64_t RawInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  int64_t value = -1;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
      sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    value = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_close(db), SQLITE_OK);
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<RecordStore>> Open(const std::string& path) {
    return OpenSqliteStore({.path = path}, clock_);
  }
  // Opening must fail with `code`, mention `needle`, and leave the file alone.
  void ExpectRefused(const std::string& path, ErrorCode code, const std::string& needle) {
    const std::string before = ReadFile(path);
    auto store = Open(path);
    ASSERT_FALSE(store.has_value());
    EXPECT_EQ(store.error().code, code) << store.error().ToString();
    EXPECT_NE(store.error().message.find(needle), std::string::npos) << store.error().message;
    EXPECT_EQ(ReadFile(path), before) << "a refused open changed the file";
  }

  ManualClock clock_{5'000};
  testing::TempDir dir_;
};

TEST_F(SqliteStoreTest, AcknowledgedWritesSurviveReopen) {
  const std::string path = dir_.File("q.db");
  JobId id;
  {
    auto store = Open(path);
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    auto r = (*store)->Enqueue({.key = "k", .payload = "p"});
    ASSERT_TRUE(r.has_value());
    id = r->job_id;
  }
  auto store = Open(path);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  auto job = (*store)->GetJob(id);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->payload, "p");
  EXPECT_FALSE((*store)->Enqueue({.key = "k"})->created);
}

TEST_F(SqliteStoreTest, UsesWalAndFullSync) {
  const std::string path = dir_.File("q.db");
  ASSERT_TRUE(Open(path).has_value());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

// A record the build cannot name (a state or an audit event written by
// something else) is refused as data loss, never read as a default.
TEST_F(SqliteStoreTest, AnUnknownAuditEventIsDataLoss) {
  const std::string path = dir_.File("q.db");
  ASSERT_TRUE((*Open(path))->Enqueue({}).has_value());
  RawExec(path, "UPDATE audit SET event = 'teleport'");
  auto snapshot = (*Open(path))->ReadSnapshot();
  ASSERT_FALSE(snapshot.has_value());
  EXPECT_EQ(snapshot.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(snapshot.error().message.find("unknown event teleport"), std::string::npos);
}

TEST_F(SqliteStoreTest, GarbageFileIsRefusedAsDataLoss) {
  const std::string path = dir_.File("garbage.db");
  WriteFile(path, std::string(8192, 'x'));
  ExpectRefused(path, ErrorCode::kDataLoss, "not a readable lab database");
}

TEST_F(SqliteStoreTest, DamagedHeaderIsRefusedAsDataLoss) {
  const std::string path = dir_.File("q.db");
  { ASSERT_TRUE(Open(path).has_value()); }
  std::string bytes = ReadFile(path);
  ASSERT_GT(bytes.size(), 100u);
  bytes.replace(0, 16, "NOT SQLITE AT A");  // Overwrite the magic header string.
  WriteFile(path, bytes);
  ExpectRefused(path, ErrorCode::kDataLoss, "not a readable lab database");
}

TEST_F(SqliteStoreTest, NewerSchemaVersionIsRefused) {
  const std::string path = dir_.File("q.db");
  { ASSERT_TRUE(Open(path).has_value()); }
  RawExec(path, "PRAGMA user_version = 99");
  ExpectRefused(path, ErrorCode::kFailedPrecondition, "newer than this build supports");
}

// A later build's schema step, to see the migration runner upgrade a file.
std::vector<Migration> WithNextStep(std::string_view sql) {
  std::vector<Migration> steps(SqliteBackend::Migrations().begin(),
                               SqliteBackend::Migrations().end());
  steps.push_back({static_cast<int>(steps.size()) + 1, sql});
  return steps;
}

TEST_F(SqliteStoreTest, MigrationsUpgradeAnOlderFileOnceAndKeepItsData) {
  const std::string path = dir_.File("q.db");
  {
    auto v1 = Open(path);
    ASSERT_TRUE(v1.has_value());
    ASSERT_TRUE((*v1)->Enqueue({.key = "kept"}).has_value());
  }
  const int latest = LatestVersion(SqliteBackend::Migrations());
  const auto steps = WithNextStep("CREATE TABLE lab_extra (x INTEGER);");
  for (int i = 0; i < 2; ++i) {  // The second open must not run the new step again.
    auto v2 = OpenSqliteStore({.path = path, .migrations = steps}, clock_);
    ASSERT_TRUE(v2.has_value()) << v2.error().ToString();
    EXPECT_FALSE((*v2)->Enqueue({.key = "kept"})->created);
  }
  EXPECT_EQ(RawInt(path, "PRAGMA user_version"), latest + 1);
  EXPECT_EQ(RawInt(path, "SELECT count(*) FROM sqlite_master WHERE name = 'lab_extra'"), 1);
  // This build now refuses the file, untouched.
  ExpectRefused(path, ErrorCode::kFailedPrecondition,
                fmt::format("schema version {}, newer", latest + 1));
}

// Version 2 added the per-job timeout: a version 1 file keeps its jobs and
// reads them with no timeout of their own.
TEST_F(SqliteStoreTest, V1FilesGainThePerJobTimeoutAndKeepTheirJobs) {
  const std::string path = dir_.File("q.db");
  const std::vector<Migration> v1(SqliteBackend::Migrations().begin(),
                                  SqliteBackend::Migrations().begin() + 1);
  ASSERT_EQ(v1.back().version, 1);
  { ASSERT_TRUE(OpenSqliteStore({.path = path, .migrations = v1}, clock_).has_value()); }
  RawExec(path,
          "INSERT INTO jobs (id, queue, key, payload, priority, run_at_ms, max_attempts, attempts, "
          "attempts_at_redrive, state, created_at_ms, last_error) VALUES (7, 'default', 'old', "
          "'p', 0, 0, 5, 0, 0, 'PENDING', 0, '')");
  auto now = Open(path);
  ASSERT_TRUE(now.has_value()) << now.error().ToString();
  auto old = (*now)->GetJob(7);
  ASSERT_TRUE(old.has_value()) << old.error().ToString();
  EXPECT_EQ(old->key, std::optional<std::string>("old"));
  EXPECT_EQ(old->timeout_ms, 0);
  const JobId fresh = (*now)->Enqueue({.timeout_ms = 1'500})->job_id;
  EXPECT_EQ((*now)->GetJob(fresh)->timeout_ms, 1'500);
}

// Version 3 added finished_at for the retention policy: a version 2 file's
// finished jobs take their last audited moment, so they become prunable.
TEST_F(SqliteStoreTest, V2FilesLearnWhenTheirJobsFinished) {
  const std::string path = dir_.File("q.db");
  const std::vector<Migration> v2(SqliteBackend::Migrations().begin(),
                                  SqliteBackend::Migrations().begin() + 2);
  ASSERT_EQ(v2.back().version, 2);
  { ASSERT_TRUE(OpenSqliteStore({.path = path, .migrations = v2}, clock_).has_value()); }
  // What a version 2 build wrote for a job that finished at 5000 and one
  // still pending.
  const JobId done = 3, pending = 4;
  RawExec(path,
          "INSERT INTO jobs (id, queue, key, payload, priority, run_at_ms, max_attempts, attempts, "
          "attempts_at_redrive, state, created_at_ms, last_error) VALUES (3, 'default', NULL, "
          "'p', 0, 0, 5, 1, 0, 'SUCCEEDED', 1000, ''), (4, 'default', NULL, 'p', 0, 0, 5, 0, 0, "
          "'PENDING', 1000, '')");
  RawExec(path,
          "INSERT INTO audit (at_ms, job_id, execution_id, event, from_state, to_state, detail) "
          "VALUES (1000, 3, 0, 'enqueue', '', 'PENDING', ''), (5000, 3, 0, 'finish', 'RUNNING', "
          "'SUCCEEDED', '')");
  auto now = Open(path);
  ASSERT_TRUE(now.has_value()) << now.error().ToString();
  EXPECT_EQ((*now)->GetJob(done)->finished_at_ms, 5'000);
  EXPECT_EQ((*now)->GetJob(pending)->finished_at_ms, 0);
  EXPECT_EQ(RawInt(path, "SELECT count(*) FROM sqlite_master WHERE name = 'jobs_finished'"), 1);
}

TEST_F(SqliteStoreTest, AFailedMigrationChangesNothing) {
  const std::string path = dir_.File("q.db");
  { ASSERT_TRUE(Open(path).has_value()); }
  auto broken = OpenSqliteStore(
      {.path = path,
       .migrations = WithNextStep("CREATE TABLE lab_extra (x); CREATE TABLE jobs (y);")},
      clock_);
  ASSERT_FALSE(broken.has_value());
  EXPECT_EQ(RawInt(path, "PRAGMA user_version"), LatestVersion(SqliteBackend::Migrations()));
  EXPECT_EQ(RawInt(path, "SELECT count(*) FROM sqlite_master WHERE name = 'lab_extra'"), 0);
  EXPECT_TRUE(Open(path).has_value());
}

TEST_F(SqliteStoreTest, AnotherApplicationsDatabaseIsRefused) {
  const std::string path = dir_.File("other.db");
  RawExec(path, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)");
  ExpectRefused(path, ErrorCode::kFailedPrecondition, "another application");
}

TEST_F(SqliteStoreTest, UnopenablePathIsRefusedAndCreatesNothing) {
  const std::string path = dir_.File("missing-dir/q.db");
  auto store = Open(path);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kFailedPrecondition) << store.error().ToString();
  EXPECT_NE(store.error().message.find("missing-dir"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "missing-dir"));
}

TEST_F(SqliteStoreTest, BadOptionsAreInvalidArguments) {
  EXPECT_EQ(OpenSqliteStore({.path = ""}, clock_).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(OpenSqliteStore({.path = dir_.File("q.db"), .synchronous = "OFF"}, clock_).error().code,
            ErrorCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, TwoHandlesOnOneFileNeverHandOutTheSameJob) {
  const std::string path = dir_.File("q.db");
  auto a = Open(path);
  auto b = Open(path);
  ASSERT_TRUE(a && b);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*a)->Enqueue({}).has_value());
  std::set<JobId> seen;
  for (int i = 0; i < 5; ++i) {
    for (auto* s : {a->get(), b->get()}) {
      auto leases = s->Claim({.worker = "w", .max_jobs = 1, .lease_ms = 1'000});
      ASSERT_TRUE(leases.has_value());
      ASSERT_EQ(leases->size(), 1u);
      EXPECT_TRUE(seen.insert(leases->front().job.id).second);
    }
  }
  EXPECT_EQ(seen.size(), 10u);
}

// Found by the crash test: workers starting at once on a new file raced to
// create the schema, and all but one failed with "table jobs already exists".
TEST_F(SqliteStoreTest, HandlesOpeningANewFileAtOnceAllSucceed) {
  constexpr int kRounds = 20, kThreads = 6;
  for (int round = 0; round < kRounds; ++round) {
    const std::string path = dir_.File(fmt::format("race{}.db", round));
    std::atomic<int> opened{0};
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        SystemClock clock;
        auto store = OpenSqliteStore({.path = path}, clock);
        if (store) {
          ++opened;
        } else {
          errors[t] = store.error().ToString();
        }
      });
    }
    for (auto& th : threads) th.join();
    for (const auto& e : errors) EXPECT_EQ(e, "") << "round " << round;
    ASSERT_EQ(opened.load(), kThreads) << "round " << round;
  }
}

}  // namespace
}  // namespace lab

namespace lab {
namespace {

// Goal: a failed fsync on commit is never treated as success or retried:
// the call reports kUnknownOutcome, the handle refuses everything after it,
// and a reopened handle finds every earlier acknowledged write intact.
TEST(SqliteFailStopTest, FailedFsyncOnCommitFailStopsTheHandle) {
  testing::TempDir dir;
  ManualClock clock(0);
  auto& vfs = testing::FaultVfs::Get();
  const std::string path = dir.File("q.db");
  auto store = OpenSqliteStore({.path = path, .vfs = vfs.name()}, clock);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  auto first = (*store)->Enqueue({.key = "acked"});
  ASSERT_TRUE(first.has_value());

  vfs.FailNextSyncs(1);
  auto second = (*store)->Enqueue({.key = "in-doubt"});
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kUnknownOutcome) << second.error().ToString();
  EXPECT_EQ(vfs.syncs_failed(), 1);

  // Fail-stop: no further call is attempted on this handle.
  auto third = (*store)->Enqueue({.key = "after"});
  ASSERT_FALSE(third.has_value());
  EXPECT_EQ(third.error().code, ErrorCode::kFailStopped);
  EXPECT_NE(third.error().message.find("reopen"), std::string::npos);
  EXPECT_FALSE((*store)->ReadSnapshot().has_value());
  store->reset();

  auto reopened = OpenSqliteStore({.path = path}, clock);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().ToString();
  auto again = (*reopened)->Enqueue({.key = "acked"});
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->created);  // The acknowledged job survived.
  EXPECT_EQ(again->job_id, first->job_id);
  auto snap = (*reopened)->ReadSnapshot();
  ASSERT_TRUE(snap.has_value());
  for (const Job& j : snap->jobs) EXPECT_NE(j.key, std::optional<std::string>("after"));
}

}  // namespace
}  // namespace lab
