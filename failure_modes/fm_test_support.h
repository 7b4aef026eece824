// Test support for failure-mode bundles: run a scenario on a store with
// given guards and collect what the checkers and the effect records say.
// Every bundle's tests are parameterized over the stores (memory, sqlite).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "core/testing/temp_dir.h"
#include "failure_modes/catalogue.h"
#include "fm/runner.h"
#include "fm/scenario_env.h"
#include "store/testing/pg_env.h"

namespace lab::testing {

enum class StoreKindParam { kMemory, kSqlite, kPostgres };

struct StoreParam {
  std::string name;
  StoreKindParam kind;
};

inline void PrintTo(const StoreParam& p, std::ostream* os) { *os << p.name; }

inline std::vector<StoreParam> AllStores() {
  return {{"Memory", StoreKindParam::kMemory},
          {"Sqlite", StoreKindParam::kSqlite},
          {"Postgres", StoreKindParam::kPostgres}};
}

// The URL of a fresh store of the given kind: a file in `dir`, or a new
// schema on the private PostgreSQL server (empty when LAB_PG_URL is unset,
// which fails the test).
inline std::string FreshStoreUrl(StoreKindParam kind, const TempDir& dir) {
  switch (kind) {
    case StoreKindParam::kMemory:
      return "memory:";
    case StoreKindParam::kSqlite:
      return "sqlite:" + dir.File("fm.db");
    case StoreKindParam::kPostgres: {
      const auto url = PgUrlFromEnv();
      if (!url) {
        ADD_FAILURE() << "LAB_PG_URL is not set: run through ctest, which starts a private "
                         "PostgreSQL server";
        return "";
      }
      const char sep = url->find('?') == std::string::npos ? '?' : '&';
      return *url + sep + "schema=" + FreshPgSchema();
    }
  }
  return "";
}

struct ScenarioRun {
  std::unique_ptr<ScenarioEnv> env;
  std::vector<Violation> violations;
  Snapshot snapshot;

  bool Violated(std::string_view inv) const {
    return std::any_of(violations.begin(), violations.end(),
                       [&](const Violation& v) { return v.invariant == inv; });
  }
  // Effects for `job` wherever they landed: the store's ledger or outside.
  size_t EffectsFor(JobId job) const {
    size_t n = 0;
    for (const auto& e : snapshot.effects) n += e.job_id == job ? 1 : 0;
    for (const auto& e : env->effects().applied()) n += e.job_id == job ? 1 : 0;
    return n;
  }
  bool TraceHas(std::string_view actor, std::string_view needle) const {
    const auto& t = env->trace();
    return std::any_of(t.begin(), t.end(), [&](const TraceEvent& e) {
      return e.actor == actor && e.result.find(needle) != std::string::npos;
    });
  }
  std::string Report() const {
    std::string s = FormatTimeline(env->trace());
    for (const auto& v : violations) s += v.ToString() + "\n";
    return s;
  }
};

class ScenarioTest : public ::testing::TestWithParam<StoreParam> {
 protected:
  ScenarioRun Run(const std::function<Result<void>(ScenarioEnv&)>& scenario, Guards guards) {
    const std::string url = FreshStoreUrl(GetParam().kind, dir_);
    auto env = ScenarioEnv::Create(url, guards);
    EXPECT_TRUE(env.has_value()) << env.error().ToString();
    ScenarioRun run{std::move(*env), {}, {}};
    auto ran = scenario(*run.env);
    EXPECT_TRUE(ran.has_value()) << ran.error().ToString();
    auto violations = run.env->Check();
    EXPECT_TRUE(violations.has_value()) << violations.error().ToString();
    run.violations = std::move(*violations);
    run.snapshot = *run.env->queue().store().ReadSnapshot();
    return run;
  }

  // Runs a catalogue entry through the same runner `lab run` uses and
  // expects the verdict (reproduced / held) and a matched claim.
  void ExpectRunnerVerdict(std::string_view fm_id, Mode mode, std::string_view verdict) {
    const FailureMode* fm = FindFailureMode(fm_id);
    ASSERT_NE(fm, nullptr) << fm_id;
    if (GetParam().kind == StoreKindParam::kPostgres) {
      // `lab run` needs a fresh database per run; on PostgreSQL it refuses
      // for now rather than write into someone's schema.
      auto refused = RunFailureMode(*fm, mode, FreshStoreUrl(GetParam().kind, dir_));
      ASSERT_FALSE(refused.has_value());
      EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
      return;
    }
    auto report = RunFailureMode(
        *fm, mode, GetParam().kind == StoreKindParam::kSqlite ? "sqlite:" : "memory:");
    ASSERT_TRUE(report.has_value()) << report.error().ToString();
    EXPECT_TRUE(report->Matched());
    EXPECT_EQ(report->Verdict(), verdict);
  }

  TempDir dir_;
};

}  // namespace lab::testing
