// FaultVfs: a SQLite VFS shim over the default VFS that fails sync calls on
// demand, for tests of what the store does when fsync fails.
//
// Register it once under a name, open a SqliteStore with that VFS name, then
// arm it: the next N xSync calls return SQLITE_IOERR_FSYNC, as a disk that
// reports a write-back error would. Test-only. Thread-safety: arm and use
// from one thread.
#pragma once

#include <string>

namespace lab::testing {

class FaultVfs {
 public:
  // Registers (once per process) and returns the shim named `name`.
  static FaultVfs& Get(const std::string& name = "lab-fault");

  void FailNextSyncs(int count) { failing_syncs_ = count; }
  int syncs_failed() const { return syncs_failed_; }
  const std::string& name() const { return name_; }

  // Called by the shim's xSync: true when this sync must fail.
  bool TakeSyncFailure();

 private:
  explicit FaultVfs(std::string name) : name_(std::move(name)) {}
  std::string name_;
  int failing_syncs_ = 0;
  int syncs_failed_ = 0;
};

}  // namespace lab::testing
