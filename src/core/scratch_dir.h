// ScratchDir: a private temp directory removed when the object dies.
//
// Used by `lab run` and the simulator to give each run a fresh SQLite file.
// It reads TMPDIR (via std::filesystem), which is a tool-level choice of
// where files go, never an input to a run's decisions.
// Thread-safety: one owner.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"

namespace lab {

class ScratchDir {
 public:
  static Result<std::unique_ptr<ScratchDir>> Make(const std::string& prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace lab
