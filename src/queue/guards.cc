#include "queue/guards.h"

#include <fmt/core.h>

#include <utility>

namespace lab {

const std::vector<std::string_view>& Guards::Names() {
  static const std::vector<std::string_view> kNames = {"commit_boundary", "fencing", "reaper",
                                                       "reconcile"};
  return kNames;
}

bool* Guards::Find(std::string_view name) {
  return const_cast<bool*>(std::as_const(*this).Find(name));
}

const bool* Guards::Find(std::string_view name) const {
  if (name == "commit_boundary") return &commit_boundary;
  if (name == "fencing") return &fencing;
  if (name == "reaper") return &reaper;
  if (name == "reconcile") return &reconcile;
  return nullptr;
}

Result<Guards> Guards::Parse(std::string_view spec) {
  if (spec == "all") return All();
  if (spec == "none") return None();
  Guards g = All();
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = spec.find(',', start);
    const std::string_view item = spec.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.size() < 2 || (item[0] != '-' && item[0] != '+')) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("bad guard spec '{}': expected all, none, or -NAME[,-NAME] "
                                   "with NAME one of commit_boundary, fencing, reaper, reconcile",
                                   spec));
    }
    bool* flag = g.Find(item.substr(1));
    if (flag == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("unknown guard '{}' (known: commit_boundary, fencing, reaper, "
                                   "reconcile)",
                                   item.substr(1)));
    }
    *flag = item[0] == '+';
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return g;
}

std::string Guards::ToString() const {
  if (*this == All()) return "all";
  if (*this == None()) return "none";
  std::string out;
  for (std::string_view name : Names()) {
    if (!*Find(name)) out += fmt::format("{}-{}", out.empty() ? "" : ",", name);
  }
  return out;
}

}  // namespace lab
