// FM_009 repro, what only it shows. Goal: with sync_before_ack off, the
// power loss takes back both acknowledged jobs (the finished one with its
// effect), and SQLite's file is still whole: the loss is silent. And on the
// group-commit path (store/group_commit.h, what `lab queue work` and the
// benchmarks run on SQLite), a batch acknowledged without its sync is lost
// the same way, while with the guard every acknowledged call survives.
#include <fmt/core.h>

#include "failure_modes/fm_test_support.h"
#include "store/group_commit.h"

namespace lab {
namespace {

using FM_009_Repro = testing::BundleTest;

TEST_P(FM_009_Repro, ThePowerLossTakesBackWhatWasAcknowledged) {
  DiskStats disk;
  Snapshot s;
  const RunReport r = Run("FM_009", Mode::kBaseline, &s, &disk);
  SCOPED_TRACE(testing::Describe(r));
  EXPECT_EQ(disk.crashes, 1);
  EXPECT_EQ(disk.failed_syncs, 0);
  EXPECT_TRUE(s.jobs.empty());
  EXPECT_TRUE(s.effects.empty());
}

LAB_INSTANTIATE_ON_THE_SIMULATED_DISK(FM_009_Repro);

// Enqueues `n` jobs through a CommitGroup on a simulated disk, cuts the
// power, and counts the acknowledged jobs the reopened file still has.
size_t SurvivorsOfAGroup(const Guards& guards, int n) {
  static int disks = 0;
  SimDisk disk(fmt::format("fm009-group-{}", ++disks), 9);
  ManualClock clock;
  const QueueOptions options{.guards = guards, .sqlite_vfs = disk.vfs_name()};
  {
    auto group =
        CommitGroup::Open([&] { return OpenRecordStore("sqlite:group.db", clock, options); });
    EXPECT_TRUE(group.has_value()) << group.error().ToString();
    if (!group) return 0;
    auto handle = (*group)->NewHandle();
    for (int i = 0; i < n; ++i) {
      auto r = handle->Enqueue({.key = fmt::format("order-{}", i)});
      EXPECT_TRUE(r.has_value()) << r.error().ToString();
    }
    EXPECT_GE((*group)->stats().batches, 1);
    disk.Crash();
  }
  auto after = OpenRecordStore("sqlite:group.db", clock, options);
  EXPECT_TRUE(after.has_value()) << after.error().ToString();
  if (!after) return 0;
  EXPECT_TRUE((*after)->CheckIntegrity().has_value());
  auto snapshot = (*after)->ReadSnapshot();
  EXPECT_TRUE(snapshot.has_value());
  return snapshot ? snapshot->jobs.size() : 0;
}

TEST(FM_009_GroupCommit, ABatchAcknowledgedBeforeItsSyncIsLostWithThePower) {
  constexpr int kJobs = 20;
  EXPECT_LT(SurvivorsOfAGroup(Guards::AllExcept(&Guards::sync_before_ack), kJobs), size_t{kJobs});
  EXPECT_EQ(SurvivorsOfAGroup(Guards::All(), kJobs), size_t{kJobs});
}

}  // namespace
}  // namespace lab
