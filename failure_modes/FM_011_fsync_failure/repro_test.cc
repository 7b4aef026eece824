// FM_011 repro, what only it shows. Goal: with log_recovery off, one sync
// failed, the reopen carried on without folding the log, and the power
// loss took back the enqueue acknowledged after it (order-112), though its
// payment was made; and in the simulator's shrunk schedule the failed sync
// is the trigger: the same run without it loses nothing to a power loss at
// any of 21 points.
#include "core/marks.h"
#include "core/testing/temp_dir.h"
#include "failure_modes/fm_test_support.h"
#include "sim/world.h"

namespace lab {
namespace {

using FM_011_Repro = testing::BundleTest;

TEST_P(FM_011_Repro, TheCommitsAfterTheFailedSyncAreLostWithThePower) {
  MarkCheck recovered(Mark::kLogRecovered);
  DiskStats disk;
  Snapshot s;
  const RunReport r = Run("FM_011", Mode::kBaseline, &s, &disk);
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_FALSE(recovered.hit());
  EXPECT_EQ(disk.failed_syncs, 1);
  EXPECT_EQ(disk.crashes, 1);
  const bool kept_second = std::any_of(s.jobs.begin(), s.jobs.end(), [](const Job& j) {
    return j.key == std::optional<std::string>("order-112");
  });
  EXPECT_FALSE(kept_second);
}

LAB_INSTANTIATE_ON_THE_SIMULATED_DISK(FM_011_Repro);

TEST(FM_011_Schedule, WithoutTheFailedSyncThePowerLossLosesNothing) {
  const std::string text = testing::ReadFile(std::string(LAB_SOURCE_DIR) +
                                             "/failure_modes/FM_011_fsync_failure/schedule.json");
  ASSERT_FALSE(text.empty());
  auto s = ScheduleFromJson(text);
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  const Guards off = Guards::AllExcept(&Guards::log_recovery);
  auto with = Simulate(*s, {.guards = off, .store = "sqlite:"});
  ASSERT_TRUE(with.has_value()) << with.error().ToString();
  EXPECT_TRUE(with->Violated(Invariant::kRecovery)) << with->ViolatedList();
  EXPECT_EQ(with->storage.power_losses, 1);
  // The trigger is the failed sync: without it, a power loss at any of
  // these points, with log_recovery still off, loses nothing.
  int fired = 0;
  for (int64_t op = 100; op <= 1'100; op += 50) {
    Schedule without = *s;
    without.disk_faults = {{.op = op, .fault = DiskFault::kCrash}};
    auto clean = Simulate(without, {.guards = off, .store = "sqlite:"});
    ASSERT_TRUE(clean.has_value()) << clean.error().ToString();
    EXPECT_EQ(clean->ViolatedList(), "") << "a power loss at disk operation " << op;
    fired += clean->storage.power_losses;
  }
  EXPECT_GE(fired, 15);
}

}  // namespace
}  // namespace lab
