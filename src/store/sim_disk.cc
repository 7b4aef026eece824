#include "store/sim_disk.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <vector>

#include "core/assert.h"
#include "core/enum_names.h"
#include "core/rng.h"
#include "store/sqlite_db.h"

namespace lab {
namespace {

// A file's bytes, in fixed chunks: a file that grows never moves what it
// holds (a std::string would copy the whole log at every doubling, and
// fault in fresh pages each time: most of a seed's time), and the chunks
// come from the allocator's free lists, warm, seed after seed.
class Image {
 public:
  static constexpr size_t kChunk = 64 * 1024;

  Image() = default;
  Image(const Image& other) : size_(other.size_) {
    for (const auto& c : other.chunks_) {
      chunks_.push_back(std::make_unique_for_overwrite<char[]>(kChunk));
      std::memcpy(chunks_.back().get(), c.get(), kChunk);
    }
  }
  Image& operator=(const Image& other) {
    if (this != &other) *this = Image(other);
    return *this;
  }
  Image(Image&&) = default;
  Image& operator=(Image&&) = default;

  size_t size() const { return size_; }
  // Bytes past the end read as zero once the file grows again.
  void Resize(size_t n) {
    if (n < size_) {
      chunks_.resize((n + kChunk - 1) / kChunk);
      if (n % kChunk != 0) std::memset(chunks_.back().get() + n % kChunk, 0, kChunk - n % kChunk);
    }
    while (chunks_.size() * kChunk < n) chunks_.push_back(std::make_unique<char[]>(kChunk));
    size_ = n;
  }
  void Write(size_t offset, const char* in, size_t n) {
    if (offset + n > size_) Resize(offset + n);
    Spans(chunks_, offset, n,
          [&](char* chunk, size_t done, size_t len) { std::memcpy(chunk, in + done, len); });
  }
  // Reads [offset, offset + n), which must lie inside the file.
  void Read(size_t offset, char* out, size_t n) const {
    Spans(chunks_, offset, n,
          [&](const char* chunk, size_t done, size_t len) { std::memcpy(out + done, chunk, len); });
  }

 private:
  // Calls `each(chunk bytes, bytes done so far, length)` for every piece
  // of [offset, offset + n), chunk by chunk.
  template <typename Chunks, typename F>
  static void Spans(Chunks& chunks, size_t offset, size_t n, const F& each) {
    for (size_t done = 0; done < n;) {
      const size_t at = offset + done;
      const size_t len = std::min(n - done, kChunk - at % kChunk);
      each(chunks[at / kChunk].get() + at % kChunk, done, len);
      done += len;
    }
  }

  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t size_ = 0;
};

// One write or truncate not yet synced.
struct Pending {
  int64_t offset = 0;
  std::string bytes;                   // A write's bytes.
  std::optional<int64_t> truncate_to;  // Or a truncate.
};

constexpr int kShmLocks = SQLITE_SHM_NLOCK;

struct File {
  Image data;     // What reads see.
  Image durable;  // What survives a crash.
  std::vector<Pending> unsynced;
  bool entry_durable = false;  // Its directory entry survives a crash.
  // Locks between connections (several handles of one process).
  int shared = 0;
  const void* reserved_by = nullptr;
  const void* pending_by = nullptr;
  const void* exclusive_by = nullptr;
  // The WAL index: shared memory, lost with the power.
  // Regions are zeroed, never freed, while the file lives: a connection
  // keeps the pointers it mapped, even one a crash left dead.
  std::vector<std::unique_ptr<char[]>> shm;
  int shm_region_bytes = 0;
  int shm_users = 0;  // Handles that have the shared memory mapped.

