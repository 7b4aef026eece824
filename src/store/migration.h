// Migration: one step of a store's schema, taking it from version - 1 to
// `version`. Each SQL store keeps an ordered list (versions 1, 2, ... with
// no gaps) and, on open, runs the steps above the stored version in one
// transaction, recording the new version in the same transaction; a file or
// schema newer than the list is refused untouched. Tests may pass a longer
// list to see an upgrade run. Thread-safety: plain values.
#pragma once

#include <span>
#include <string_view>

#include "core/assert.h"

namespace lab {

struct Migration {
  int version = 0;
  std::string_view sql;
};

// The list's last version, after checking it counts 1, 2, ... in order.
inline int LatestVersion(std::span<const Migration> steps) {
  LAB_ASSERT(!steps.empty());
  for (size_t i = 0; i < steps.size(); ++i) {
    LAB_ASSERT(steps[i].version == static_cast<int>(i) + 1);
  }
  return steps.back().version;
}

}  // namespace lab
