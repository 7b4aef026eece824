#include "store/types.h"

#include <fmt/core.h>

#include <array>
#include <utility>

namespace lab {
namespace {

constexpr std::array<std::pair<JobState, std::string_view>, 4> kJobStates = {{
    {JobState::kPending, "PENDING"},
    {JobState::kRunning, "RUNNING"},
    {JobState::kSucceeded, "SUCCEEDED"},
    {JobState::kDead, "DEAD"},
}};

constexpr std::array<std::pair<ExecState, std::string_view>, 6> kExecStates = {{
    {ExecState::kLeased, "LEASED"},
    {ExecState::kInProgress, "IN_PROGRESS"},
    {ExecState::kCommitted, "COMMITTED"},
    {ExecState::kDone, "DONE"},
    {ExecState::kAborted, "ABORTED"},
    {ExecState::kFailed, "FAILED"},
}};

template <typename E, size_t N>
std::string_view NameOf(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "?";
}

template <typename E, size_t N>
std::optional<E> ValueOf(const std::array<std::pair<E, std::string_view>, N>& table,
                         std::string_view name) {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace

std::string_view ToString(JobState s) { return NameOf(kJobStates, s); }
std::string_view ToString(ExecState s) { return NameOf(kExecStates, s); }
std::optional<JobState> ParseJobState(std::string_view s) { return ValueOf(kJobStates, s); }
std::optional<ExecState> ParseExecState(std::string_view s) { return ValueOf(kExecStates, s); }

std::string Job::EffectKey() const { return key ? *key : fmt::format("job:{}", id); }

}  // namespace lab