  void ZeroShm() {
    for (auto& region : shm) std::memset(region.get(), 0, static_cast<size_t>(shm_region_bytes));
  }
  std::array<int, kShmLocks> shm_shared{};
  std::array<const void*, kShmLocks> shm_exclusive{};
};

// Applies one pending change to `image`; for a torn write, only the
// 512-byte sectors `keep` says.
void Apply(Image& image, const Pending& p, const std::function<bool()>* keep = nullptr) {
  if (p.truncate_to) {
    image.Resize(static_cast<size_t>(*p.truncate_to));
    return;
  }
  const size_t offset = static_cast<size_t>(p.offset);
  if (keep == nullptr) {
    image.Write(offset, p.bytes.data(), p.bytes.size());
    return;
  }
  const size_t end = offset + p.bytes.size();
  if (image.size() < end) image.Resize(end);
  for (size_t at = offset; at < end;) {
    const size_t sector_end =
        std::min(end, (at / SimDisk::kSectorBytes + 1) * SimDisk::kSectorBytes);
    if ((*keep)()) image.Write(at, p.bytes.data() + (at - offset), sector_end - at);
    at = sector_end;
  }
}

constexpr EnumNames<DiskFault, 4> kDiskFaults = {{{DiskFault::kIoError, "io-error"},
                                                  {DiskFault::kSyncError, "sync-error"},
                                                  {DiskFault::kFull, "disk-full"},
                                                  {DiskFault::kCrash, "power-loss"}}};

}  // namespace

bool AppliesTo(DiskFault fault, DiskOp op) {
  switch (fault) {
    case DiskFault::kIoError:
      return op != DiskOp::kSync;
    case DiskFault::kSyncError:
      return op == DiskOp::kSync;
    case DiskFault::kFull:
      return op == DiskOp::kWrite;
    case DiskFault::kCrash:
      return true;
  }
  return false;
}

std::string_view ToString(DiskFault fault) { return NameOf(kDiskFaults, fault); }
std::optional<DiskFault> ParseDiskFault(std::string_view name) {
  return ValueOf(kDiskFaults, name);
}

struct SimDisk::State {
  sqlite3_vfs vfs{};
  std::string name;
  Rng rng;
  std::map<std::string, std::shared_ptr<File>> files;
  uint64_t generation = 0;  // Bumped by each crash; older handles are dead.
  DiskFaultHook hook;
  std::optional<int64_t> capacity;
  int64_t io_ops = 0;
  int64_t durable_ops = 0;
  int64_t crash_at = 0;  // 0: none armed.
  bool crashed_since_armed = false;
  int64_t temp_files = 0;
  DiskStats stats;

  explicit State(uint64_t seed) : rng(seed) {}

  int64_t Used() const {
    int64_t used = 0;
    for (const auto& [path, f] : files) used += static_cast<int64_t>(f->data.size());
    return used;
  }

  void Crash() {
    ++stats.crashes;
    ++generation;
    for (auto it = files.begin(); it != files.end();) {
      File& f = *it->second;
      if (!f.entry_durable) {
        ++stats.files_lost;
        it = files.erase(it);
        continue;
      }
      Image image = f.durable;
      for (const Pending& p : f.unsynced) {
        switch (rng.Uniform(3)) {
          case 0:
            ++stats.kept;
            Apply(image, p);
            break;
          case 1:
            ++stats.dropped;
            break;
          default: {
            ++stats.torn;
            const std::function<bool()> keep = [this] { return rng.Chance(0.5); };
            if (p.truncate_to) {
              ++stats.kept;
              Apply(image, p);
            } else {
              Apply(image, p, &keep);
            }
          }
        }
      }
      f.data = image;
      f.durable = std::move(image);
      f.unsynced.clear();
      f.shared = 0;
      f.reserved_by = f.pending_by = f.exclusive_by = nullptr;
      f.ZeroShm();
      f.shm_users = 0;
      f.shm_shared.fill(0);
      f.shm_exclusive.fill(nullptr);
      ++it;
    }
  }

