// Thin RAII wrappers over the SQLite C API, with errors as Result values.
//
// SqliteDb owns a connection; Statement owns a prepared statement, reset on
// every use. Error codes map to ErrorCode by what the caller does next:
// busy/locked -> kUnavailable, full disk -> kResourceExhausted, corrupt or
// not-a-database -> kDataLoss, cannot open -> kFailedPrecondition, I/O
// errors -> kUnavailable (a commit's I/O error becomes kUnknownOutcome in
// RecordStore). Thread-safety: one thread at a time per connection.
#pragma once

#include <sqlite3.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace lab {

// The lab's file control for SqliteDb::SyncDirectory (outside SQLite's own
// SQLITE_FCNTL_* numbers): sync the directory that holds the file.
inline constexpr int kFcntlSyncDirectory = 0x1ab0;

Error SqliteError(int rc, sqlite3* db, std::string_view context);

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Clears earlier bindings and results; call before binding.
  Statement& Reset();
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view value);
  Statement& BindNull(int index);
  // Steps once: true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion, for statements that return no rows.
  Result<void> Run();

  int64_t Int(int column) const;
  std::string Text(int column) const;
  // Payloads are bound as text and read back byte for byte, NULs included.
  std::string Bytes(int column) const { return Text(column); }
  bool IsNull(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class SqliteDb {
 public:
  // Opens (creating if absent) the file at `path` through `vfs` (nullptr:
  // the default VFS). Nothing is read or written yet.
  // With create false, a missing file is kNotFound and nothing is created.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path, const char* vfs,
                                                bool create = true);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  Result<void> Exec(const std::string& sql);
  // A cached prepared statement for `sql`, reset and ready to bind.
  Result<Statement*> Prepare(const std::string& sql);
  // A one-off query returning a single integer (PRAGMA user_version, ...).
  Result<int64_t> QueryInt(const std::string& sql);
  int64_t LastInsertRowId() const;
  sqlite3* raw() { return db_; }
  // Makes the directory entry of the database file `path` durable: a file
  // just created is lost with the power, however often its data was
  // synced, until its directory is synced. SQLite syncs the directory of a
  // new journal or log itself, never of the database. A VFS that simulates
  // a disk answers kFcntlSyncDirectory; SQLite's own does not know it, and
  // the directory is then synced with fsync(2).
  Result<void> SyncDirectory(const std::string& path);

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::map<std::string, std::unique_ptr<Statement>> cache_;
};

}  // namespace lab
