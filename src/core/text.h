// Text: what the queue accepts as a name or key, and how bytes that are not
// text are shown.
//
// Queue names, idempotency keys and worker names are text: valid UTF-8, no
// NUL or other control character, within a length limit; a queue name has
// no '/' either, so "<queue>/<key>" names one job across every queue.
// Payloads are bytes and are never checked. Free text written by the engine
// (an error, a reason) is made text with Sanitize. Thread-safety: pure
// functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"

namespace lab {

inline constexpr size_t kMaxQueueNameBytes = 128;
inline constexpr size_t kMaxKeyBytes = 512;
inline constexpr size_t kMaxWorkerNameBytes = 256;

// Valid UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
bool IsUtf8(std::string_view bytes);

enum class NameKind { kQueue, kKey, kWorker };

// kInvalidArgument, naming `kind` and the first thing wrong, when `value` is
// empty, too long, not UTF-8, has a control character, or (a queue) a '/'.
Result<void> CheckName(NameKind kind, std::string_view value);

// `bytes` as valid UTF-8 without NUL: each byte that is not part of a valid
// sequence, and each NUL, becomes U+FFFD.
std::string Sanitize(std::string_view bytes);

// RFC 4648 base64 with padding.
std::string Base64(std::string_view bytes);

// For a terminal: printable UTF-8 as is; other bytes (control characters,
// invalid UTF-8) as \xNN, a backslash as \\. At most `max_bytes` of the input
// are shown; the rest is summarized as "... (N more bytes)".
std::string ForTerminal(std::string_view bytes, size_t max_bytes);

// "2026-12-01 21:09:18.123Z": a time for people (UTC); "-" for 0 or less
// (a time not yet set).
std::string UtcTime(TimeMs ms);

}  // namespace lab