  // Counts an I/O operation and asks the hook; a durable op may set off an
  // armed crash first. SQLITE_OK or the error to return.
  int Before(DiskOp op, uint64_t handle_generation) {
    if (handle_generation != generation) return SQLITE_IOERR;  // Its process died.
    if (op != DiskOp::kRead) {
      ++durable_ops;
      if (crash_at != 0 && durable_ops >= crash_at) {
        crash_at = 0;
        crashed_since_armed = true;
        Crash();
        return SQLITE_IOERR;
      }
    }
    ++io_ops;
    auto fault = hook ? hook(op, io_ops) : std::nullopt;
    if (!fault || !AppliesTo(*fault, op)) return SQLITE_OK;
    switch (*fault) {
      case DiskFault::kCrash:
        Crash();
        return SQLITE_IOERR;
      case DiskFault::kFull:
        return SQLITE_FULL;
      case DiskFault::kSyncError:
        return SQLITE_IOERR_FSYNC;
      case DiskFault::kIoError:
        return op == DiskOp::kRead ? SQLITE_IOERR_READ : SQLITE_IOERR_WRITE;
    }
    return SQLITE_IOERR;
  }
};

namespace {

using State = SimDisk::State;

struct Handle {
  sqlite3_file base;  // First: SQLite sees a sqlite3_file*.
  State* disk;
  std::string path;
  std::shared_ptr<File> file;
  uint64_t generation;
  bool delete_on_close;
  // As SQLite's unix VFS: a journal or log this handle created has its
  // directory synced with its first sync.
  bool dirsync;
  int lock;
  bool shm_mapped;
  uint16_t shm_shared;  // Bits: the shm locks this handle holds.
  uint16_t shm_exclusive;
};

Handle* H(sqlite3_file* f) { return reinterpret_cast<Handle*>(f); }
State* DiskOf(sqlite3_vfs* vfs) { return static_cast<State*>(vfs->pAppData); }

int Close(sqlite3_file* f) {
  Handle* h = H(f);
  if (h->delete_on_close) {
    auto it = h->disk->files.find(h->path);
    if (it != h->disk->files.end() && it->second == h->file) h->disk->files.erase(it);
  }
  h->~Handle();
  return SQLITE_OK;
}

int Read(sqlite3_file* f, void* out, int n, sqlite3_int64 offset) {
  Handle* h = H(f);
  ++h->disk->stats.reads;
  if (int rc = h->disk->Before(DiskOp::kRead, h->generation); rc != SQLITE_OK) return rc;
  const Image& data = h->file->data;
  const int64_t have =
      std::clamp<int64_t>(static_cast<int64_t>(data.size()) - offset, 0, static_cast<int64_t>(n));
  if (have > 0) {
    data.Read(static_cast<size_t>(offset), static_cast<char*>(out), static_cast<size_t>(have));
  }
  if (have == n) return SQLITE_OK;
  std::memset(static_cast<char*>(out) + have, 0, static_cast<size_t>(n - have));
  return SQLITE_IOERR_SHORT_READ;
}

int Write(sqlite3_file* f, const void* in, int n, sqlite3_int64 offset) {
  Handle* h = H(f);
  State& d = *h->disk;
  ++d.stats.writes;
  if (int rc = d.Before(DiskOp::kWrite, h->generation); rc != SQLITE_OK) return rc;
  File& file = *h->file;
  const int64_t growth = std::max<int64_t>(0, offset + n - static_cast<int64_t>(file.data.size()));
  if (d.capacity && d.Used() + growth > *d.capacity) return SQLITE_FULL;
  Pending p{.offset = offset, .bytes = std::string(static_cast<const char*>(in), n)};
  Apply(file.data, p);
  file.unsynced.push_back(std::move(p));
  return SQLITE_OK;
}

int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  Handle* h = H(f);
  ++h->disk->stats.writes;
  if (int rc = h->disk->Before(DiskOp::kWrite, h->generation); rc != SQLITE_OK) return rc;
  Pending p{.truncate_to = size};
  Apply(h->file->data, p);
  h->file->unsynced.push_back(std::move(p));
  return SQLITE_OK;
}

// A sync of a file or of the directory begins: counted, and the hook asked
// whether it fails (SQLITE_IOERR_FSYNC: a failed sync, counted too).
int BeginSync(Handle* h) {
  State& d = *h->disk;
  ++d.stats.syncs;
  const int rc = d.Before(DiskOp::kSync, h->generation);
  if (rc == SQLITE_IOERR_FSYNC) ++d.stats.failed_syncs;
  return rc;
}

int Sync(sqlite3_file* f, int) {
  Handle* h = H(f);
  File& file = *h->file;
  if (int rc = BeginSync(h); rc != SQLITE_OK) {
    // A failed write-back: the kernel forgets those dirty pages. They stay
    // readable until the power fails, and are never durable.
    if (rc == SQLITE_IOERR_FSYNC) file.unsynced.clear();
    return rc;
  }
  for (const Pending& p : file.unsynced) Apply(file.durable, p);
  file.unsynced.clear();
  if (h->dirsync) {
    h->dirsync = false;
    file.entry_durable = true;
  }
  return SQLITE_OK;
}

int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  Handle* h = H(f);
  if (h->generation != h->disk->generation) return SQLITE_IOERR;
  *size = static_cast<sqlite3_int64>(h->file->data.size());
  return SQLITE_OK;
}

