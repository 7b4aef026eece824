#include "cli/flags.h"

#include <fmt/core.h>

#include <array>
#include <cstdint>
#include <optional>
#include <utility>

namespace lab {
namespace {

constexpr std::array<std::pair<std::string_view, DurationMs>, 5> kUnits = {
    {{"ms", 1}, {"s", 1'000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}};

Error Refuse(std::string_view flag, std::string_view text, std::string_view why) {
  return Error{ErrorCode::kInvalidArgument, fmt::format("{} '{}': {}", flag, text, why)};
}

// The leading decimal digits of `text` as a non-negative number (nullopt if
// there are none, or they exceed `max`), and the rest.
struct Digits {
  std::optional<int64_t> value;
  bool too_big = false;
  std::string_view rest;
};
Digits LeadingDigits(std::string_view text, int64_t max) {
  Digits d;
  size_t i = 0;
  int64_t v = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (d.too_big) continue;
    const int digit = text[i] - '0';
    if (v > (max - digit) / 10) {
      d.too_big = true;
      continue;
    }
    v = v * 10 + digit;
  }
  if (i > 0 && !d.too_big) d.value = v;
  d.rest = text.substr(i);
  return d;
}

}  // namespace

Result<int64_t> ParseInteger(std::string_view text, std::string_view flag, int64_t min,
                             int64_t max) {
  const std::string range = fmt::format("expected a whole number from {} to {}", min, max);
  if (text.empty()) return std::unexpected(Refuse(flag, text, "is empty; " + range));
  const bool negative = text.front() == '-' && min < 0;
  const std::string_view body = negative ? text.substr(1) : text;
  // Magnitudes up to INT64_MAX; the range check below does the rest.
  const Digits d = LeadingDigits(body, INT64_MAX);
  if (!d.rest.empty() || (!d.value && !d.too_big)) {
    return std::unexpected(Refuse(flag, text, "not a number; " + range));
  }
  if (d.too_big) return std::unexpected(Refuse(flag, text, range));
  const int64_t v = negative ? -*d.value : *d.value;
  if (v < min || v > max) return std::unexpected(Refuse(flag, text, range));
  return v;
}

namespace {

// The duration in `text`, or why it is not one (without naming the flag).
Result<DurationMs> DurationValue(std::string_view text, DurationMs min_ms, DurationMs max_ms) {
  const std::string range =
      fmt::format("expected a duration from {} to {}, as N[ms|s|m|h|d] (a bare number is seconds)",
                  FormatDuration(min_ms), FormatDuration(max_ms));
  if (text.empty()) return MakeError(ErrorCode::kInvalidArgument, "is empty; " + range);
  const Digits d = LeadingDigits(text, INT64_MAX);
  if (!d.value && !d.too_big)
    return MakeError(ErrorCode::kInvalidArgument, "not a number; " + range);
  const std::string_view unit = d.rest.empty() ? "s" : d.rest;
  for (const auto& [name, ms] : kUnits) {
    if (unit != name) continue;
    if (d.too_big || *d.value > max_ms / ms || *d.value * ms < min_ms) {
      return MakeError(ErrorCode::kInvalidArgument, range);
    }
    return *d.value * ms;
  }
  return MakeError(ErrorCode::kInvalidArgument, fmt::format("unknown unit '{}'; {}", unit, range));
}

}  // namespace

Result<DurationMs> ParseDuration(std::string_view text, std::string_view flag, DurationMs min_ms,
                                 DurationMs max_ms) {
  auto d = DurationValue(text, min_ms, max_ms);
  if (!d) return std::unexpected(Refuse(flag, text, d.error().message));
  return d;
}

Result<TimeMs> ParseMoment(std::string_view text, std::string_view flag, TimeMs now_ms) {
  if (text.starts_with('+')) {
    auto delay = DurationValue(text.substr(1), 0, kMaxDurationMs);
    if (!delay) return std::unexpected(Refuse(flag, text, delay.error().message));
    return AddMs(now_ms, *delay);
  }
  auto at = ParseInteger(text, flag, 0, kMaxTimeMs);
  if (at) return *at;
  return std::unexpected(Refuse(flag, text,
                                fmt::format("expected milliseconds since the epoch (0 to {}) or "
                                            "+N[ms|s|m|h|d] from now",
                                            kMaxTimeMs)));
}

std::string FormatDuration(DurationMs ms) {
  for (auto it = kUnits.rbegin(); it != kUnits.rend(); ++it) {
    if (ms != 0 && ms % it->second == 0) return fmt::format("{}{}", ms / it->second, it->first);
  }
  return fmt::format("{}ms", ms);
}

}  // namespace lab
