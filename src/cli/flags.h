// Parsing of the CLI's number, duration and time flags, once for every
// command: decimal only (a leading zero is not octal, 0x is not hex), empty
// values refused, every value range-checked, and every error naming the flag
// and the accepted range in words. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"

namespace lab {

// A decimal integer (an optional '-' only when `min` < 0) in [min, max].
Result<int64_t> ParseInteger(std::string_view text, std::string_view flag, int64_t min,
                             int64_t max);

// "1500ms", "90s", "5m", "2h", "3d"; a bare number is seconds. In [min_ms, max_ms].
Result<DurationMs> ParseDuration(std::string_view text, std::string_view flag, DurationMs min_ms,
                                 DurationMs max_ms);

// A moment given to `flag` (--run-at, --deadline): "1700000000000" (ms
// since the epoch, up to kMaxTimeMs) or "+N[ms|s|m|h|d]" from `now_ms`.
Result<TimeMs> ParseMoment(std::string_view text, std::string_view flag, TimeMs now_ms);

// 300 -> "300ms", 90'000 -> "90s", 7'200'000 -> "2h": the largest unit that
// divides it, for messages.
std::string FormatDuration(DurationMs ms);

}  // namespace lab