int Lock(sqlite3_file* f, int level) {
  Handle* h = H(f);
  if (h->generation != h->disk->generation) return SQLITE_IOERR_LOCK;  // Its process died.
  File& file = *h->file;
  if (h->lock >= level) return SQLITE_OK;
  if (level == SQLITE_LOCK_SHARED) {
    if ((file.exclusive_by != nullptr && file.exclusive_by != h) ||
        (file.pending_by != nullptr && file.pending_by != h)) {
      return SQLITE_BUSY;
    }
    ++file.shared;
  } else if (level == SQLITE_LOCK_RESERVED) {
    if (file.reserved_by != nullptr && file.reserved_by != h) return SQLITE_BUSY;
    file.reserved_by = h;
  } else {
    file.pending_by = h;
    if (file.shared > 1) return SQLITE_BUSY;
    file.exclusive_by = h;
  }
  h->lock = level;
  return SQLITE_OK;
}

int Unlock(sqlite3_file* f, int level) {
  Handle* h = H(f);
  File& file = *h->file;
  if (h->lock <= level) return SQLITE_OK;
  if (h->generation == h->disk->generation) {  // A crash already cleared a dead handle's locks.
    if (file.reserved_by == h) file.reserved_by = nullptr;
    if (file.pending_by == h) file.pending_by = nullptr;
    if (file.exclusive_by == h) file.exclusive_by = nullptr;
    if (level == SQLITE_LOCK_NONE) --file.shared;
  }
  h->lock = level;
  return SQLITE_OK;
}

int CheckReservedLock(sqlite3_file* f, int* out) {
  const File& file = *H(f)->file;
  *out = file.reserved_by != nullptr || file.exclusive_by != nullptr ? 1 : 0;
  return SQLITE_OK;
}

// The lab's directory sync (SqliteDb::SyncDirectory): one directory holds
// every file, and syncing it makes every entry in it durable. It is a
// sync: it can fail, and the power can fail just before it.
int FileControl(sqlite3_file* f, int op, void*) {
  if (op != kFcntlSyncDirectory) return SQLITE_NOTFOUND;
  Handle* h = H(f);
  if (int rc = BeginSync(h); rc != SQLITE_OK) return rc;
  for (auto& [path, file] : h->disk->files) file->entry_durable = true;
  return SQLITE_OK;
}
int SectorSize(sqlite3_file*) { return SimDisk::kSectorBytes; }
int DeviceCharacteristics(sqlite3_file*) { return 0; }  // Promise nothing.

