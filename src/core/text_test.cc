// Goal: names are text by one definition everywhere, and bytes that are not
// text are shown without loss. Method: tables of inputs, each class of bad
// input (empty, too long, invalid UTF-8, control bytes, '/') in every kind.
#include "core/text.h"

#include <gtest/gtest.h>

#include <string>

namespace lab {
namespace {

using namespace std::string_literals;

TEST(TextTest, IsUtf8AcceptsValidAndRefusesEveryMalformedClass) {
  for (std::string ok : {""s, "abc"s, "h\xC3\xA9"s, "\xE2\x82\xAC"s, "\xF0\x9F\x98\x80"s,
                         "\xEF\xBF\xBD"s, "a\0b"s}) {
    EXPECT_TRUE(IsUtf8(ok)) << ok;
  }
  for (std::string bad : {"\x80"s,                // lone continuation byte
                          "\xC3"s,                // truncated sequence
                          "\xC0\xAF"s,            // overlong '/'
                          "\xE0\x80\xAF"s,        // overlong, three bytes
                          "\xED\xA0\x80"s,        // UTF-16 surrogate
                          "\xF4\x90\x80\x80"s,    // past U+10FFFF
                          "\xFF"s, "ok\xFE"s}) {  // never valid
    EXPECT_FALSE(IsUtf8(bad)) << testing::PrintToString(bad);
  }
}

TEST(TextTest, CheckNameRefusesEachBadClassForEveryKind) {
  struct Case {
    NameKind kind;
    size_t max;
  };
  for (Case c : {Case{NameKind::kQueue, kMaxQueueNameBytes}, Case{NameKind::kKey, kMaxKeyBytes},
                 Case{NameKind::kWorker, kMaxWorkerNameBytes}}) {
    EXPECT_TRUE(CheckName(c.kind, "order-42 \xC3\xA9t\xC3\xA9").has_value());
    EXPECT_TRUE(CheckName(c.kind, std::string(c.max, 'x')).has_value());
    for (std::string bad : {""s, std::string(c.max + 1, 'x'), "a\0b"s, "tab\there"s, "new\nline"s,
                            "del\x7F"s, "\xC3"s, "\xFF\xFE"s}) {
      auto r = CheckName(c.kind, bad);
      ASSERT_FALSE(r.has_value()) << testing::PrintToString(bad);
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    }
  }
  // Only a queue name may not hold '/': it separates queue and key.
  EXPECT_FALSE(CheckName(NameKind::kQueue, "a/b").has_value());
  EXPECT_TRUE(CheckName(NameKind::kKey, "a/b").has_value());
  EXPECT_EQ(CheckName(NameKind::kKey, "x\x01").error().message,
            "idempotency key has a control character (byte 0x01 at offset 1)");
}

TEST(TextTest, SanitizeReplacesOnlyWhatIsNotText) {
  EXPECT_EQ(Sanitize("plain h\xC3\xA9"), "plain h\xC3\xA9");
  EXPECT_EQ(Sanitize("a\0b"s),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(Sanitize("\xFF\xC3"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_TRUE(IsUtf8(Sanitize("\xC0\xAF\xED\xA0\x80")));
}

TEST(TextTest, Base64MatchesRfc4648Vectors) {
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("fo"), "Zm8=");
  EXPECT_EQ(Base64("foo"), "Zm9v");
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64("\0\xFF"s), "AP8=");
}

TEST(TextTest, ForTerminalEscapesBytesAndTruncates) {
  EXPECT_EQ(ForTerminal("h\xC3\xA9llo", 100), "h\xC3\xA9llo");
  EXPECT_EQ(ForTerminal("a\0\x1b[2J\\\xFF"s, 100), "a\\x00\\x1b[2J\\\\\\xff");
  EXPECT_EQ(ForTerminal(std::string(10, 'x'), 4), "xxxx... (6 more bytes)");
}

}  // namespace
}  // namespace lab
