// Goal: the worker pool runs every job exactly once when nothing fails, stops
// claiming when told and finishes what it runs, survives a store it cannot
// open yet; the exec handler hands the command its payload and job variables,
// maps exit statuses to the retry policy, heartbeats a long command and kills
// a command whose lease was lost.
// Method: real threads on a real SQLite file and real /bin/sh children; built
// under ThreadSanitizer by `make test` (test-tsan). Nothing here measures time.
#include "queue/worker_pool.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <mutex>

#include "check/latency.h"
#include "core/testing/temp_dir.h"
#include "queue/exec_handler.h"
#include "store/fault_store.h"
#include "store/group_commit.h"
#include "store/sqlite_store.h"

namespace lab {
namespace {

using testing::ReadFile;

class WorkerPoolTest : public ::testing::Test {
 protected:
  std::string Url() const { return "sqlite:" + dir_.File("queue.db"); }
  QueueOpener Opener() {
    return [this] { return Queue::Open(Url(), clock_); };
  }
  std::unique_ptr<Queue> Admin() {
    auto q = Queue::Open(Url(), clock_);
    LAB_ASSERT(q.has_value());
    return std::move(*q);
  }
  PoolOptions Options(int concurrency) {
    return {.concurrency = concurrency,
            .worker = {.name = "pool",
                       .lease_ms = 30'000,
                       .retry = {.base_delay_ms = 1, .max_delay_ms = 2}},
            .poll_ms = 5,
            .sweep_ms = 50,
            .drain = true};
  }
  Result<JobDetail> Detail(JobId id) { return Admin()->store().InspectJob(id); }

