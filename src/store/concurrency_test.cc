// Goal: on the real engines, many connections at once never lease a job to
// two live executions, never give two executions one fencing token, never
// commit a job twice, refuse cleanly, and never report a commit as "nothing
// written" when it was written. Method: worker threads (and, in the second
// case, forked processes), each on a handle of its own to one SQLite file
// or one PostgreSQL schema, claim, begin, heartbeat, commit (fused or
// split), fail, release, or abandon their leases at random, with leases
// short enough to be reaped, while a control-plane thread reaps,
// reconciles and checks each snapshot it reads for a job with two live
// executions. Every answer is classified: success, a refusal (fenced,
// capped), "nothing written" (busy: the caller may retry), unknown, or
// unclean (anything else: a constraint the rules should have kept from the
// database, say). At the end every job is terminal, the whole-state check
// (INV_003 included) holds, the ledger has at most one effect a job, and no
// execution whose every commit was answered "nothing written" committed.
// Time is the real clock (leases of 50 ms): a loaded machine reaps more,
// which these checks must survive, and no check depends on speed. Seen to
// fail: with PostgreSQL's claim without FOR UPDATE SKIP LOCKED, two
// claims take one job and the second's insert breaks UNIQUE (job_id,
// attempt), an unclean answer (make mutants).
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "check/consistency.h"
#include "core/clock.h"
#include "core/rng.h"
#include "core/testing/temp_dir.h"
#include "core/waiter.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "store/state_machine.h"
#include "store/testing/pg_env.h"

namespace lab {
namespace {

enum class Engine { kSqlite, kPostgres };

void PrintTo(Engine e, std::ostream* os) { *os << (e == Engine::kSqlite ? "Sqlite" : "Postgres"); }

constexpr int kJobs = 150;
constexpr DurationMs kLeaseMs = 50;

// What one worker saw.
struct WorkerLog {
  int64_t calls = 0;
  int64_t refused = 0;    // Fenced or capped: kAborted.
  int64_t unwritten = 0;  // Busy and the like: nothing written, may retry.
  std::vector<std::string> unclean;
  std::set<ExecutionId> committed;    // A commit answered success.
  std::set<ExecutionId> unknown;      // A commit answered kUnknownOutcome.
  std::set<ExecutionId> not_written;  // A commit answered "nothing written".

  // Classifies an answer; returns whether it succeeded.
  template <typename T>
  bool See(std::string_view call, const Result<T>& r) {
    ++calls;
    if (r) return true;
    const ErrorCode code = r.error().code;
    if (code == ErrorCode::kAborted) {
      ++refused;
    } else if (RefusedUnwritten(code)) {
      ++unwritten;
    } else if (code != ErrorCode::kUnknownOutcome) {
      unclean.push_back(fmt::format("{}: {}", call, r.error().ToString()));
    }
    return false;
  }
  void SeeCommit(ExecutionId exec, const Result<CommitOutcome>& r) {
    if (See("commit", r)) {
      if (*r == CommitOutcome::kCommitted) committed.insert(exec);
    } else if (r.error().code == ErrorCode::kUnknownOutcome) {
      unknown.insert(exec);
    } else if (RefusedUnwritten(r.error().code)) {
      not_written.insert(exec);
    }
  }
};

class ConcurrencyTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    if (GetParam() == Engine::kPostgres) {
      const auto url = testing::PgUrlFromEnv();
      ASSERT_TRUE(url.has_value()) << "LAB_PG_URL is not set: run through ctest, which starts a "
                                      "private PostgreSQL server";
      url_ = *url;
      schema_ = testing::FreshPgSchema();
    }
    auto store = Open();
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    for (int i = 0; i < kJobs; ++i) {
      ASSERT_TRUE((*store)->Enqueue({.payload = fmt::format("{}", i), .max_attempts = 8}));
    }
  }

  // A handle of its own on the one database.
  Result<std::unique_ptr<Store>> Open() {
    if (GetParam() == Engine::kSqlite) {
      LAB_ASSIGN_OR_RETURN(auto store, OpenSqliteStore({.path = dir_.File("q.db")}, clock_));
      return std::unique_ptr<Store>(std::move(store));
    }
    LAB_ASSIGN_OR_RETURN(auto store,
                         OpenPostgresStore({.conninfo = url_, .schema = schema_}, clock_));
    return std::unique_ptr<Store>(std::move(store));
  }

