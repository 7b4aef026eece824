// The storage backends every cross-backend test runs on, each on fresh
// storage: memory, a SQLite file in the test's directory, a fresh schema on
// the private PostgreSQL server (LAB_PG_URL, set by ctest; a test run
// without it fails, never skips). Test-only: a factory that cannot open its
// backend adds a test failure and returns null.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/testing/temp_dir.h"
#include "store/backend.h"

namespace lab::testing {

using BackendFactory = std::function<std::shared_ptr<StoreBackend>(TempDir&)>;

struct StorageBackend {
  std::string name;
  BackendFactory make;
};

inline void PrintTo(const StorageBackend& b, std::ostream* os) { *os << b.name; }

std::vector<StorageBackend> StorageBackends();

}  // namespace lab::testing