  testing::TempDir dir_;
  SystemClock clock_;
  SystemWaiter waiter_;
};

// How a pool's threads reach the store and record their jobs.
struct PoolShape {
  const char* name;
  bool group;       // One CommitGroup for all threads; else a handle each.
  bool fused;       // Two transactions a job; else four.
  int claim_batch;  // Jobs a thread claims at a time.
};

class WorkerPoolShapeTest : public WorkerPoolTest,
                            public ::testing::WithParamInterface<PoolShape> {};

TEST_P(WorkerPoolShapeTest, ManyThreadsDrainTheQueueRunningEachJobOnce) {
  const PoolShape shape = GetParam();
  auto admin = Admin();
  constexpr int kJobs = 200;
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_TRUE(admin->Enqueue({.key = fmt::format("k{}", i)}).has_value());
  }
  std::mutex mu;
  std::map<std::string, int> runs;
  PoolOptions options = Options(4);
  options.worker.fused = shape.fused;
  options.claim_batch = shape.claim_batch;
  QueueOpener opener = Opener();
  if (shape.group) {
    auto group = CommitGroup::Open([this] { return OpenRecordStore(Url(), clock_, {}); });
    ASSERT_TRUE(group.has_value()) << group.error().ToString();
    opener = [this, group = *group]() -> Result<std::unique_ptr<Queue>> {
      return Queue::Adopt(group->NewHandle(), clock_);
    };
  }
  WorkerPool pool(
      opener,
      [&](const JobContext& ctx) {
        std::lock_guard lock(mu);
        ++runs[ctx.key];
        return HandlerResult::Ok("done " + ctx.key);
      },
      options, waiter_);
  PoolStats stats = pool.Run();
  EXPECT_TRUE(stats.drained);
  EXPECT_EQ(stats.finished, kJobs);
  // A transient store error (the file busy past its timeout on a loaded
  // machine) is retried and may happen; what may not is a job given up.
  EXPECT_FALSE(stats.fatal.has_value());
  EXPECT_EQ(stats.released + stats.abandoned, 0);
  ASSERT_EQ(runs.size(), static_cast<size_t>(kJobs));
  for (const auto& [key, n] : runs) EXPECT_EQ(n, 1) << key;
  auto snap = admin->store().ReadSnapshot();
  EXPECT_EQ(snap->effects.size(), static_cast<size_t>(kJobs));
  for (const auto& job : snap->jobs) EXPECT_EQ(job.state, JobState::kSucceeded) << job.id;
}

INSTANTIATE_TEST_SUITE_P(Shapes, WorkerPoolShapeTest,
                         ::testing::Values(PoolShape{"HandleEachSplitSteps", false, false, 1},
                                           PoolShape{"GroupFused", true, true, 1},
                                           PoolShape{"GroupBatchesOf16", true, true, 16},
                                           PoolShape{"HandleEachBatchesOf7", false, true, 7}),
                         [](const auto& info) { return std::string(info.param.name); });

// The retention policy keeps the database bounded while work flows: every
// pool run's first sweep prunes what earlier runs finished (retain 0), so
// after many rounds the file holds one round's jobs, not all of them, and
// every key's job still ran exactly once.
TEST_F(WorkerPoolTest, RetentionKeepsTheDatabaseBoundedAndNoJobRunsTwice) {
  auto admin = Admin();
  constexpr int kRounds = 5, kJobsPerRound = 60;
  std::map<std::string, int> runs;
  int64_t pruned = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kJobsPerRound; ++i) {
      ASSERT_TRUE(admin->Enqueue({.key = fmt::format("r{}-{}", round, i)}).has_value());
    }
    std::mutex mu;
    SystemWaiter waiter;  // A drained pool stops its waiter: a fresh one a round.
    PoolOptions options = Options(2);
    options.retain = 0;
    WorkerPool pool(
        Opener(),
        [&](const JobContext& ctx) {
          std::lock_guard lock(mu);
          ++runs[ctx.key];
          return HandlerResult::Ok("");
        },
        options, waiter);
    PoolStats stats = pool.Run();
    EXPECT_TRUE(stats.drained);
    EXPECT_EQ(stats.finished, kJobsPerRound);
    pruned += stats.pruned;
  }
  ASSERT_EQ(runs.size(), static_cast<size_t>(kRounds * kJobsPerRound));
  for (const auto& [key, n] : runs) EXPECT_EQ(n, 1) << key;
  auto snap = admin->store().ReadSnapshot();
  ASSERT_TRUE(snap.has_value());
  // At most the last round's jobs and the kept newest ones remain.
  EXPECT_LE(snap->jobs.size(), static_cast<size_t>(kJobsPerRound + 2));
  EXPECT_EQ(pruned + static_cast<int64_t>(snap->jobs.size()), kRounds * kJobsPerRound);
  EXPECT_EQ(snap->effects.size(), snap->jobs.size());
  size_t prune_entries = 0;
  for (const AuditEntry& a : snap->audit) prune_entries += a.event == AuditEvent::kPrune ? 1 : 0;
  EXPECT_GE(prune_entries, static_cast<size_t>(kRounds - 1));
}

// Admission control on the real engine: a producer offers 200 jobs to a
// queue limited to ten: ten are accepted and 190 refused, each told
// Overloaded, nothing of them written. Half the offers carry a deadline
// already past: those accepted expire at the pool's claim, never run; the
// others run once. Once the pool has drained the queue, it admits again.
// With the guard off, all 200 are accepted and the late ones run, and
// INV_008's checker says both.
class AdmissionPoolTest : public WorkerPoolTest, public ::testing::WithParamInterface<bool> {};

