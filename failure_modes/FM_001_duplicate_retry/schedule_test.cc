// FM_001 as fixed simulator schedules. Goal: the same failure mode, written
// as explicit schedule files (schedule.json: worker 0 pauses past its lease
// before committing; recover_schedule.json: worker 0 crashes between
// COMMITTED and DONE), replays on the simulated world to the same verdicts
// as the hand-driven scenario: baseline violates INV_001, INV_002, INV_004;
// guarded holds; without the reconciler the crash leaves the job stuck
// (INV_006). The files are regression tests that survive code changes.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "failure_modes/FM_001_duplicate_retry/scenario.h"
#include "sim/world.h"

namespace lab {
namespace {

Schedule Load(const std::string& name) {
  std::ifstream in(std::string(LAB_FM001_DIR) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  auto s = ScheduleFromJson(ss.str());
  EXPECT_TRUE(s.has_value()) << name << ": " << s.error().ToString();
  return s.value_or(Schedule{});
}

SimResult Replay(const Schedule& s, Guards guards, const std::string& store) {
  auto r = Simulate(s, {.guards = guards, .store = store});
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
  return r.value_or(SimResult{});
}

class FM_001_Schedule : public ::testing::TestWithParam<std::string> {};

TEST_P(FM_001_Schedule, ReproBaselineViolatesTheClaimedInvariants) {
  const SimResult r =
      Replay(Load("schedule.json"), Fm001DuplicateRetry().baseline_guards, GetParam());
  EXPECT_EQ(r.ViolatedList(), "INV_001,INV_002,INV_004");
  EXPECT_TRUE(r.first_detected_ms.has_value());
}

TEST_P(FM_001_Schedule, PreventGuardedHoldsEveryInvariant) {
  const SimResult r = Replay(Load("schedule.json"), Guards::All(), GetParam());
  EXPECT_TRUE(r.violations.empty()) << r.ViolatedList();
  EXPECT_EQ(r.faults_fired, 1);
}

TEST_P(FM_001_Schedule, RecoverReconcilerFinalizesAfterACrash) {
  const Schedule s = Load("recover_schedule.json");
  const SimResult guarded = Replay(s, Guards::All(), GetParam());
  EXPECT_TRUE(guarded.violations.empty()) << guarded.ViolatedList();
  const SimResult unreconciled = Replay(s, *Guards::Parse("-reconcile"), GetParam());
  EXPECT_EQ(unreconciled.ViolatedList(), "INV_006");
}

INSTANTIATE_TEST_SUITE_P(Stores, FM_001_Schedule, ::testing::Values("memory:", "sqlite:"),
                         [](const auto& info) {
                           return std::string(info.param == "memory:" ? "Memory" : "Sqlite");
                         });

}  // namespace
}  // namespace lab