  // Whether every job is terminal.
  static bool AllEnded(Store& store) {
    auto counts = store.CountJobs();
    if (!counts) return false;
    for (const StateCount& c : *counts) {
      if (!IsFinished(c.state) && c.count > 0) return false;
    }
    return true;
  }

  // One worker: claims and does something with each lease until every job
  // is terminal.
  void Work(int index, WorkerLog& log) {
    auto opened = Open();
    if (!opened) {
      log.unclean.push_back("open: " + opened.error().ToString());
      return;
    }
    Store& store = **opened;
    Rng rng(static_cast<uint64_t>(index) + 1);
    const std::string name = fmt::format("w{}", index);
    for (int idle = 0; idle < 1'000'000; ++idle) {
      const bool fused = rng.Chance(0.5);
      auto leases =
          store.Claim({.worker = name, .max_jobs = 2, .lease_ms = kLeaseMs, .begin = fused});
      if (!log.See("claim", leases)) continue;
      if (leases->empty()) {
        if (AllEnded(store)) return;
        waiter_.PauseMs(2);
        continue;
      }
      for (const Lease& l : *leases) {
        const LeaseRef ref{l.execution_id, l.token};
        if (!fused) log.See("begin", store.Begin(ref));
        switch (rng.Uniform(10)) {
          case 0:  // Abandoned, as by a crashed worker: the reaper takes it.
            break;
          case 1:
            log.See("release", store.Release(ref, "let go"));
            break;
          case 2:
            log.See("fail", store.Fail(ref, {.error = "boom", .retry_at_ms = clock_.NowMs()}));
            break;
          case 3:  // Paused past its lease, then a zombie commits.
            waiter_.PauseMs(2 * kLeaseMs);
            log.SeeCommit(l.execution_id, store.Commit(ref, Effect{"late"}, CommitThen::kFinish));
            break;
          case 4:  // Split: commit, heartbeat, finish.
            log.SeeCommit(l.execution_id, store.Commit(ref, Effect{"split"}));
            log.See("heartbeat", store.Heartbeat(ref, kLeaseMs));
            log.See("finish", store.Finish(ref));
            break;
          default:
            log.See("heartbeat", store.Heartbeat(ref, kLeaseMs));
            log.SeeCommit(l.execution_id, store.Commit(ref, Effect{"fused"}, CommitThen::kFinish));
        }
      }
    }
    log.unclean.push_back("a worker ran out of rounds with jobs still open");
  }

  // The control plane: reaps and reconciles until every job is terminal,
  // checking each snapshot for a job with two live executions.
  void ControlPlane(WorkerLog& log) {
    auto opened = Open();
    if (!opened) {
      log.unclean.push_back("open: " + opened.error().ToString());
      return;
    }
    Store& store = **opened;
    for (int round = 0;; ++round) {
      log.See("reap", store.ReapExpired());
      log.See("reconcile", store.Reconcile());
      if (round % 5 == 0) {
        auto snap = store.ReadSnapshot();
        if (log.See("snapshot", snap)) {
          std::map<JobId, int> live;
          for (const Execution& e : snap->executions) {
            if (IsLive(e.state) && ++live[e.job_id] > 1) {
              log.unclean.push_back(fmt::format("job {} has two live executions", e.job_id));
            }
          }
        }
      }
      if (AllEnded(store)) return;
      waiter_.PauseMs(kLeaseMs / 5);
    }
  }

