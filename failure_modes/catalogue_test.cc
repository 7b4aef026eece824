// The catalogue, judged as a table. Goal: every implemented failure mode,
// on every store (memory, SQLite, PostgreSQL) and in every mode it has,
// does exactly what it claims: baseline violates exactly its invariants (an
// extra one fails the test and is named), guarded and recover violate none.
// Every schedule file in a bundle replays to the verdicts written in it.
// The index page is the catalogue's, and the catalogue is well formed: one
// entry per id, a bundle per implemented entry with the spec's seven
// sections, no planned line left for an implemented one.
#include "failure_modes/catalogue.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "failure_modes/fm_test_support.h"
#include "sim/world.h"

namespace lab {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Case {
  std::string fm;
  Mode mode;
  testing::StoreParam store;
};

std::vector<Case> AllCases() {
  std::vector<Case> out;
  for (const FailureMode* fm : ImplementedCatalogue()) {
    for (Mode mode : kAllModes) {
      if (!fm->Has(mode)) continue;
      for (const auto& store : testing::AllStores()) {
        if (fm->RunsOn(store.kind)) out.push_back({fm->id, mode, store});
      }
    }
  }
  return out;
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.fm << " " << ToString(c.mode) << " on " << c.store.name;
}

class Catalogue : public ::testing::TestWithParam<Case> {};

TEST_P(Catalogue, RunMatchesTheClaimExactly) {
  const Case& c = GetParam();
  const FailureMode* fm = FindFailureMode(c.fm);
  ASSERT_NE(fm, nullptr);
  auto report = RunFailureMode(*fm, c.mode, testing::RunUrl(c.store.kind));
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  SCOPED_TRACE(testing::Describe(*report));
  EXPECT_TRUE(report->Unexpected().empty())
      << "violated but not claimed: " << JoinInvariants(report->Unexpected());
  EXPECT_TRUE(report->Missing().empty())
      << "claimed but not violated: " << JoinInvariants(report->Missing());
  EXPECT_EQ(report->verdict(), c.mode == Mode::kBaseline ? Verdict::kReproduced : Verdict::kHeld);
}

INSTANTIATE_TEST_SUITE_P(Every, Catalogue, ::testing::ValuesIn(AllCases()), [](const auto& info) {
  return fmt::format("{}_{}_{}", info.param.fm, ToString(info.param.mode), info.param.store.name);
});

// A PostgreSQL run's schema is its own, and gone after the run.
TEST(CatalogueRuns, APostgresRunDropsItsSchemaAfterwards) {
  const FailureMode* fm = ImplementedCatalogue().front();
  auto report = RunFailureMode(*fm, Mode::kBaseline, testing::RunUrl(StoreKind::kPostgres));
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_NE(report->store_url.find("schema="), std::string::npos) << report->store_url;
  ManualClock clock;
  auto reopened = Queue::Open(report->store_url, clock, {.create = false});
  ASSERT_FALSE(reopened.has_value()) << report->store_url << " still exists";
  EXPECT_EQ(reopened.error().code, ErrorCode::kNotFound) << reopened.error().ToString();
}

fs::path Root() { return fs::path(LAB_SOURCE_DIR); }

std::vector<fs::path> ScheduleFiles() {
  std::vector<fs::path> out;
  for (const auto& dir : fs::directory_iterator(Root() / "failure_modes")) {
    if (!dir.is_directory() || !dir.path().filename().string().starts_with("FM_")) continue;
    for (const auto& f : fs::directory_iterator(dir.path())) {
      const std::string name = f.path().filename().string();
      if (name.starts_with("schedule") && name.ends_with(".json")) out.push_back(f.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(CatalogueSchedules, EveryScheduleFileReplaysToTheVerdictsWrittenInIt) {
  const auto files = ScheduleFiles();
  ASSERT_FALSE(files.empty());
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    auto schedule = ScheduleFromJson(ReadFile(file));
    ASSERT_TRUE(schedule.has_value()) << schedule.error().ToString();
    EXPECT_FALSE(schedule->expect.empty()) << "a bundle's schedule must say what it expects";
    for (const ScheduleExpectation& e : schedule->expect) {
      for (const char* store : {"memory:", "sqlite:"}) {
        // Disk faults need the simulated disk, which only sqlite: runs on.
        if (!schedule->disk_faults.empty() && std::string_view(store) == "memory:") continue;
        SCOPED_TRACE(fmt::format("--guards {} --store {}", e.guards, store));
        auto r =
            Simulate(*schedule, {.guards = *Guards::Parse(e.guards),
                                 .store = store,
                                 .external_honours_keys = schedule->external_keys.value_or(false)});
        ASSERT_TRUE(r.has_value()) << r.error().ToString();
        EXPECT_EQ(r->ViolatedList(), JoinInvariants(e.violated));
      }
    }
  }
}

TEST(CatalogueShape, TheIndexPageIsTheCatalogues) {
  const std::string page = ReadFile(Root() / "docs" / "failure_mode_index.md");
  EXPECT_EQ(page, FormatIndexMarkdown())
      << "regenerate it: lab list --markdown > docs/failure_mode_index.md";
}

TEST(CatalogueShape, EveryEntryIsWellFormed) {
  EXPECT_TRUE(PlannedAndImplemented().empty())
      << "a bundle exists for a planned line; delete the line in catalogue.cc";
  std::set<std::string> ids;
  for (const FailureMode& fm : lab::Catalogue()) {
    SCOPED_TRACE(fm.id);
    EXPECT_TRUE(ids.insert(fm.id).second) << "listed twice";
    EXPECT_FALSE(fm.invariants.empty());
    if (!fm.implemented()) continue;
    EXPECT_TRUE(fm.dir.ends_with(fm.id + "_") ||
                fm.dir.find("/" + fm.id + "_") != std::string::npos)
        << fm.dir;
    // A baseline turns guards off; otherwise it is the guarded run again.
    EXPECT_NE(fm.baseline_guards, Guards::All());
    // Its own repro and prevent tests (and recover, with a drill).
    for (const char* test : {"repro_test.cc", "prevent_test.cc"}) {
      EXPECT_TRUE(fs::exists(Root() / fm.dir / test)) << fm.dir << " lacks " << test;
    }
    EXPECT_EQ(fs::exists(Root() / fm.dir / "recover_test.cc"), static_cast<bool>(fm.recover));
    const std::string spec = ReadFile(Root() / fm.dir / "spec.md");
    for (const char* section :
         {"## Description", "## Trigger", "## Symptoms", "## Violated invariants", "## Detection",
          "## Prevention / recovery", "## Acceptance"}) {
      EXPECT_NE(spec.find(section), std::string::npos) << "spec.md lacks " << section;
    }
  }
}

}  // namespace
}  // namespace lab
