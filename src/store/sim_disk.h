// SimDisk: a simulated disk, registered with SQLite as a VFS by name, so the
// real SQLite code (SqliteBackend, opened with SqliteOptions::vfs) runs on
// it at memory speed and can lose power at any instant.
//
// What it models (the disk's contract as Linux keeps it, not as one wishes):
// * A write goes to a volatile cache: reads see it at once; it is durable
//   only once the file is synced. A truncate likewise.
// * A crash (Crash(), or CrashBefore(k): the power fails just before the
//   k-th write, truncate or sync) keeps, drops or tears each unsynced write,
//   by a choice drawn from the seed; a torn write keeps some of its 512-byte
//   sectors and loses the others. The shared memory of the WAL index is
//   lost. Every file opened before the crash is dead: its I/O fails, as a
//   killed process's would, until it is closed.
// * A file created since the last crash exists after the next one only if
//   its directory was synced since: as SQLite's unix VFS does, a new
//   journal or log has its directory synced with its own first sync; a new
//   database file only when someone syncs the directory (the lab does,
//   through kFcntlSyncDirectory: SqliteDb::SyncDirectory). A file deleted
//   stays deleted.
// * A sync can fail (EIO). As on Linux after a write-back error, the dirty
//   pages of that file are then forgotten: they stay readable until the
//   next crash, will never be durable, and the next sync reports success
//   ("fsyncgate").
// * A read can fail (EIO); the disk can fill (ENOSPC past `capacity`).
// Nothing here reads the clock, the environment or a global random
// generator: SQLite's randomness and time come from the seed and zero.
// Thread-safety: one thread (the simulator's); every connection on the
// disk must be closed before the SimDisk is destroyed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace lab {

enum class DiskOp { kRead, kWrite, kSync };
enum class DiskFault {
  kIoError,    // EIO on a read or a write.
  kSyncError,  // EIO on a sync: the file's dirty pages are forgotten (see above).
  kFull,       // ENOSPC on a write.
  kCrash,      // The power fails just before the operation (which fails).
};

// Whether `fault` can happen to `op` (a hook's fault that cannot is ignored).
bool AppliesTo(DiskFault fault, DiskOp op);

std::string_view ToString(DiskFault fault);
std::optional<DiskFault> ParseDiskFault(std::string_view name);

// Asked before every read, write, truncate and sync; `n` counts them from 1.
using DiskFaultHook = std::function<std::optional<DiskFault>(DiskOp op, int64_t n)>;

struct DiskStats {
  int64_t reads = 0;
  int64_t writes = 0;  // Writes and truncates.
  int64_t syncs = 0;
  int64_t failed_syncs = 0;
  int64_t crashes = 0;
  // What crashes did to the writes they found unsynced.
  int64_t kept = 0, dropped = 0, torn = 0;
  int64_t files_lost = 0;  // Files created and never synced before a crash.
};

class SimDisk {
 public:
  static constexpr int kSectorBytes = 512;

  // Registers the VFS `vfs_name` (it must not exist yet); crash choices
  // and SQLite's randomness come from `seed`.
  SimDisk(std::string vfs_name, uint64_t seed);
  ~SimDisk();
  SimDisk(const SimDisk&) = delete;
  SimDisk& operator=(const SimDisk&) = delete;

  const std::string& vfs_name() const;
  void set_hook(DiskFaultHook hook);
  // Bytes all files may hold together; a write past it fails (SQLITE_FULL).
  void set_capacity(int64_t bytes);
  // The power fails now.
  void Crash();
  // The power fails just before the k-th write, truncate or sync from now
  // on (1: the next one); that operation and every later one on the files
  // open then fail. 0 cancels.
  void CrashBefore(int64_t k);
  // Writes, truncates and syncs so far: the points a crash can hit.
  int64_t durable_ops() const;
  bool crashed_since_armed() const;
  const DiskStats& stats() const;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace lab