int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  Handle* h = H(f);
  if (h->generation != h->disk->generation) return SQLITE_IOERR_SHMMAP;
  File& file = *h->file;
  auto& shm = file.shm;
  if (!h->shm_mapped) {
    // As SQLite's unix VFS: the first connection to map the WAL index,
    // with nobody else mapping it, starts it afresh, so what a connection
    // that failed half way through recovery left there is never trusted.
    h->shm_mapped = true;
    if (file.shm_users++ == 0) file.ZeroShm();
  }
  while (static_cast<int>(shm.size()) <= region) {
    if (!extend) {
      *out = nullptr;
      return SQLITE_OK;
    }
    LAB_ASSERT(file.shm_region_bytes == 0 || file.shm_region_bytes == size);
    file.shm_region_bytes = size;
    shm.push_back(std::make_unique<char[]>(static_cast<size_t>(size)));
    std::memset(shm.back().get(), 0, static_cast<size_t>(size));
  }
  *out = shm[static_cast<size_t>(region)].get();
  return SQLITE_OK;
}

int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  Handle* h = H(f);
  if (h->generation != h->disk->generation) return SQLITE_IOERR_SHMLOCK;
  File& file = *h->file;
  const bool exclusive = (flags & SQLITE_SHM_EXCLUSIVE) != 0;
  if ((flags & SQLITE_SHM_UNLOCK) != 0) {
    for (int i = offset; i < offset + n; ++i) {
      const uint16_t bit = static_cast<uint16_t>(1u << i);
      if ((h->shm_shared & bit) != 0) --file.shm_shared[i];
      if ((h->shm_exclusive & bit) != 0) file.shm_exclusive[i] = nullptr;
      h->shm_shared = static_cast<uint16_t>(h->shm_shared & ~bit);
      h->shm_exclusive = static_cast<uint16_t>(h->shm_exclusive & ~bit);
    }
    return SQLITE_OK;
  }
  for (int i = offset; i < offset + n; ++i) {
    const uint16_t bit = static_cast<uint16_t>(1u << i);
    if (file.shm_exclusive[i] != nullptr && file.shm_exclusive[i] != h) return SQLITE_BUSY;
    const int others = file.shm_shared[i] - ((h->shm_shared & bit) != 0 ? 1 : 0);
    if (exclusive && others > 0) return SQLITE_BUSY;
  }
  for (int i = offset; i < offset + n; ++i) {
    const uint16_t bit = static_cast<uint16_t>(1u << i);
    if (exclusive) {
      file.shm_exclusive[i] = h;
      h->shm_exclusive = static_cast<uint16_t>(h->shm_exclusive | bit);
    } else if ((h->shm_shared & bit) == 0) {
      ++file.shm_shared[i];
      h->shm_shared = static_cast<uint16_t>(h->shm_shared | bit);
    }
  }
  return SQLITE_OK;
}

void ShmBarrier(sqlite3_file*) {}

int ShmUnmap(sqlite3_file* f, int delete_flag) {
  Handle* h = H(f);
  if (h->generation == h->disk->generation) {
    ShmLock(f, 0, kShmLocks, SQLITE_SHM_UNLOCK | SQLITE_SHM_SHARED);
    if (h->shm_mapped) --h->file->shm_users;
    if (delete_flag != 0) h->file->ZeroShm();
  }
  h->shm_mapped = false;
  h->shm_shared = h->shm_exclusive = 0;
  return SQLITE_OK;
}

constexpr sqlite3_io_methods kMethods = {2,
                                         Close,
                                         Read,
                                         Write,
                                         Truncate,
                                         Sync,
                                         FileSize,
                                         Lock,
                                         Unlock,
                                         CheckReservedLock,
                                         FileControl,
                                         SectorSize,
                                         DeviceCharacteristics,
                                         ShmMap,
                                         ShmLock,
                                         ShmBarrier,
                                         ShmUnmap,
                                         nullptr,
                                         nullptr};

