// ScratchStore: a store of one's own, for one failure-mode run or one
// benchmark, and what it takes to remove it afterwards.
//
// From a URL: "memory:" as it is; "sqlite:" a fresh file NAME.db in a
// private temp directory, removed with it; "sqlite:DIR" a fresh file
// DIR/NAME.db, kept for inspection (refused if it exists: nothing is
// overwritten); "postgresql://..." a fresh schema named after the URL's
// schema= (or "lab"), NAME and this process, created empty and dropped in
// the destructor whatever became of the run (a failure to drop is said on
// stderr; it cannot change a verdict). Thread-safety: one owner.
#pragma once

#include <memory>
#include <string>

#include "core/scratch_dir.h"
#include "core/status.h"

namespace lab {

class ScratchStore {
 public:
  // `name`: letters, digits, '-' and '_' (it becomes a file or schema name).
  static Result<std::unique_ptr<ScratchStore>> Make(const std::string& url,
                                                    const std::string& name);
  ~ScratchStore();
  ScratchStore(const ScratchStore&) = delete;
  ScratchStore& operator=(const ScratchStore&) = delete;

  // The URL to open: the file, or the base URL with schema=.
  const std::string& url() const { return url_; }
  // The directory the store's data lives in, when it is a file.
  const std::string& dir() const { return dir_; }

 private:
  ScratchStore() = default;

  std::string url_;
  std::string dir_;
  std::unique_ptr<ScratchDir> scratch_;
  std::string pg_conninfo_;
  std::string pg_schema_;
};

}  // namespace lab
