#include "store/testing/fault_vfs.h"

#include <sqlite3.h>

#include <cstring>
#include <map>
#include <memory>

#include "core/assert.h"

namespace lab::testing {
namespace {

// The shim file: our io_methods in front of the real file, which follows
// in the same allocation.
struct ShimFile {
  sqlite3_file base;
  FaultVfs* owner;
  sqlite3_file* real;
};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f)->real; }

int ShimClose(sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); }
int ShimRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return Real(f)->pMethods->xRead(Real(f), buf, n, off);
}
int ShimWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  return Real(f)->pMethods->xWrite(Real(f), buf, n, off);
}
int ShimTruncate(sqlite3_file* f, sqlite3_int64 size) {
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int ShimSync(sqlite3_file* f, int flags) {
  if (reinterpret_cast<ShimFile*>(f)->owner->TakeSyncFailure()) return SQLITE_IOERR_FSYNC;
  return Real(f)->pMethods->xSync(Real(f), flags);
}
int ShimFileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Real(f)->pMethods->xFileSize(Real(f), size);
}
int ShimLock(sqlite3_file* f, int lock) { return Real(f)->pMethods->xLock(Real(f), lock); }
int ShimUnlock(sqlite3_file* f, int lock) { return Real(f)->pMethods->xUnlock(Real(f), lock); }
int ShimCheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int ShimFileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int ShimSectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int ShimDeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int ShimShmMap(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return Real(f)->pMethods->xShmMap(Real(f), page, size, extend, out);
}
int ShimShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShimShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int ShimShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }

const sqlite3_io_methods kShimMethods = {2,
                                         ShimClose,
                                         ShimRead,
                                         ShimWrite,
                                         ShimTruncate,
                                         ShimSync,
                                         ShimFileSize,
                                         ShimLock,
                                         ShimUnlock,
                                         ShimCheckReservedLock,
                                         ShimFileControl,
                                         ShimSectorSize,
                                         ShimDeviceCharacteristics,
                                         ShimShmMap,
                                         ShimShmLock,
                                         ShimShmBarrier,
                                         ShimShmUnmap,
                                         nullptr,
                                         nullptr};

struct ShimVfs {
  sqlite3_vfs vfs;
  sqlite3_vfs* real;
  FaultVfs* owner;
};

int ShimOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* shim = reinterpret_cast<ShimVfs*>(vfs);
  auto* sf = reinterpret_cast<ShimFile*>(file);
  sf->owner = shim->owner;
  sf->real = reinterpret_cast<sqlite3_file*>(sf + 1);
  const int rc = shim->real->xOpen(shim->real, name, sf->real, flags, out_flags);
  // SQLite calls xClose only when pMethods is set; mirror the real file.
  sf->base.pMethods = sf->real->pMethods != nullptr ? &kShimMethods : nullptr;
  return rc;
}

}  // namespace

FaultVfs& FaultVfs::Get(const std::string& name) {
  static std::map<std::string, std::unique_ptr<FaultVfs>> registry;
  static std::map<std::string, std::unique_ptr<ShimVfs>> shims;
  auto it = registry.find(name);
  if (it != registry.end()) return *it->second;
  auto owner = std::unique_ptr<FaultVfs>(new FaultVfs(name));
  auto shim = std::make_unique<ShimVfs>();
  shim->real = sqlite3_vfs_find(nullptr);
  LAB_ASSERT(shim->real != nullptr);
  shim->owner = owner.get();
  shim->vfs = *shim->real;  // Everything but open is the real VFS's.
  shim->vfs.szOsFile = static_cast<int>(sizeof(ShimFile)) + shim->real->szOsFile;
  shim->vfs.zName = owner->name_.c_str();
  shim->vfs.pNext = nullptr;
  shim->vfs.xOpen = ShimOpen;
  LAB_ASSERT(sqlite3_vfs_register(&shim->vfs, 0) == SQLITE_OK);
  FaultVfs& ref = *owner;
  shims.emplace(name, std::move(shim));
  registry.emplace(name, std::move(owner));
  return ref;
}

bool FaultVfs::TakeSyncFailure() {
  if (failing_syncs_ <= 0) return false;
  --failing_syncs_;
  ++syncs_failed_;
  return true;
}

}  // namespace lab::testing