TEST_P(AdmissionPoolTest, AFullQueueRefusesAndALateJobNeverRuns) {
  const bool guarded = GetParam();
  const QueueOptions options{.guards = guarded ? Guards::All()
                                               : Guards::AllExcept(&Guards::admission_control)};
  auto admin = Queue::Open(Url(), clock_, options);
  ASSERT_TRUE(admin.has_value());
  const QueueLimit limit{.queue = "default", .max_depth = 10};
  ASSERT_TRUE((*admin)->store().SetQueueLimit(limit).has_value());
  const auto offer = [&](int first, int n) {
    int accepted = 0;
    for (int i = first; i < first + n; ++i) {
      NewJob job{.key = fmt::format("k{}", i)};
      if (i % 2 == 1) job.deadline_ms = 1;  // Long past.
      auto r = (*admin)->Enqueue(job);
      if (r) {
        ++accepted;
      } else {
        EXPECT_EQ(r.error().code, ErrorCode::kOverloaded) << r.error().ToString();
      }
    }
    return accepted;
  };
  EXPECT_EQ(offer(0, 200), guarded ? 10 : 200);
  std::mutex mu;
  std::map<std::string, int> runs;
  const PoolStats stats = WorkerPool([&] { return Queue::Open(Url(), clock_, options); },
                                     [&](const JobContext& ctx) {
                                       std::lock_guard lock(mu);
                                       ++runs[ctx.key];
                                       return HandlerResult::Ok("");
                                     },
                                     Options(2), waiter_)
                              .Run();
  EXPECT_TRUE(stats.drained);
  auto snap = (*admin)->store().ReadSnapshot();
  ASSERT_TRUE(snap.has_value());
  int expired = 0;
  for (const Job& j : snap->jobs) {
    if (guarded && j.deadline_at_ms != 0) {
      EXPECT_EQ(j.state, JobState::kExpired) << j.id;
      EXPECT_FALSE(runs.contains(j.EffectKey())) << *j.key << " ran past its deadline";
      ++expired;
    } else {
      EXPECT_EQ(j.state, JobState::kSucceeded) << j.id;
      EXPECT_EQ(runs[j.EffectKey()], 1) << *j.key;
    }
  }
  const auto violations = CheckBoundedLatency(*snap, std::span(&limit, 1));
  if (guarded) {
    EXPECT_EQ(expired, 5);
    EXPECT_TRUE(violations.empty()) << violations.front().ToString();
    EXPECT_EQ(offer(1'000, 10), 10);  // Drained: room again.
  } else {
    EXPECT_EQ(violations.size(), 2u);  // Late starts, and a queue over its limit.
  }
}

INSTANTIATE_TEST_SUITE_P(Guard, AdmissionPoolTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "On" : "Off"; });

TEST_F(WorkerPoolTest, StopEndsClaimingAndTheRunningJobsFinish) {
  auto admin = Admin();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(admin->Enqueue({}).has_value());
  std::atomic<int> calls{0};
  PoolOptions options = Options(3);
  options.drain = false;  // Only Stop() ends this run.
  WorkerPool pool(
      Opener(),
      [&](const JobContext&) {
        ++calls;
        waiter_.Stop();  // As SIGTERM would, while this job runs.
        return HandlerResult::Ok("");
      },
      options, waiter_);
  PoolStats stats = pool.Run();
  EXPECT_FALSE(stats.drained);
  EXPECT_GE(calls.load(), 1);
  EXPECT_LE(calls.load(), 3);  // At most one running job per thread.
  EXPECT_EQ(stats.finished, calls.load());
  auto counts = admin->store().CountJobs();
  ASSERT_TRUE(counts.has_value());
  for (const auto& c : *counts) {
    EXPECT_NE(c.state, JobState::kRunning) << "a job was left leased";
    if (c.state == JobState::kSucceeded) {
      EXPECT_EQ(c.count, calls.load());
    }
  }
}

// FM_013 on the real engine. Each handler below computes without ever
// calling keep_alive, and waits for an event before it returns; the one
// that waits for a time instead shows that nothing happened meanwhile, which
// a slower machine cannot make false. A loaded machine makes these tests
// slower, not wrong.
class ControlPlanePoolTest : public WorkerPoolTest, public ::testing::WithParamInterface<bool> {
 protected:
  // Long enough that a thread descheduled for most of a lease on a loaded
  // machine (under ThreadSanitizer too) still beats in time.
  static constexpr DurationMs kLeaseMs = 1'500;
  static constexpr DurationMs kGiveUpMs = 60'000;  // Only if the engine is broken.
  bool guarded() const { return GetParam(); }
  QueueOpener OpenerWithGuard() {
    Guards guards;
    guards.control_plane = guarded();
    return [this, guards] { return Queue::Open(Url(), clock_, {.guards = guards}); };
  }
  PoolOptions LeaseOptions(int concurrency) {
    PoolOptions options = Options(concurrency);
    options.worker.lease_ms = kLeaseMs;
    return options;
  }
  // Computes (polls, a few ms at a time, through a handle of its own)
  // until `done` says so or the engine is clearly broken.
  void ComputeUntil(const std::function<bool(Queue&)>& done) {
    auto admin = Admin();
    SystemWaiter pace;
    const TimeMs give_up_at = clock_.NowMs() + kGiveUpMs;
    while (!done(*admin) && clock_.NowMs() < give_up_at) pace.PauseMs(5);
  }
  // The executions of `job`, oldest first.
  std::vector<Execution> Executions(Queue& queue, JobId job) {
    auto detail = queue.store().InspectJob(job);
    return detail ? detail->executions : std::vector<Execution>{};
  }
};

// A handler computing for over a lease on a pool of two threads: with the
// control plane it keeps its lease and runs once; without, the idle thread
// reaps its lease while it computes and runs the job again, and the first
// run's commit is fenced (with the commit boundary, one effect still).
TEST_P(ControlPlanePoolTest, AHandlerThatNeverYieldsKeepsItsLeaseOnlyWithTheControlPlane) {
  const JobId id = Admin()->Enqueue({.key = "render"})->job_id;
  std::atomic<int> runs{0};
  WorkerPool pool(
      OpenerWithGuard(),
      [&](const JobContext&) {
        if (++runs > 1) return HandlerResult::Ok("frame");
        ComputeUntil([&](Queue& q) {
          if (!guarded()) return runs.load() > 1;  // Another thread runs it again.
          const auto execs = Executions(q, id);
          // Renewed past the end of a second lease: it outlived its first.
          return execs.size() == 1 &&
                 execs[0].lease_expires_at_ms >= execs[0].leased_at_ms + 2 * kLeaseMs;
        });
        return HandlerResult::Ok("frame");
      },
      LeaseOptions(2), waiter_);
  const PoolStats stats = pool.Run();
  EXPECT_TRUE(stats.drained);
  EXPECT_EQ(stats.finished, 1);
  auto admin = Admin();
  const auto execs = Executions(*admin, id);
  EXPECT_EQ(Detail(id)->job.state, JobState::kSucceeded);
  EXPECT_EQ(admin->store().ReadSnapshot()->effects.size(), 1u);
  if (guarded()) {
    EXPECT_EQ(runs.load(), 1);
    EXPECT_GE(stats.heartbeats, 2);
    ASSERT_EQ(execs.size(), 1u);
    EXPECT_EQ(execs[0].state, ExecState::kDone);
  } else {
    EXPECT_EQ(runs.load(), 2);
    EXPECT_EQ(stats.heartbeats, 0);
    EXPECT_EQ(stats.fenced, 1);
    ASSERT_EQ(execs.size(), 2u);
    EXPECT_EQ(execs[0].state, ExecState::kAborted);
    EXPECT_NE(execs[0].reason.find("lease expired"), std::string::npos) << execs[0].reason;
  }
}

// A dead worker's job, and a pool of one thread busy with a long job: with
// the control plane the dead worker's lease is reaped while the thread
// computes; without, nothing reaps it until the thread is idle again.
TEST_P(ControlPlanePoolTest,
       ADeadWorkersLeaseIsReapedWhileEveryThreadIsBusyOnlyWithTheControlPlane) {
  auto admin = Admin();
  const JobId thumb = admin->Enqueue({.key = "thumbnail"})->job_id;
  Worker dead(*admin, [](const JobContext&) { return HandlerResult::Ok(""); },
              {.name = "dead", .lease_ms = kLeaseMs / 2});
  ASSERT_TRUE(dead.Step().has_value());  // Claimed,
  ASSERT_TRUE(dead.Step().has_value());  // begun, and then its process dies.
  const TimeMs expired_at = dead.lease_expires_at_ms();
  const JobId video = admin->Enqueue({.key = "video"})->job_id;
  std::optional<ExecState> thumb_when_video_done;
  WorkerPool pool(
      OpenerWithGuard(),
      [&](const JobContext& ctx) {
        if (ctx.job_id != video) return HandlerResult::Ok("thumbnail");
        // Guarded: until the reaper has aborted the dead worker's lease.
        // Not: until ten sweep intervals after that lease expired.
        ComputeUntil([&](Queue& q) {
          if (!guarded()) return clock_.NowMs() > expired_at + 10 * 50;
          return Executions(q, thumb).at(0).state == ExecState::kAborted;
        });
        thumb_when_video_done = Executions(*Admin(), thumb).at(0).state;
        return HandlerResult::Ok("video");
      },
      LeaseOptions(1), waiter_);
  const PoolStats stats = pool.Run();
  EXPECT_TRUE(stats.drained);
  ASSERT_TRUE(thumb_when_video_done.has_value());
  EXPECT_EQ(*thumb_when_video_done, guarded() ? ExecState::kAborted : ExecState::kInProgress);
  // Either way, once the thread is free, the dead worker's job runs.
  EXPECT_EQ(Detail(thumb)->job.state, JobState::kSucceeded);
  EXPECT_EQ(Detail(video)->job.state, JobState::kSucceeded);
  EXPECT_EQ(Executions(*admin, thumb).size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Guard, ControlPlanePoolTest, ::testing::Bool(), [](const auto& info) {
  return std::string(info.param ? "WithControlPlane" : "Without");
});

TEST_F(WorkerPoolTest, AStoreThatCannotBeOpenedYetIsRetried) {
  Admin()->Enqueue({});
  std::atomic<int> attempts{0};
  QueueOpener flaky = [&]() -> Result<std::unique_ptr<Queue>> {
    if (++attempts <= 2) return MakeError(ErrorCode::kUnavailable, "server starting");
    return Queue::Open(Url(), clock_);
  };
  std::mutex log_mu;  // The job thread and the control plane both open, and log.
  std::vector<std::string> log;
  WorkerPool pool(
      flaky, [](const JobContext&) { return HandlerResult::Ok(""); }, Options(1), waiter_,
      [&](const std::string& line) {
        std::lock_guard lock(log_mu);
        log.push_back(line);
      });
  PoolStats stats = pool.Run();
  EXPECT_EQ(stats.finished, 1);
  EXPECT_EQ(stats.errors, 2);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_NE(log[0].find("server starting"), std::string::npos);
}

// A pool whose every store handle is the real SQLite file behind a
// FaultStore that consults `fail`.
QueueOpener FlakyOpener(const std::string& path, Clock& clock, FaultHook fail) {
  return [path, &clock, fail]() -> Result<std::unique_ptr<Queue>> {
    LAB_ASSIGN_OR_RETURN(std::unique_ptr<Store> real, OpenSqliteStore({.path = path}, clock));
    return Queue::Adopt(std::make_unique<FaultStore>(std::move(real), fail), clock);
  };
}

// Seen before this fix: a transient store error made the worker abandon a
// job whose lease was good, and the job ran again after the lease expired.
TEST_F(WorkerPoolTest, TransientCommitErrorsAreRetriedWithinTheLeaseAndTheJobRunsOnce) {
  const JobId id = Admin()->Enqueue({})->job_id;
  std::atomic<int> commit_failures{3};
  auto fail = [&](StoreOp op, int) -> std::optional<InjectedFault> {
    if (op == StoreOp::kCommit && commit_failures.fetch_sub(1) > 0) {
      return InjectedFault{{ErrorCode::kUnavailable, "database is locked"}};
    }
    return std::nullopt;
  };
  std::atomic<int> runs{0};
  WorkerPool pool(
      FlakyOpener(dir_.File("queue.db"), clock_, fail),
      [&](const JobContext&) {
        ++runs;
        return HandlerResult::Ok("");
      },
      Options(1), waiter_);
  PoolStats stats = pool.Run();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(stats.finished, 1);
  EXPECT_EQ(stats.retried, 3);
  EXPECT_EQ(stats.released + stats.abandoned, 0);
  auto detail = Detail(id);
  EXPECT_EQ(detail->job.state, JobState::kSucceeded);
  EXPECT_EQ(detail->executions.size(), 1u);
}

// A lease that cannot be kept (the commit keeps failing): the job is given
// up and released, so it runs again at once and the audit says why.
TEST_F(WorkerPoolTest, ALeaseThatCannotBeKeptIsReleasedWithTheReasonAudited) {
  const JobId id = Admin()->Enqueue({})->job_id;
  auto fail = [](StoreOp op, int token) -> std::optional<InjectedFault> {
    if (op == StoreOp::kCommit && token == 1) {
      return InjectedFault{{ErrorCode::kUnavailable, "database is locked"}};
    }
    return std::nullopt;
  };
  PoolOptions options = Options(1);
  options.worker.lease_ms = 300;
  std::atomic<int> runs{0};
  std::mutex log_mu;
  std::vector<std::string> log;
  WorkerPool pool(
      FlakyOpener(dir_.File("queue.db"), clock_, fail),
      [&](const JobContext&) {
        ++runs;
        return HandlerResult::Ok("");
      },
      options, waiter_,
      [&](const std::string& line) {
        std::lock_guard lock(log_mu);
        log.push_back(line);
      });
  PoolStats stats = pool.Run();
  EXPECT_EQ(stats.released, 1);
  EXPECT_EQ(stats.finished, 1);
  EXPECT_EQ(stats.redelivered, 1);
  EXPECT_EQ(runs.load(), 2);
  auto detail = Detail(id);
  EXPECT_EQ(detail->job.state, JobState::kSucceeded);
  ASSERT_EQ(detail->executions.size(), 2u);
  EXPECT_EQ(detail->executions[0].state, ExecState::kAborted);
  EXPECT_NE(detail->executions[0].reason.find("database is locked"), std::string::npos)
      << detail->executions[0].reason;
  bool audited = false;
  for (const auto& a : detail->audit) audited = audited || a.event == AuditEvent::kRelease;
  EXPECT_TRUE(audited);
  bool logged = false;
  for (const auto& line : log) {
    logged = logged || line.find(fmt::format("gave up job {}", id)) != std::string::npos;
  }
  EXPECT_TRUE(logged);
}

// What waiting cannot heal stops the pool with the error, instead of
// retrying forever (seen: a worker on a read-only file looped, even with drain).
TEST_F(WorkerPoolTest, AnErrorThatCannotHealStopsThePool) {
  Admin()->Enqueue({});
  auto fail = [](StoreOp op, int) -> std::optional<InjectedFault> {
    if (op == StoreOp::kClaim) {
      return InjectedFault{{ErrorCode::kPermissionDenied, "attempt to write a readonly database"}};
    }
    return std::nullopt;
  };
  WorkerPool pool(
      FlakyOpener(dir_.File("queue.db"), clock_, fail),
      [](const JobContext&) { return HandlerResult::Ok(""); }, Options(3), waiter_);
  PoolStats stats = pool.Run();
  ASSERT_TRUE(stats.fatal.has_value());
  EXPECT_EQ(stats.fatal->code, ErrorCode::kPermissionDenied);
  EXPECT_NE(stats.fatal->message.find("readonly"), std::string::npos);
  EXPECT_EQ(stats.finished, 0);

  SystemWaiter waiter;
  std::atomic<int> opens{0};
  QueueOpener never = [&]() -> Result<std::unique_ptr<Queue>> {
    ++opens;
    return MakeError(ErrorCode::kDataLoss, "file is not a database");
  };
  WorkerPool broken(
      never, [](const JobContext&) { return HandlerResult::Ok(""); }, Options(2), waiter);
  PoolStats none = broken.Run();
  ASSERT_TRUE(none.fatal.has_value());
  EXPECT_EQ(none.fatal->code, ErrorCode::kDataLoss);
  // Each thread (two job threads and the control plane, which opens unless
  // the pool stopped before it started) tried once; none retried.
  EXPECT_LE(opens.load(), 3);
}

TEST_F(WorkerPoolTest, ExecGivesTheCommandItsPayloadAndJobVariables) {
  auto admin = Admin();
  JobId keyed = admin->Enqueue({.key = "invoice-9", .payload = "amount=12"})->job_id;
  JobId plain = admin->Enqueue({.payload = "line one\nline two\n"})->job_id;
  const std::string out = dir_.path().string();
  ExecOptions exec{.command =
                       "cat > '" + out +
                       "/'\"$LAB_JOB_ID\".payload && "
                       "echo \"$LAB_JOB_ID $LAB_JOB_KEY $LAB_ATTEMPT $LAB_FENCING_TOKEN\" > '" +
                       out + "/'\"$LAB_JOB_ID\".env"};
  WorkerPool pool(Opener(), ExecHandler(exec, waiter_, clock_), Options(2), waiter_);
  EXPECT_EQ(pool.Run().finished, 2);
  EXPECT_EQ(ReadFile(fmt::format("{}/{}.payload", out, keyed)), "amount=12");
  EXPECT_EQ(ReadFile(fmt::format("{}/{}.env", out, keyed)),
            fmt::format("{} default/invoice-9 1 1\n", keyed));
  EXPECT_EQ(ReadFile(fmt::format("{}/{}.payload", out, plain)), "line one\nline two\n");
  EXPECT_EQ(ReadFile(fmt::format("{}/{}.env", out, plain)),
            fmt::format("{} job:{} 1 1\n", plain, plain));
  auto detail = Detail(keyed);
  ASSERT_EQ(detail->effects.size(), 1u);
  EXPECT_EQ(detail->effects[0].payload, "exit 0");
}

TEST_F(WorkerPoolTest, ExecNonZeroExitIsRetriedThenDeadLettered) {
  JobId id = Admin()->Enqueue({.max_attempts = 3})->job_id;
  WorkerPool pool(Opener(), ExecHandler({.command = "exit 3"}, waiter_, clock_), Options(1),
                  waiter_);
  PoolStats stats = pool.Run();
  EXPECT_EQ(stats.failed, 3);
  EXPECT_EQ(stats.dead_lettered, 1);  // The third attempt's failure only.
  EXPECT_EQ(stats.claimed, 3);
  auto detail = Detail(id);
  EXPECT_EQ(detail->job.state, JobState::kDead);
  EXPECT_EQ(detail->job.last_error, "command exited with status 3");
  EXPECT_EQ(detail->executions.size(), 3u);
}

TEST_F(WorkerPoolTest, ExecHeartbeatsACommandThatOutlivesItsLease) {
  JobId id = Admin()->Enqueue({})->job_id;
  PoolOptions options = Options(2);
  options.worker.lease_ms = 1'000;
  // The idle thread sweeps often and would take the job over after a
  // missed heartbeat (seen: with heartbeat_ms above the lease this fails).
  options.sweep_ms = 20;
  WorkerPool pool(Opener(),
                  ExecHandler({.command = "sleep 2.5", .heartbeat_ms = 100}, waiter_, clock_),
                  options, waiter_);
  EXPECT_EQ(pool.Run().finished, 1);
  auto detail = Detail(id);
  EXPECT_EQ(detail->job.state, JobState::kSucceeded);
  EXPECT_EQ(detail->executions.size(), 1u);  // Never reaped, never run twice.
}

TEST_F(WorkerPoolTest, ExecKillsTheCommandWhenTheLeaseIsLost) {
  Handler handler = ExecHandler({.command = "sleep 3600", .heartbeat_ms = 5}, waiter_, clock_);
  int beats = 0;
  HandlerResult r =
      handler(JobContext{.job_id = 1,
                         .key = "k",
                         .attempt = 1,
                         .execution_id = 1,
                         .keep_alive = [&]() -> Result<void> {
                           if (++beats < 3) return {};
                           return MakeError(ErrorCode::kAborted, "fenced: lease taken over");
                         }});
  EXPECT_EQ(r.status, HandlerResult::Status::kTransientError);
  EXPECT_EQ(r.error, "lease lost while the command ran; command killed");
  EXPECT_EQ(beats, 3);
}

}  // namespace
}  // namespace lab

namespace lab {
namespace {

// A job's own timeout wins over the handler's: the command is killed and the
// attempt fails with the reason. (Wall time: on a slow machine it only
// takes longer.)
TEST(ExecTimeoutTest, AJobsOwnTimeoutKillsItsCommand) {
  SystemWaiter waiter;
  SystemClock clock;
  Handler handler = ExecHandler({.command = "sleep 3600", .timeout_ms = 3'600'000}, waiter, clock);
  HandlerResult r = handler(JobContext{.job_id = 1, .key = "k", .attempt = 1, .timeout_ms = 100});
  EXPECT_EQ(r.status, HandlerResult::Status::kTransientError);
  EXPECT_EQ(r.error, "command timed out after 100ms; killed");
}

}  // namespace
}  // namespace lab
