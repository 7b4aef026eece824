// TempDir: a private directory for one test, removed when it goes out of
// scope. Test-only; the engine never creates temp files on its own.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "core/assert.h"

namespace lab::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "lab-test-XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    LAB_ASSERT(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace lab::testing
