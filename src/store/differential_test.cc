// Goal: the three backends are one store. Method: random sequences of every
// operation (enqueue, claim, heartbeat, begin, commit, finish, fail,
// release, defer, complete, reap, reconcile, redrive, a drill's finding,
// prune, a queue's limit), with the clock moving and stale tokens
// presented, drawn from a seed and run on MemoryStore (the model) and on
// SQLite and PostgreSQL side by side: every result and the whole snapshot
// after every call must be the same, and every change the call made must
// be in its audit entries (FindUnauditedChanges). A divergence is shrunk
// to a shortest sequence (whole chunks, then single calls, removed, and
// each call's arguments made the simplest, while it still fails) and
// printed with its seed. Seen to fail: a model with
// fencing off against one with it on is caught, and shrunk to three calls.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "check/consistency.h"
#include "core/clock.h"
#include "core/rng.h"
#include "core/testing/temp_dir.h"
#include "store/fault_store.h"
#include "store/memory_store.h"
#include "store/record_store.h"
#include "store/testing/backends.h"

namespace lab {
namespace {

// A sequence's steps: a store call (FaultStore's closed set of them), or
// the clock moving (no call).
struct OpSpec {
  std::optional<StoreOp> call;  // None: the clock moves.
  std::string_view name;
  int weight;      // How often it is drawn, relative to the others.
  bool refusable;  // Whether the sequences can make the store refuse it.
};
constexpr OpSpec kOps[] = {
    {StoreOp::kEnqueue, "enqueue", 4, true},  // A queue at its limit.
    {StoreOp::kClaim, "claim", 4, false},
    {StoreOp::kHeartbeat, "heartbeat", 1, true},  // Stale, ended, capped.
    {StoreOp::kBegin, "begin", 2, true},
    {StoreOp::kCommit, "commit", 2, true},
    {StoreOp::kFinish, "finish", 3, true},
    {StoreOp::kFail, "fail", 2, true},
    {StoreOp::kRelease, "release", 1, true},
    {StoreOp::kDefer, "defer", 1, true},
    {StoreOp::kComplete, "complete", 2, true},
    {StoreOp::kReap, "reap", 1, false},
    {StoreOp::kReconcile, "reconcile", 1, false},
    {StoreOp::kRedrive, "redrive", 3, true},  // Not DEAD.
    {StoreOp::kFinding, "finding", 1, false},
    {StoreOp::kDeliver, "deliver", 3, true},      // Not an outbox's, or no such effect.
    {StoreOp::kRedeliver, "redeliver", 2, true},  // Likewise.
    {StoreOp::kPrune, "prune", 1, false},
    {StoreOp::kLimit, "limit", 1, false},
    {std::nullopt, "advance", 3, false},
};

// One step: its call (none: the clock moves) and three small numbers that
// pick its arguments (which
// lease, a stale token or not, which queue, how long), read the same way on
// every backend.
struct Op {
  std::optional<StoreOp> call;  // None: the clock moves.
  int a = 0;
  int b = 0;
  int c = 0;
};

std::string Describe(const Op& op) {
  const auto spec = std::find_if(std::begin(kOps), std::end(kOps),
                                 [&](const OpSpec& s) { return s.call == op.call; });
  return fmt::format("{}({},{},{})", spec->name, op.a, op.b, op.c);
}

std::vector<Op> DrawOps(uint64_t seed, int n) {
  Rng rng(seed);
  int total = 0;
  for (const OpSpec& s : kOps) total += s.weight;
  std::vector<Op> ops;
  for (int i = 0; i < n; ++i) {
    int pick = static_cast<int>(rng.Uniform(total));
    const OpSpec* spec = kOps;
    while (pick >= spec->weight) pick -= (spec++)->weight;
    ops.push_back({spec->call, static_cast<int>(rng.Uniform(64)), static_cast<int>(rng.Uniform(64)),
                   static_cast<int>(rng.Uniform(64))});
  }
  return ops;
}

// A store under test, on fresh storage of its own.
struct Candidate {
  std::string name;
  std::function<std::shared_ptr<StoreBackend>(testing::TempDir&)> make;
  StoreOptions options;
};

// What the sequence has handed out so far, read from the model's answers:
// the leases, and the highest job id.
struct Handed {
  std::vector<Lease> leases;
  JobId jobs = 0;
  std::vector<JobId> dead;         // DEAD now, for redrives to find.
  std::vector<int64_t> delivered;  // Outbox effects delivered now, for redeliveries to find.
};

// The call's answer as text (the same on every backend), and whether it
// was refused.
struct Answer {
  std::string text;
  bool refused = false;
  bool made = true;  // False: nothing to make it with yet (no lease, no job).
};

// A refused call's answer: its code and message.
Answer Refused(const Error& e) {
  return {fmt::format("error {}: {}", static_cast<int>(e.code), e.message), true};
}
template <typename T>
Answer Say(const Result<T>& r, const std::function<std::string(const T&)>& say) {
  return r ? Answer{say(*r)} : Refused(r.error());
}
Answer Say(const Result<void>& r) { return r ? Answer{"ok"} : Refused(r.error()); }

Answer Apply(Store& store, ManualClock& clock, const Op& op, const Handed& handed) {
  const std::string queue = op.a % 3 == 0 ? "other" : "default";
  // A lease: mostly one of the last few, and one time in five with a stale token.
  const Lease* lease = nullptr;
  LeaseRef ref;
  if (!handed.leases.empty()) {
    const int n = static_cast<int>(handed.leases.size());
    lease = &handed.leases[n - 1 - op.a % std::min(n, 4)];
    ref = {lease->execution_id, lease->token - (op.b % 5 == 0 ? 1 : 0)};
  }
  const JobId job = handed.jobs == 0 ? 0 : 1 + op.a % handed.jobs;
  if (!op.call) {
    clock.Set(clock.NowMs() + 100 * (1 + op.a % 20));
    return {"advanced"};
  }
  switch (*op.call) {
    case StoreOp::kEnqueue: {
      NewJob j{.queue = queue, .priority = op.c % 3, .max_attempts = 1 + op.b % 3};
      if (op.b % 4 != 0) j.key = fmt::format("k{}", op.b % 7);
      if (op.c % 2 == 1) j.run_at_ms = clock.NowMs() + 500;
      if (op.c % 5 == 0) j.deadline_ms = clock.NowMs() + 2'000;
      if (op.c % 7 == 0) j.timeout_ms = 1'500;
      return Say<EnqueueResult>(store.Enqueue(j), [](const EnqueueResult& e) {
        return fmt::format("job {} created {}", e.job_id, e.created);
      });
    }
    case StoreOp::kClaim: {
      const ClaimRequest req{.queue = queue,
                             .worker = fmt::format("w{}", op.b % 3),
                             .max_jobs = 1 + op.b % 3,
                             .lease_ms = 1'000 * (1 + op.c % 3),
                             .begin = op.c % 2 == 1};
      return Say<std::vector<Lease>>(store.Claim(req), [](const std::vector<Lease>& ls) {
        std::string out = "leases";
        for (const Lease& l : ls) {
          out +=
              fmt::format(" e{}/t{}/x{}/j{}", l.execution_id, l.token, l.expires_at_ms, l.job.id);
        }
        return out;
      });
    }
    case StoreOp::kReap:
      return Say<int>(store.ReapExpired(), [](int n) { return fmt::format("reaped {}", n); });
    case StoreOp::kReconcile:
      return Say<int>(store.Reconcile(), [](int n) { return fmt::format("reconciled {}", n); });
    case StoreOp::kPrune:
      return Say<PruneResult>(store.Prune({.retain = 1'000 * (op.b % 3), .limit = 1 + op.c % 3}),
                              [](const PruneResult& p) {
                                return fmt::format("pruned {}/{}/{}/{} to {}", p.jobs, p.executions,
                                                   p.effects, p.audit, p.cutoff_ms);
                              });
    case StoreOp::kLimit:
      return Say(store.SetQueueLimit({.queue = queue, .max_depth = op.b % 4}));
    case StoreOp::kRedrive:
      if (job == 0) return {"no job", false, false};
      // Half the time a dead job, which a redrive accepts.
      if (op.b % 2 == 0 && !handed.dead.empty()) {
        return Say(store.Redrive(handed.dead[op.a % handed.dead.size()]));
      }
      return Say(store.Redrive(job));
    case StoreOp::kFinding:
      if (job == 0) return {"no job", false, false};
      return Say(store.RecordFinding(job, fmt::format("finding {}", op.b)));
    case StoreOp::kDeliver:
    case StoreOp::kRedeliver: {
      auto outbox = store.Outbox(1 + op.c % 3);
      if (!outbox) return Refused(outbox.error());
      std::string listed = "outbox";
      for (const EffectRecord& e : *outbox) listed += fmt::format(" {}", e.id);
      // Three times in four an effect the call can take (the outbox's first, or a
      // delivered one: marking it again changes nothing), else any id.
      std::vector<int64_t> movable = handed.delivered;
      if (!outbox->empty()) movable.push_back(outbox->front().id);
      const int64_t id =
          op.b % 4 != 0 && !movable.empty() ? movable[op.a % movable.size()] : 1 + op.a % 8;
      const Answer a = *op.call == StoreOp::kDeliver
                           ? Say(store.MarkDelivered(id))
                           : Say(store.Redeliver(id, fmt::format("missing {}", op.c)));
      return {listed + "; " + a.text, a.refused};
    }
    default:
      break;
  }
  if (lease == nullptr) return {"no lease", false, false};
  switch (*op.call) {
    case StoreOp::kHeartbeat:
      return Say(store.Heartbeat(ref, 1'000 * (1 + op.c % 3)));
    case StoreOp::kBegin:
      return Say(store.Begin(ref));
    case StoreOp::kCommit: {
      const std::optional<Effect> effect =
          op.c % 3 == 0 ? std::nullopt
                        : std::optional<Effect>(Effect{fmt::format("e{}", op.c), op.b % 4 != 0});
      return Say<CommitOutcome>(
          store.Commit(ref, effect, op.c % 2 == 0 ? CommitThen::kStay : CommitThen::kFinish),
          [](CommitOutcome o) { return fmt::format("commit {}", static_cast<int>(o)); });
    }
    case StoreOp::kFinish:
      return Say(store.Finish(ref));
    case StoreOp::kFail: {
      FailRequest req{.error = fmt::format("failure {}", op.c)};
      if (op.c % 2 != 0) req.retry_at_ms = clock.NowMs() + 100 * (op.c % 4);
      return Say<FailOutcome>(store.Fail(ref, req), [](FailOutcome o) {
        return fmt::format("fail {}", static_cast<int>(o));
      });
    }
    case StoreOp::kRelease:
      return Say(store.Release(ref, "let go"));
    case StoreOp::kDefer:
      return Say(store.Defer(ref, {.run_at_ms = clock.NowMs() + 300 * (op.c % 3), .why = "held"}));
    case StoreOp::kComplete: {
      Completion item{.lease = ref};
      if (op.c % 3 == 0) item.fail = FailRequest{.error = "batch failure"};
      if (op.c % 3 == 1) item.effect = Effect{"batch effect", op.a % 4 != 0};
      auto r = store.Complete(std::span<const Completion>(&item, 1));
      if (!r) return Refused(r.error());
      return Say<CompleteOutcome>(r->at(0), [](CompleteOutcome o) {
        return fmt::format("complete {}", static_cast<int>(o));
      });
    }
    default:
      LAB_ASSERT(false);
  }
  return {};
}

std::string Describe(const AuditEntry& a) {
  return fmt::format("#{} @{} job {} exec {} {} {} -> {} ({})", a.seq, a.at_ms, a.job_id,
                     a.execution_id, ToString(a.event), a.from, a.to, a.detail);
}
std::string Describe(const Job& j) {
  return fmt::format("job {} {} {} attempts {}/{} redrive {} run_at {} finished {} err '{}'", j.id,
                     j.queue, ToString(j.state), j.attempts, j.max_attempts, j.attempts_at_redrive,
                     j.run_at_ms, j.finished_at_ms, j.last_error);
}
std::string Describe(const Execution& e) {
  return fmt::format("exec {} job {} attempt {} {} {} lease to {} ended {} '{}'", e.id, e.job_id,
                     e.attempt, e.worker, ToString(e.state), e.lease_expires_at_ms, e.ended_at_ms,
                     e.reason);
}
std::string Describe(const EffectRecord& e) {
  return fmt::format("effect {} job {} exec {} key {} '{}' at {} {} {}", e.id, e.job_id,
                     e.execution_id, e.key, e.payload, e.applied_at_ms, ToString(e.delivery),
                     e.delivered_at_ms);
}

// The first record in which two lists differ, as text; "" when they agree.
template <typename Record>
std::string FirstDifference(std::string_view what, const std::vector<Record>& a,
                            const std::vector<Record>& b) {
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const std::string x = i < a.size() ? Describe(a[i]) : "(none)";
    const std::string y = i < b.size() ? Describe(b[i]) : "(none)";
    if (x != y) return fmt::format("{} #{}: {} vs {}", what, i, x, y);
  }
  return "";
}

std::string SnapshotDifference(const Snapshot& a, const Snapshot& b) {
  for (std::string d : {FirstDifference("jobs", a.jobs, b.jobs),
                        FirstDifference("executions", a.executions, b.executions),
                        FirstDifference("effects", a.effects, b.effects),
                        FirstDifference("audit", a.audit, b.audit)}) {
    if (!d.empty()) return d;
  }
  return "";
}

// How many calls of each kind the model accepted and refused: what a
// sweep exercised.
struct Tally {
  std::map<std::optional<StoreOp>, int> accepted;
  std::map<std::optional<StoreOp>, int> refused;
};

// Runs `ops` on every candidate side by side, the first being the model;
// returns what went wrong first, or nullopt when they agreed throughout.
std::optional<std::string> Replay(const std::vector<Candidate>& candidates,
                                  const std::vector<Op>& ops, Tally* tally = nullptr) {
  ManualClock clock(1'000'000);
  std::vector<std::unique_ptr<testing::TempDir>> dirs;
  std::vector<std::unique_ptr<Store>> stores;
  for (const Candidate& c : candidates) {
    dirs.push_back(std::make_unique<testing::TempDir>());
    auto backend = c.make(*dirs.back());
    if (!backend) return fmt::format("{} did not open", c.name);
    stores.push_back(std::make_unique<RecordStore>(std::move(backend), clock, c.options));
  }
  Handed handed;
  auto before = stores[0]->ReadSnapshot();
  if (!before) return "the model's snapshot: " + before.error().ToString();
  for (size_t i = 0; i < ops.size(); ++i) {
    const std::string step = fmt::format("call {} {}", i, Describe(ops[i]));
    const TimeMs now = clock.NowMs();
    // Every store sees the call at the same moment: an advance moves the
    // shared clock once, after the model's turn.
    std::vector<Answer> answers;
    for (auto& store : stores) {
      clock.Set(now);
      answers.push_back(Apply(*store, clock, ops[i], handed));
    }
    std::vector<Snapshot> snaps;
    for (size_t s = 0; s < stores.size(); ++s) {
      auto snap = stores[s]->ReadSnapshot();
      if (!snap)
        return fmt::format("{}: {}'s snapshot: {}", step, candidates[s].name,
                           snap.error().ToString());
      snaps.push_back(std::move(*snap));
    }
    for (size_t s = 1; s < stores.size(); ++s) {
      if (answers[s].text != answers[0].text) {
        return fmt::format("{}: {} answered '{}', {} answered '{}'", step, candidates[0].name,
                           answers[0].text, candidates[s].name, answers[s].text);
      }
      if (std::string d = SnapshotDifference(snaps[0], snaps[s]); !d.empty()) {
        return fmt::format("{}: {} and {} differ at {}", step, candidates[0].name,
                           candidates[s].name, d);
      }
    }
    for (const std::string& p : FindUnauditedChanges(*before, snaps[0], now, answers[0].refused)) {
      return fmt::format("{} on {}: {}", step, candidates[0].name, p);
    }
    if (tally && answers[0].made) {
      ++(answers[0].refused ? tally->refused : tally->accepted)[ops[i].call];
    }
    if (ops[i].call == StoreOp::kEnqueue && !answers[0].refused) {
      handed.jobs = std::max(handed.jobs, snaps[0].jobs.empty() ? 0 : snaps[0].jobs.back().id);
    }
    if (ops[i].call == StoreOp::kClaim && !answers[0].refused) {
      // The model's leases, read back from its executions (the answer's text names them).
      for (const Execution& e : snaps[0].executions) {
        if (handed.leases.empty() || e.id > handed.leases.back().execution_id) {
          handed.leases.push_back({.execution_id = e.id, .token = e.attempt});
        }
      }
    }
    handed.dead.clear();
    for (const Job& j : snaps[0].jobs) {
      if (j.state == JobState::kDead) handed.dead.push_back(j.id);
    }
    handed.delivered.clear();
    for (const EffectRecord& e : snaps[0].effects) {
      if (e.delivery == Delivery::kDelivered) handed.delivered.push_back(e.id);
    }
    before = std::move(snaps[0]);
  }
  return std::nullopt;
}

// Removes chunks of calls, then single calls, and sets each call's
// numbers to 0 (the simplest arguments), each while the sequence still
// fails, until nothing more goes; returns the shortest failing sequence
// found and its failure.
std::pair<std::vector<Op>, std::string> Shrink(const std::vector<Candidate>& candidates,
                                               std::vector<Op> ops, std::string failure) {
  const auto keep_if_failing = [&](std::vector<Op> candidate) {
    auto f = Replay(candidates, candidate);
    if (!f) return false;
    ops = std::move(candidate);
    failure = *f;
    return true;
  };
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t chunk = std::max<size_t>(ops.size() / 2, 1); chunk >= 1; chunk /= 2) {
      for (size_t at = 0; at + chunk <= ops.size();) {
        std::vector<Op> shorter = ops;
        shorter.erase(shorter.begin() + static_cast<std::ptrdiff_t>(at),
                      shorter.begin() + static_cast<std::ptrdiff_t>(at + chunk));
        if (keep_if_failing(std::move(shorter))) {
          progress = true;
        } else {
          at += chunk;
        }
      }
      if (chunk == 1) break;
    }
    for (size_t at = 0; at < ops.size(); ++at) {
      for (int Op::*field : {&Op::a, &Op::b, &Op::c}) {
        if (ops[at].*field == 0) continue;
        std::vector<Op> simpler = ops;
        simpler[at].*field = 0;
        progress = keep_if_failing(std::move(simpler)) || progress;
      }
    }
  }
  return {ops, failure};
}

// Sweeps `seeds` sequences of `calls` calls; the first that fails, shrunk:
// its seed, its calls and its failure.
struct Found {
  uint64_t seed = 0;
  std::vector<Op> ops;
  std::string failure;
  std::string ToString() const {
    std::string calls;
    for (const Op& op : ops) calls += " " + Describe(op);
    return fmt::format("seed {}: {}\n  shortest sequence ({} calls):{}", seed, failure, ops.size(),
                       calls);
  }
};
std::optional<Found> Sweep(const std::vector<Candidate>& candidates, uint64_t first_seed, int seeds,
                           int calls, Tally* tally = nullptr) {
  for (uint64_t seed = first_seed; seed < first_seed + seeds; ++seed) {
    const std::vector<Op> ops = DrawOps(seed, calls);
    if (auto failure = Replay(candidates, ops, tally)) {
      auto [shortest, why] = Shrink(candidates, ops, *failure);
      return Found{seed, std::move(shortest), std::move(why)};
    }
  }
  return std::nullopt;
}

Candidate Model(StoreOptions options = {}) {
  return {"Memory", [](testing::TempDir&) { return std::make_shared<MemoryBackend>(); }, options};
}

std::vector<Candidate> EveryBackend() {
  std::vector<Candidate> out = {Model()};
  for (auto& b : testing::StorageBackends()) {
    if (b.name != "Memory") out.push_back({b.name, b.make, {}});
  }
  return out;
}

// Four blocks of 40 sequences of 60 calls (9,600 calls on each backend),
// one ctest entry each so they run side by side. Each block must have
// exercised every kind of call accepted, and every refusable one refused,
// or the sweep proves less than it seems to.
class DifferentialTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(DifferentialTest, MemorySqliteAndPostgresGiveTheSameAnswersAndRecords) {
  Tally tally;
  if (auto found = Sweep(EveryBackend(), GetParam(), 40, 60, &tally)) {
    ADD_FAILURE() << found->ToString();
    return;
  }
  std::string counts = "accepted/refused:";
  for (const OpSpec& op : kOps) {
    counts += fmt::format(" {} {}/{}", op.name, tally.accepted[op.call], tally.refused[op.call]);
  }
  for (const OpSpec& op : kOps) {
    RecordProperty(fmt::format("{}_accepted", op.name), tally.accepted[op.call]);
    RecordProperty(fmt::format("{}_refused", op.name), tally.refused[op.call]);
    EXPECT_GE(tally.accepted[op.call], 3) << op.name << " was hardly ever accepted; " << counts;
    if (op.refusable) {
      EXPECT_GE(tally.refused[op.call], 3) << op.name << " was hardly ever refused; " << counts;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, DifferentialTest, ::testing::Values(1, 31, 61, 91));

TEST(DifferentialCheckTest, AModelWithoutFencingIsCaughtAndShrunkToThreeCalls) {
  StoreOptions unfenced;
  unfenced.enforce_fencing = false;
  Candidate weakened = Model(unfenced);
  weakened.name = "Memory without fencing";
  const auto found = Sweep({Model(), weakened}, 1, 50, 60);
  ASSERT_TRUE(found.has_value()) << "a store without fencing answered like the model";
  // An enqueue, a claim and a stale call are all it takes.
  EXPECT_EQ(found->ops.size(), 3u) << found->ToString();
  EXPECT_NE(found->failure.find("is stale"), std::string::npos) << found->ToString();
  EXPECT_NE(found->failure.find("Memory without fencing answered"), std::string::npos)
      << found->ToString();
}

}  // namespace
}  // namespace lab
