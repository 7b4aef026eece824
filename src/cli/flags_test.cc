// Goal: every number, duration and time flag is decimal, range-checked and
// refused in words, for the whole class of bad input (empty, signs, other
// bases, overflow, units, out of range). Method: tables.
#include "cli/flags.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

TEST(FlagsTest, IntegersAreDecimalAndInRange) {
  EXPECT_EQ(*ParseInteger("42", "--n", 1, 100), 42);
  EXPECT_EQ(*ParseInteger("010", "--n", 1, 100), 10);  // Not octal.
  EXPECT_EQ(*ParseInteger("-5", "--p", -10, 10), -5);
  EXPECT_EQ(*ParseInteger("9223372036854775807", "--n", 0, INT64_MAX), INT64_MAX);
  for (const char* bad : {"", "0x10", "1e3", "12abc", " 1", "1 ", "+1", "-1", "0", "101",
                          "99999999999999999999999999", "1.5", "--"}) {
    auto r = ParseInteger(bad, "--n", 1, 100);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("from 1 to 100"), std::string::npos) << r.error().message;
  }
  EXPECT_NE(ParseInteger("abc", "--n", 1, 100).error().message.find("not a number"),
            std::string::npos);
}

TEST(FlagsTest, DurationsHaveUnitsAndCannotOverflow) {
  EXPECT_EQ(*ParseDuration("1500ms", "--lease", 1, kMaxDurationMs), 1'500);
  EXPECT_EQ(*ParseDuration("90", "--lease", 1, kMaxDurationMs), 90'000);  // Bare: seconds.
  EXPECT_EQ(*ParseDuration("5m", "--lease", 1, kMaxDurationMs), 300'000);
  EXPECT_EQ(*ParseDuration("2h", "--lease", 1, kMaxDurationMs), 7'200'000);
  EXPECT_EQ(*ParseDuration("366d", "--lease", 1, kMaxDurationMs), kMaxDurationMs);
  // Seen: 2562047500000h wrapped to a negative expiry and two workers ran the job.
  for (const char* bad : {"", "2562047500000h", "99999999999999999999ms", "367d", "0", "-5s", "5 s",
                          "5sec", "ms", "0x10s", "1.5s"}) {
    auto r = ParseDuration(bad, "--lease", 300, kMaxDurationMs);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("from 300ms to 366d"), std::string::npos) << r.error().message;
  }
}

TEST(FlagsTest, AMomentIsAnEpochTimeOrAnOffsetInRange) {
  EXPECT_EQ(*ParseMoment("1700000000000", "--run-at", 5), 1'700'000'000'000);
  EXPECT_EQ(*ParseMoment("+90s", "--deadline", 1'000), 91'000);
  for (const char* bad : {"", "+", "soon", "-1", "253402300800000", "+2562047500000h", "0x1"}) {
    auto r = ParseMoment(bad, "--run-at", 1'000);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(FlagsTest, FormatDurationUsesTheLargestWholeUnit) {
  EXPECT_EQ(FormatDuration(300), "300ms");
  EXPECT_EQ(FormatDuration(90'000), "90s");
  EXPECT_EQ(FormatDuration(7'200'000), "2h");
  EXPECT_EQ(FormatDuration(kMaxDurationMs), "366d");
  EXPECT_EQ(FormatDuration(0), "0ms");
}

}  // namespace
}  // namespace lab