int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* out, int flags, int* out_flags) {
  State& d = *DiskOf(vfs);
  out->pMethods = nullptr;
  const std::string path =
      name != nullptr ? std::string(name) : "temp-" + std::to_string(++d.temp_files);
  auto it = d.files.find(path);
  const bool created = it == d.files.end();
  if (created) {
    if ((flags & SQLITE_OPEN_CREATE) == 0) return SQLITE_CANTOPEN;
    it = d.files.emplace(path, std::make_shared<File>()).first;
  }
  constexpr int kJournals = SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_SUPER_JOURNAL;
  new (out) Handle{.base = {&kMethods},
                   .disk = &d,
                   .path = path,
                   .file = it->second,
                   .generation = d.generation,
                   .delete_on_close = name == nullptr || (flags & SQLITE_OPEN_DELETEONCLOSE) != 0,
                   .dirsync = created && (flags & kJournals) != 0,
                   .lock = SQLITE_LOCK_NONE,
                   .shm_mapped = false,
                   .shm_shared = 0,
                   .shm_exclusive = 0};
  if (out_flags != nullptr) *out_flags = flags;
  return SQLITE_OK;
}

int Delete(sqlite3_vfs* vfs, const char* name, int) {
  DiskOf(vfs)->files.erase(name);
  return SQLITE_OK;
}

int Access(sqlite3_vfs* vfs, const char* name, int, int* out) {
  *out = DiskOf(vfs)->files.contains(name) ? 1 : 0;
  return SQLITE_OK;
}

int FullPathname(sqlite3_vfs*, const char* name, int size, char* out) {
  sqlite3_snprintf(size, out, "%s", name);
  return SQLITE_OK;
}

int Randomness(sqlite3_vfs* vfs, int n, char* out) {
  Rng& rng = DiskOf(vfs)->rng;
  for (int i = 0; i < n; ++i) out[i] = static_cast<char>(rng.Uniform(256));
  return n;
}

int Sleep(sqlite3_vfs*, int microseconds) { return microseconds; }  // Time does not pass here.
int CurrentTime(sqlite3_vfs*, double* out) {
  *out = 2440587.5;  // The Unix epoch as a Julian day: no clock is read.
  return SQLITE_OK;
}
int GetLastError(sqlite3_vfs*, int, char*) { return 0; }

}  // namespace

SimDisk::SimDisk(std::string vfs_name, uint64_t seed) : state_(std::make_unique<State>(seed)) {
  State& d = *state_;
  d.name = std::move(vfs_name);
  LAB_ASSERT_MSG(sqlite3_vfs_find(d.name.c_str()) == nullptr, "a VFS with this name exists");
  d.vfs.iVersion = 1;
  d.vfs.szOsFile = sizeof(Handle);
  d.vfs.mxPathname = 1024;
  d.vfs.zName = d.name.c_str();
  d.vfs.pAppData = &d;
  d.vfs.xOpen = Open;
  d.vfs.xDelete = Delete;
  d.vfs.xAccess = Access;
  d.vfs.xFullPathname = FullPathname;
  d.vfs.xRandomness = Randomness;
  d.vfs.xSleep = Sleep;
  d.vfs.xCurrentTime = CurrentTime;
  d.vfs.xGetLastError = GetLastError;
  LAB_ASSERT(sqlite3_vfs_register(&d.vfs, 0) == SQLITE_OK);
  // SQLite's own generator (WAL salts, temp names) is process-wide and
  // seeds itself from the default VFS, the real one: seed it here, so a
  // run on this disk is the same run every time.
  sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, static_cast<int>(seed & 0x7fffffff), nullptr);
}

SimDisk::~SimDisk() { sqlite3_vfs_unregister(&state_->vfs); }

const std::string& SimDisk::vfs_name() const { return state_->name; }
void SimDisk::set_hook(DiskFaultHook hook) { state_->hook = std::move(hook); }
void SimDisk::set_capacity(int64_t bytes) { state_->capacity = bytes; }
void SimDisk::Crash() { state_->Crash(); }
void SimDisk::CrashBefore(int64_t k) {
  state_->crash_at = k == 0 ? 0 : state_->durable_ops + k;
  state_->crashed_since_armed = false;
}
int64_t SimDisk::durable_ops() const { return state_->durable_ops; }
bool SimDisk::crashed_since_armed() const { return state_->crashed_since_armed; }
const DiskStats& SimDisk::stats() const { return state_->stats; }

}  // namespace lab