  // Runs `workers` worker threads and the control plane in this process.
  WorkerLog RunThreads(int workers, int first_index) {
    std::vector<WorkerLog> logs(static_cast<size_t>(workers) + 1);
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&, w] { Work(first_index + w, logs[static_cast<size_t>(w)]); });
    }
    threads.emplace_back([&] { ControlPlane(logs.back()); });
    for (auto& t : threads) t.join();
    WorkerLog all;
    for (const WorkerLog& l : logs) {
      all.calls += l.calls;
      all.refused += l.refused;
      all.unwritten += l.unwritten;
      all.unclean.insert(all.unclean.end(), l.unclean.begin(), l.unclean.end());
      all.committed.insert(l.committed.begin(), l.committed.end());
      all.unknown.insert(l.unknown.begin(), l.unknown.end());
      all.not_written.insert(l.not_written.begin(), l.not_written.end());
    }
    return all;
  }

  // What must hold of the database after the run, given what the callers saw.
  void CheckEnd(const WorkerLog& log) {
    for (const std::string& u : log.unclean) ADD_FAILURE() << u;
    auto store = Open();
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    const Snapshot s = *(*store)->ReadSnapshot();
    ASSERT_EQ(s.jobs.size(), static_cast<size_t>(kJobs));
    for (const Job& j : s.jobs)
      EXPECT_TRUE(IsFinished(j.state)) << j.id << " " << ToString(j.state);
    for (const std::string& p : FindInconsistencies(s, Guards::All())) ADD_FAILURE() << p;
    std::set<std::pair<JobId, int>> tokens;
    std::map<JobId, int> committed;
    for (const Execution& e : s.executions) {
      EXPECT_TRUE(tokens.insert({e.job_id, e.attempt}).second)
          << "job " << e.job_id << " gave token " << e.attempt << " twice";
      if (IsCommitted(e.state)) {
        EXPECT_EQ(++committed[e.job_id], 1) << "job " << e.job_id << " committed twice";
        // A commit answered "nothing written" (and never answered otherwise)
        // must not have been written.
        EXPECT_FALSE(log.not_written.contains(e.id) && !log.committed.contains(e.id) &&
                     !log.unknown.contains(e.id))
            << "execution " << e.id << " committed, its caller told nothing was written";
      }
    }
    std::set<JobId> ledger;
    for (const EffectRecord& e : s.effects) {
      EXPECT_TRUE(ledger.insert(e.job_id).second) << "job " << e.job_id << " has two effects";
    }
    // The run exercised what it claims to: refusals happened and jobs ended
    // both ways.
    EXPECT_GT(log.refused, 0);
    EXPECT_FALSE(ledger.empty());
    RecordProperty("calls", std::to_string(log.calls));
  }

  SystemClock clock_;
  SystemWaiter waiter_;  // Safe from any thread.
  testing::TempDir dir_;
  std::string url_;
  std::string schema_;
};

TEST_P(ConcurrencyTest, ThreadsOnTheirOwnHandlesKeepEveryLeaseSingleAndEveryRefusalClean) {
  CheckEnd(RunThreads(4, 0));
}

// The same from three processes, each with two workers and a control plane:
// nothing is shared but the database.
TEST_P(ConcurrencyTest, ProcessesOnOneDatabaseKeepEveryLeaseSingleAndEveryRefusalClean) {
  constexpr int kProcesses = 3;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      const WorkerLog log = RunThreads(2, 10 * (p + 1));
      // What the parent needs: the unclean answers and the commits' answers.
      std::ofstream out(dir_.File(fmt::format("log{}", p)));
      out << log.calls << " " << log.refused << " " << log.unwritten << "\n";
      for (const auto& [tag, ids] : {std::pair{"c", &log.committed}, std::pair{"u", &log.unknown},
                                     std::pair{"n", &log.not_written}}) {
        for (ExecutionId id : *ids) out << tag << " " << id << "\n";
      }
      for (const std::string& u : log.unclean) out << "! " << u << "\n";
      out.close();
      _exit(out ? 0 : 3);
    }
    children.push_back(child);
  }
  WorkerLog all;
  for (int p = 0; p < kProcesses; ++p) {
    int status = 0;
    ASSERT_EQ(waitpid(children[static_cast<size_t>(p)], &status, 0),
              children[static_cast<size_t>(p)]);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "process " << p;
    std::ifstream in(dir_.File(fmt::format("log{}", p)));
    int64_t calls = 0, refused = 0, unwritten = 0;
    in >> calls >> refused >> unwritten;
    all.calls += calls;
    all.refused += refused;
    all.unwritten += unwritten;
    std::string tag;
    while (in >> tag) {
      if (tag == "!") {
        std::string line;
        std::getline(in, line);
        all.unclean.push_back(line);
        continue;
      }
      ExecutionId id = 0;
      in >> id;
      (tag == "c" ? all.committed : tag == "u" ? all.unknown : all.not_written).insert(id);
    }
  }
  CheckEnd(all);
}

INSTANTIATE_TEST_SUITE_P(Engines, ConcurrencyTest,
                         ::testing::Values(Engine::kSqlite, Engine::kPostgres),
                         [](const auto& info) {
                           return info.param == Engine::kSqlite ? "Sqlite" : "Postgres";
                         });

}  // namespace
}  // namespace lab
