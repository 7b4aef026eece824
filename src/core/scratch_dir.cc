#include "core/scratch_dir.h"

#include <stdlib.h>

#include <filesystem>

namespace lab {

Result<std::unique_ptr<ScratchDir>> ScratchDir::Make(const std::string& prefix) {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string pattern = (base / (prefix + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return MakeError(ErrorCode::kUnavailable, "cannot create a temp directory in " + base.string());
  }
  return std::unique_ptr<ScratchDir>(new ScratchDir(pattern));
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace lab
