#include "core/text.h"

#include <fmt/core.h>

#include <cstdint>
#include <ctime>

#include "core/enum_names.h"

namespace lab {
namespace {

constexpr EnumNames<NameKind, 3> kNameKinds = {{{NameKind::kQueue, "queue name"},
                                                {NameKind::kKey, "idempotency key"},
                                                {NameKind::kWorker, "worker name"}}};

size_t MaxBytes(NameKind kind) {
  switch (kind) {
    case NameKind::kQueue:
      return kMaxQueueNameBytes;
    case NameKind::kKey:
      return kMaxKeyBytes;
    case NameKind::kWorker:
      return kMaxWorkerNameBytes;
  }
  return 0;
}

// The length of the valid UTF-8 sequence at `s[i]`, or 0 if there is none.
size_t Utf8SequenceAt(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t c = b(i);
  if (c < 0x80) return 1;
  size_t len = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

bool IsControl(uint8_t c) { return c < 0x20 || c == 0x7F; }

}  // namespace

bool IsUtf8(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    const size_t len = Utf8SequenceAt(bytes, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

Result<void> CheckName(NameKind kind, std::string_view value) {
  const std::string_view what = NameOf(kNameKinds, kind);
  auto refuse = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("{} {}", what, why));
  };
  if (value.empty()) return refuse("is empty");
  if (value.size() > MaxBytes(kind)) {
    return refuse(
        fmt::format("is {} bytes long; at most {} are allowed", value.size(), MaxBytes(kind)));
  }
  if (!IsUtf8(value)) return refuse("is not valid UTF-8 text");
  for (size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<uint8_t>(value[i]);
    if (IsControl(c)) {
      return refuse(fmt::format("has a control character (byte 0x{:02x} at offset {})", c, i));
    }
    if (kind == NameKind::kQueue && c == '/') return refuse("may not contain '/'");
  }
  return {};
}

std::string Sanitize(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const size_t len = Utf8SequenceAt(bytes, i);
    if (len == 0 || bytes[i] == '\0') {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(bytes.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

std::string ForTerminal(std::string_view bytes, size_t max_bytes) {
  const std::string_view shown = bytes.substr(0, max_bytes);
  std::string out;
  for (size_t i = 0; i < shown.size();) {
    const auto c = static_cast<uint8_t>(shown[i]);
    const size_t len = Utf8SequenceAt(shown, i);
    if (c == '\\') {
      out += "\\\\";
    } else if (len == 0 || (len == 1 && IsControl(c))) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.append(shown.substr(i, len));
      i += len;
      continue;
    }
    ++i;
  }
  if (bytes.size() > shown.size()) {
    out += fmt::format("... ({} more bytes)", bytes.size() - shown.size());
  }
  return out;
}

std::string UtcTime(TimeMs ms) {
  if (ms <= 0) return "-";
  const time_t secs = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

}  // namespace lab
