// Goal: the real SQLite store on the simulated disk keeps the durability
// promise at every instant a crash can hit, the way SQLite's own crash
// tests check it: a call that returned success survives the crash, the
// file passes PRAGMA integrity_check after recovery, and recovery (reap,
// reconcile) leaves nothing half done. And the disk's faults are seen:
// with synchronous=NORMAL (no sync before acknowledging), some crash point
// loses an acknowledged call; a failed sync is an unknown outcome, never a
// success; a full disk and a failed read are refusals that lose nothing.
// Method: a small scenario (3 jobs; a fused commit, a failure and retry, a
// split commit) run on a fresh SimDisk with the power failing just before
// its k-th write, truncate or sync, for every k until the scenario ends
// first, under several crash seeds (which unsynced writes are kept,
// dropped or torn).
#include "store/sim_disk.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "core/clock.h"
#include "store/sqlite_db.h"
#include "store/sqlite_store.h"
#include "store/state_machine.h"

namespace lab {
namespace {

constexpr const char* kPath = "queue.db";

// What the scenario was told succeeded: what must survive a crash.
struct Acked {
  std::set<JobId> enqueued;
  std::set<JobId> succeeded;  // Finished, effect recorded.
  bool completed = false;     // The scenario ran to its end.
};

Result<std::unique_ptr<RecordStore>> OpenOn(SimDisk& disk, Clock& clock,
                                            const std::string& synchronous = "FULL") {
  return OpenSqliteStore({.path = kPath, .vfs = disk.vfs_name(), .synchronous = synchronous},
                         clock);
}

// Runs the scenario until a call fails (the crash) or it ends.
Acked RunScenario(Store& store, ManualClock& clock) {
  Acked acked;
  for (int i = 0; i < 3; ++i) {
    auto r = store.Enqueue({.key = fmt::format("job-{}", i), .max_attempts = 3});
    if (!r) return acked;
    acked.enqueued.insert(r->job_id);
  }
  auto leases = store.Claim({.worker = "w", .max_jobs = 3, .lease_ms = 10'000, .begin = true});
  if (!leases) return acked;
  EXPECT_EQ(leases->size(), 3u);
  auto ref = [](const Lease& l) { return LeaseRef{l.execution_id, l.token}; };
  const Lease& fused = leases->at(0);
  if (!store.Commit(ref(fused), Effect{"paid"}, CommitThen::kFinish)) return acked;
  acked.succeeded.insert(fused.job.id);
  if (!store.Fail(ref(leases->at(1)), {.error = "try again", .retry_at_ms = clock.NowMs()})) {
    return acked;
  }
  const Lease& split = leases->at(2);
  if (!store.Commit(ref(split), Effect{"shipped"})) return acked;
  if (!store.Finish(ref(split))) return acked;
  acked.succeeded.insert(split.job.id);
  auto again = store.Claim({.worker = "w", .max_jobs = 1, .lease_ms = 10'000, .begin = true});
  if (!again || again->empty()) return acked;
  if (!store.Commit(ref(again->front()), Effect{"retried"}, CommitThen::kFinish)) return acked;
  acked.succeeded.insert(again->front().job.id);
  acked.completed = true;
  return acked;
}

std::string IntegrityCheck(SimDisk& disk) {
  auto db = SqliteDb::Open(kPath, disk.vfs_name().c_str(), /*create=*/false);
  if (!db) return db.error().ToString();
  auto stmt = (*db)->Prepare("PRAGMA integrity_check");
  if (!stmt) return stmt.error().ToString();
  auto row = (*stmt)->Step();
  if (!row || !*row) return "no answer";
  std::string out = (*stmt)->Text(0);
  (*stmt)->Reset();
  return out;
}

// After a crash: what was acknowledged is there, and recovery leaves every
// job either finished or ready to run again. Returns how many acknowledged
// calls were lost (0 is the promise).
int CheckRecovered(SimDisk& disk, ManualClock& clock, const Acked& acked,
                   const std::string& synchronous, const std::string& where) {
  EXPECT_EQ(IntegrityCheck(disk), "ok") << where;
  auto store = OpenOn(disk, clock, synchronous);
  if (!store) {
    ADD_FAILURE() << where << ": reopening after the crash: " << store.error().ToString();
    return 1;
  }
  int lost = 0;
  auto snapshot = (*store)->ReadSnapshot();
  EXPECT_TRUE(snapshot.has_value()) << where;
  if (!snapshot) return 1;
  std::set<JobId> jobs, effects;
  for (const Job& j : snapshot->jobs) jobs.insert(j.id);
  for (const EffectRecord& e : snapshot->effects) effects.insert(e.job_id);
  for (JobId id : acked.enqueued) lost += jobs.contains(id) ? 0 : 1;
  for (JobId id : acked.succeeded) {
    auto job = (*store)->GetJob(id);
    lost += job && job->state == JobState::kSucceeded && effects.contains(id) ? 0 : 1;
  }
  // Recovery: past every lease, the reaper and the reconciler finish what
  // the crash left half done.
  clock.AdvanceMs(60'000);
  EXPECT_TRUE((*store)->ReapExpired().has_value()) << where;
  EXPECT_TRUE((*store)->Reconcile().has_value()) << where;
  auto after = (*store)->ReadSnapshot();
  EXPECT_TRUE(after.has_value()) << where;
  if (!after) return lost;
  for (const Execution& e : after->executions) {
    EXPECT_FALSE(IsLive(e.state)) << where << ": execution " << e.id << " still live";
  }
  for (const EffectRecord& e : after->effects) {
    auto job = (*store)->GetJob(e.job_id);
    EXPECT_TRUE(job && job->state == JobState::kSucceeded)
        << where << ": an effect without its job's success";
  }
  return lost;
}

struct Sweep {
  int crash_points = 0;
  int lost = 0;
};

// The scenario with a crash before its k-th durable operation, for every k.
Sweep CrashAtEveryPoint(const std::string& synchronous, uint64_t seed) {
  Sweep sweep;
  for (int64_t k = 1;; ++k) {
    SimDisk disk(fmt::format("simdisk-{}-{}-{}", synchronous, seed, k), seed);
    ManualClock clock(1'000);
    Acked acked;
    {
      auto store = OpenOn(disk, clock, synchronous);
      EXPECT_TRUE(store.has_value()) << store.error().ToString();
      if (!store) return sweep;
      disk.CrashBefore(k);
      acked = RunScenario(**store, clock);
    }  // The dead process's connection goes; its I/O fails.
    if (!disk.crashed_since_armed()) {
      EXPECT_TRUE(acked.completed);
      break;  // The scenario ended before its k-th durable operation.
    }
    ++sweep.crash_points;
    sweep.lost +=
        CheckRecovered(disk, clock, acked, synchronous,
                       fmt::format("{} seed {} crash before op {}", synchronous, seed, k));
    if (k > 10'000) {
      ADD_FAILURE() << "the scenario never ends";
      break;
    }
  }
  return sweep;
}

TEST(SimDiskTest, AcknowledgedCallsSurviveACrashAtEveryWriteAndSync) {
  int points = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const Sweep sweep = CrashAtEveryPoint("FULL", seed);
    EXPECT_EQ(sweep.lost, 0) << "seed " << seed;
    points += sweep.crash_points;
  }
  std::printf("explored %d crash points (synchronous=FULL, 4 crash seeds)\n", points);
  RecordProperty("crash_points", points);
  EXPECT_GT(points, 40);
}

// The checker is seen to fail: without a sync before the acknowledgement,
// a crash loses acknowledged work at some point of the same sweep.
TEST(SimDiskTest, WithoutASyncBeforeTheAcknowledgementACrashLosesAcknowledgedWork) {
  int lost = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) lost += CrashAtEveryPoint("NORMAL", seed).lost;
  EXPECT_GT(lost, 0);
}

// Crashes stacked during recovery: for every second crash point k of the
// scenario (every one costs twice the time: a scenario run per stacked
// point), the recovery after it (reopen, reaper, reconciler) is itself
// cut by a power loss before its j-th durable operation, for every j until
// it completes; then a clean recovery must still find everything that was
// acknowledged before the first crash, in a whole file, with nothing half
// done.
TEST(SimDiskTest, ACrashDuringRecoveryLosesNothingEither) {
  constexpr uint64_t kSeed = 2;
  int first_points = 0, stacked_points = 0, lost = 0;
  for (int64_t k = 1;; k += 2) {
    bool scenario_crashed = true;
    for (int64_t j = 1;; ++j) {
      SimDisk disk(fmt::format("simdisk-stacked-{}-{}", k, j), kSeed);
      ManualClock clock(1'000);
      Acked acked;
      {
        auto store = OpenOn(disk, clock);
        ASSERT_TRUE(store.has_value()) << store.error().ToString();
        disk.CrashBefore(k);
        acked = RunScenario(**store, clock);
      }
      if (!disk.crashed_since_armed()) {
        scenario_crashed = false;
        break;
      }
      bool recovery_crashed = false;
      {
        auto store = OpenOn(disk, clock);
        ASSERT_TRUE(store.has_value()) << "crash at " << k << ": " << store.error().ToString();
        disk.CrashBefore(j);
        clock.AdvanceMs(60'000);
        if ((*store)->ReapExpired()) (void)(*store)->Reconcile();
        recovery_crashed = disk.crashed_since_armed();
        disk.CrashBefore(0);
      }
      if (!recovery_crashed) break;  // The recovery ended before its j-th operation.
      ++stacked_points;
      lost += CheckRecovered(disk, clock, acked, "FULL",
                             fmt::format("crash before op {}, then before recovery op {}", k, j));
      ASSERT_LT(j, 1'000) << "the recovery never ends";
    }
    if (!scenario_crashed) break;
    ++first_points;
    ASSERT_LT(k, 10'000) << "the scenario never ends";
  }
  std::printf(
      "explored %d crash points (every second one), each followed by a crash at every "
      "point of its recovery: %d stacked crashes\n",
      first_points, stacked_points);
  RecordProperty("stacked_crash_points", stacked_points);
  EXPECT_EQ(lost, 0);
  EXPECT_GT(first_points, 20);
  EXPECT_GT(stacked_points, first_points);
}

// A new file is durable only once its directory is synced. SQLite syncs
// the directory of a new log itself, never of the database: a database
// made by SQLite alone, every commit synced and checkpointed into the
// file, is gone with the power. The lab's open syncs the directory
// (SqliteDb::SyncDirectory), and what it acknowledged survives.
TEST(SimDiskTest, ANewDatabaseSurvivesThePowerOnlyOnceItsDirectoryIsSynced) {
  {
    SimDisk disk("simdisk-dir-sqlite-alone", 1);
    {
      auto db = SqliteDb::Open(kPath, disk.vfs_name().c_str());
      ASSERT_TRUE(db.has_value()) << db.error().ToString();
      for (const char* sql :
           {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", "CREATE TABLE t(x)",
            "INSERT INTO t VALUES (1)", "PRAGMA wal_checkpoint(TRUNCATE)"}) {
        ASSERT_TRUE((*db)->Exec(sql).has_value()) << sql;
      }
      EXPECT_GT(disk.stats().syncs, 2);
    }
    disk.Crash();
    EXPECT_GE(disk.stats().files_lost, 1);
    EXPECT_FALSE(SqliteDb::Open(kPath, disk.vfs_name().c_str(), /*create=*/false).has_value());
  }
  SimDisk disk("simdisk-dir-lab", 1);
  ManualClock clock(1'000);
  JobId acked = 0;
  {
    auto store = OpenOn(disk, clock);
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    auto r = (*store)->Enqueue({.key = "kept"});
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    acked = r->job_id;
  }
  disk.Crash();
  EXPECT_EQ(disk.stats().files_lost, 0);
  auto store = OpenOn(disk, clock);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  auto job = (*store)->GetJob(acked);
  EXPECT_TRUE(job.has_value()) << job.error().ToString();
}

TEST(SimDiskTest, AFailedSyncIsAnUnknownOutcomeAndWhatIsAcknowledgedLaterSurvives) {
  SimDisk disk("simdisk-fsync", 7);
  ManualClock clock(1'000);
  JobId later = 0;
  {
    auto store = OpenOn(disk, clock);
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    ASSERT_TRUE((*store)->Enqueue({.key = "before"}).has_value());
    int syncs = 0;
    disk.set_hook([&syncs](DiskOp op, int64_t) -> std::optional<DiskFault> {
      if (op == DiskOp::kSync && ++syncs == 1) return DiskFault::kSyncError;
      return std::nullopt;
    });
    auto failed = (*store)->Enqueue({.key = "during"});
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().code, ErrorCode::kUnknownOutcome);
    // Never retried as if nothing happened: the handle stops until reopened.
    EXPECT_EQ((*store)->Enqueue({.key = "x"}).error().code, ErrorCode::kFailStopped);
    ASSERT_TRUE((*store)->Reopen().has_value());
    auto ok = (*store)->Enqueue({.key = "later"});
    ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
    later = ok->job_id;
    EXPECT_EQ(disk.stats().failed_syncs, 1);
    disk.set_hook(nullptr);  // It counts in this scope.
  }
  disk.Crash();
  EXPECT_EQ(IntegrityCheck(disk), "ok");
  auto store = OpenOn(disk, clock);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  auto jobs = (*store)->ListJobs({});
  ASSERT_TRUE(jobs.has_value());
  std::set<std::string> keys;
  for (const Job& j : *jobs) keys.insert(*j.key);
  EXPECT_TRUE(keys.contains("before"));
  EXPECT_TRUE(keys.contains("later")) << "an acknowledged enqueue was lost after a failed sync";
  EXPECT_TRUE((*store)->GetJob(later).has_value());
}

TEST(SimDiskTest, AFullDiskAndAFailedReadAreRefusalsThatLoseNothing) {
  SimDisk disk("simdisk-full", 3);
  ManualClock clock(1'000);
  auto store = OpenOn(disk, clock);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  ASSERT_TRUE((*store)->Enqueue({.key = "kept"}).has_value());
  disk.set_capacity(0);  // Nothing more fits.
  const std::string big(64 * 1024, 'x');
  auto full = (*store)->Enqueue({.key = "big", .payload = big});
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted) << full.error().ToString();
  disk.set_capacity(int64_t{1} << 30);
  // A cold cache, so the next read goes to the disk, and the disk fails it.
  ASSERT_TRUE((*store)->Reopen().has_value());
  disk.set_hook([](DiskOp op, int64_t) -> std::optional<DiskFault> {
    if (op == DiskOp::kRead) return DiskFault::kIoError;
    return std::nullopt;
  });
  auto read = (*store)->ListJobs({});
  disk.set_hook(nullptr);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kUnavailable) << read.error().ToString();
  auto jobs = (*store)->ListJobs({});
  ASSERT_TRUE(jobs.has_value()) << jobs.error().ToString();
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ(*jobs->front().key, "kept");
}

}  // namespace
}  // namespace lab

namespace lab {
namespace {

// An I/O error at the n-th disk operation, for every n of the scenario:
// the store answers it (refused, or unknown and fail-stopped, then
// reopened), the scenario goes on, and after a crash at its end every call
// acknowledged after the error is still there.
TEST(SimDiskTest, AnIoErrorAtEveryDiskOperationLosesNothingAcknowledgedAfterIt) {
  int points = 0;
  for (int64_t n = 1;; ++n) {
    SimDisk disk(fmt::format("simdisk-eio-{}", n), 11);
    ManualClock clock(1'000);
    Acked acked;
    bool fired = false;
    {
      auto store = OpenOn(disk, clock);
      ASSERT_TRUE(store.has_value()) << store.error().ToString();
      int64_t seen = 0;
      disk.set_hook([&](DiskOp op, int64_t) -> std::optional<DiskFault> {
        if (++seen != n) return std::nullopt;
        fired = true;
        return op == DiskOp::kSync ? DiskFault::kSyncError : DiskFault::kIoError;
      });
      // The scenario, each call tried again (after a reopen) until it goes
      // through: enqueues, then each job claimed, committed and finished.
      auto again = [&](auto call) {
        for (int attempt = 0; attempt < 3; ++attempt) {
          auto r = call();
          if (r) return r;
          if ((*store)->failed()) {
            EXPECT_TRUE((*store)->Reopen().has_value());
          }
        }
        return call();
      };
      for (int i = 0; i < 6; ++i) {
        auto r = again([&] { return (*store)->Enqueue({.key = fmt::format("job-{}", i)}); });
        if (r) acked.enqueued.insert(r->job_id);
      }
      for (int i = 0; i < 6; ++i) {
        auto leases = again([&] {
          return (*store)->Claim({.worker = "w", .max_jobs = 1, .lease_ms = 1'000, .begin = true});
        });
        if (!leases || leases->empty()) continue;
        const Lease& l = leases->front();
        auto done = again([&] {
          return (*store)->Commit({l.execution_id, l.token}, Effect{"e"}, CommitThen::kFinish);
        });
        if (done) acked.succeeded.insert(l.job.id);
      }
      disk.set_hook(nullptr);
    }
    if (!fired) break;
    ++points;
    disk.Crash();
    EXPECT_EQ(CheckRecovered(disk, clock, acked, "FULL", fmt::format("EIO at op {}", n)), 0)
        << "EIO at disk operation " << n;
    ASSERT_LT(n, 5'000);
  }
  std::printf("explored %d disk I/O error points\n", points);
  EXPECT_GT(points, 20);
}

}  // namespace
}  // namespace lab
