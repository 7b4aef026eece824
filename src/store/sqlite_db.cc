#include "store/sqlite_db.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/assert.h"

namespace lab {

namespace {

// The directory that holds the file at `path`.
std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, std::max<size_t>(slash, 1));
}

}  // namespace

Error SqliteError(int rc, sqlite3* db, std::string_view context) {
  const int primary = rc & 0xff;
  ErrorCode code = ErrorCode::kInternal;
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_PROTOCOL:
      code = ErrorCode::kUnavailable;
      break;
    case SQLITE_FULL:
      code = ErrorCode::kResourceExhausted;
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = ErrorCode::kDataLoss;
      break;
    case SQLITE_CANTOPEN:
      code = ErrorCode::kFailedPrecondition;
      break;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      code = ErrorCode::kPermissionDenied;
      break;
    case SQLITE_CONSTRAINT:
      code = ErrorCode::kFailedPrecondition;
      break;
    default:
      break;
  }
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error{code, fmt::format("{}: {} (sqlite code {})", context, detail, rc)};
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  return *this;
}

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error err = SqliteError(rc, db_, "SQLite");
  sqlite3_reset(stmt_);
  return std::unexpected(std::move(err));
}

Result<void> Statement::Run() {
  while (true) {
    LAB_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return {};
  }
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::Text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  const int size = sqlite3_column_bytes(stmt_, column);
  return text == nullptr ? std::string() : std::string(text, static_cast<size_t>(size));
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Result<void> SqliteDb::SyncDirectory(const std::string& path) {
  const int rc = sqlite3_file_control(db_, "main", kFcntlSyncDirectory, nullptr);
  if (rc == SQLITE_OK) return {};
  if (rc != SQLITE_NOTFOUND) return std::unexpected(SqliteError(rc, db_, "syncing the directory"));
  const std::string dir = DirectoryOf(path);
  // As SQLite's unix VFS does for a new journal: a directory that cannot be
  // opened (no read permission), or a filesystem that cannot sync one
  // (EINVAL), is taken as it is; a failed sync (EIO) is an error.
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return {};
  const bool synced = fsync(fd) == 0;
  const int err = errno;
  close(fd);
  if (synced || err == EINVAL) return {};
  return MakeError(ErrorCode::kUnavailable,
                   fmt::format("cannot sync directory '{}', so the new database '{}' might not "
                               "survive a power loss: {}",
                               dir, path, std::strerror(err)));
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, const char* vfs,
                                                 bool create) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, vfs);
  if (rc == SQLITE_CANTOPEN && !create && access(path.c_str(), F_OK) != 0) {
    sqlite3_close(db);
    return MakeError(ErrorCode::kNotFound, fmt::format("no database at '{}'", path));
  }
  if ((rc & 0xff) == SQLITE_CANTOPEN) {
    // Say what is wrong with the place, not only that SQLite could not open it.
    sqlite3_close(db);
    const std::string dir = DirectoryOf(path);
    std::string why = "it cannot be opened";
    if (access(dir.c_str(), F_OK) != 0) {
      why = fmt::format("directory '{}' does not exist", dir);
    } else if (access(path.c_str(), F_OK) != 0 && access(dir.c_str(), W_OK) != 0) {
      why = fmt::format("directory '{}' is not writable, so the file cannot be created", dir);
    } else if (access(path.c_str(), R_OK | W_OK) != 0) {
      why = "no permission to read and write it";
    }
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("cannot open database '{}': {}", path, why));
  }
  if (rc != SQLITE_OK) {
    Error err = SqliteError(rc, db, fmt::format("cannot open database '{}'", path));
    sqlite3_close(db);
    return std::unexpected(std::move(err));
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<SqliteDb>(new SqliteDb(db));
}

SqliteDb::~SqliteDb() {
  cache_.clear();  // Finalize statements before closing.
  const int rc = sqlite3_close(db_);
  LAB_ASSERT_MSG(rc == SQLITE_OK, "sqlite3_close with statements still open");
}

Result<void> SqliteDb::Exec(const std::string& sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    Error err = SqliteError(rc, db_, "SQLite");
    sqlite3_free(message);
    return std::unexpected(std::move(err));
  }
  return {};
}

Result<Statement*> SqliteDb::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return &it->second->Reset();
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return std::unexpected(SqliteError(rc, db_, "SQLite"));
  auto [pos, inserted] = cache_.emplace(sql, std::make_unique<Statement>(db_, stmt));
  LAB_ASSERT(inserted);
  return pos->second.get();
}

Result<int64_t> SqliteDb::QueryInt(const std::string& sql) {
  LAB_ASSIGN_OR_RETURN(Statement * stmt, Prepare(sql));
  LAB_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row)
    return MakeError(ErrorCode::kInternal,
                     "SQLite: a query that always returns a row returned none");
  const int64_t value = stmt->Int(0);
  stmt->Reset();
  return value;
}

int64_t SqliteDb::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

}  // namespace lab
