// Test support for failure-mode bundles: run a catalogue entry, in a mode,
// on a fresh store of each kind, through the runner `lab run` uses, and
// look at what it left. The table-driven suite (catalogue_test.cc) judges
// every bundle's claim; a bundle's repro_test.cc, prevent_test.cc and
// recover_test.cc add only what is special to it, with a BundleTest.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "failure_modes/catalogue.h"
#include "fm/runner.h"
#include "fm/scenario_env.h"
#include "store/testing/pg_env.h"

namespace lab::testing {

struct StoreParam {
  std::string name;
  StoreKind kind;
};

inline void PrintTo(const StoreParam& p, std::ostream* os) { *os << p.name; }

inline std::vector<StoreParam> AllStores() {
  return {{"Memory", StoreKind::kMemory},
          {"Sqlite", StoreKind::kSqlite},
          {"Postgres", StoreKind::kPostgres}};
}

// The `lab run` URL for a store kind: the runner makes each run a fresh
// SQLite file or PostgreSQL schema of its own (on the private server, whose
// URL ctest passes; without it the test fails, it never skips).
inline std::string RunUrl(StoreKind kind) {
  switch (kind) {
    case StoreKind::kMemory:
      return "memory:";
    case StoreKind::kSqlite:
      return "sqlite:";
    case StoreKind::kPostgres: {
      const auto url = PgUrlFromEnv();
      if (!url) {
        ADD_FAILURE() << "LAB_PG_URL is not set: run through ctest, which starts a private "
                         "PostgreSQL server";
        return "";
      }
      return *url;
    }
  }
  return "";
}

// Effects for `job` wherever they landed: the store's ledger or outside.
inline size_t EffectsFor(ScenarioEnv& env, JobId job) {
  size_t n = 0;
  auto snapshot = env.queue().store().ReadSnapshot();
  EXPECT_TRUE(snapshot.has_value());
  if (snapshot) {
    for (const auto& e : snapshot->effects) n += e.job_id == job ? 1 : 0;
  }
  for (const auto& e : env.effects().applied()) n += e.job_id == job ? 1 : 0;
  for (const auto& e : env.api().log().applied()) n += e.job_id == job ? 1 : 0;
  return n;
}

// The executions of the job whose key is `key`, oldest first.
inline std::vector<Execution> ExecutionsOf(const Snapshot& s, const std::string& key) {
  JobId id = 0;
  for (const Job& j : s.jobs) {
    if (j.key == key) id = j.id;
  }
  std::vector<Execution> out;
  for (const Execution& e : s.executions) {
    if (id != 0 && e.job_id == id) out.push_back(e);
  }
  return out;
}

inline std::string Describe(const RunReport& r) {
  std::string s = FormatTimeline(r.trace);
  for (const auto& v : r.violations) s += v.ToString() + "\n";
  return s;
}

class BundleTest : public ::testing::TestWithParam<StoreParam> {
 protected:
  // Runs catalogue entry `id` in `mode`; `inspect` sees the environment
  // after the checks. Fails the test when the run itself fails.
  RunReport Run(std::string_view id, Mode mode,
                const std::function<void(ScenarioEnv&)>& inspect = {}) {
    const FailureMode* fm = FindFailureMode(id);
    EXPECT_NE(fm, nullptr) << id;
    if (fm == nullptr) return {};
    auto report = RunFailureMode(*fm, mode, RunUrl(GetParam().kind), inspect);
    EXPECT_TRUE(report.has_value()) << report.error().ToString();
    return report.value_or(RunReport{});
  }
  // The same, keeping the store's records as the run left them and, on
  // the simulated disk, what the disk saw.
  RunReport Run(std::string_view id, Mode mode, Snapshot* records, DiskStats* disk = nullptr) {
    return Run(id, mode, [records, disk](ScenarioEnv& env) {
      auto read = env.queue().store().ReadSnapshot();
      ASSERT_TRUE(read.has_value()) << read.error().ToString();
      *records = std::move(*read);
      if (disk == nullptr) return;
      ASSERT_NE(env.disk_stats(), nullptr) << "not run on the simulated disk";
      *disk = *env.disk_stats();
    });
  }
};

// A failure of the disk itself runs on SQLite only, on the simulated disk.
#define LAB_INSTANTIATE_ON_THE_SIMULATED_DISK(suite)                                      \
  INSTANTIATE_TEST_SUITE_P(                                                               \
      SimDisk, suite,                                                                     \
      ::testing::Values(::lab::testing::StoreParam{"Sqlite", ::lab::StoreKind::kSqlite}), \
      [](const auto& info) { return info.param.name; })

#define LAB_INSTANTIATE_FOR_EVERY_STORE(suite)                                              \
  INSTANTIATE_TEST_SUITE_P(Stores, suite, ::testing::ValuesIn(::lab::testing::AllStores()), \
                           [](const auto& info) { return info.param.name; })

}  // namespace lab::testing
