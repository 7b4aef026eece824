// Goal: errors carry a code chosen by what the caller does next and render
// readably; Result<T> carries either a value or an Error.
#include "core/status.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return MakeError(ErrorCode::kInvalidArgument, "odd");
  return x / 2;
}

TEST(StatusTest, ResultCarriesValueOrError) {
  auto ok = Half(4);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 2);
  auto bad = Half(3);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().ToString(), "InvalidArgument: odd");
}

TEST(StatusTest, EveryCodeHasADistinctName) {
  EXPECT_EQ(ErrorCodeName(ErrorCode::kUnknownOutcome), "UnknownOutcome");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kAborted), "Aborted");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kDataLoss), "DataLoss");
  EXPECT_NE(ErrorCodeName(ErrorCode::kUnavailable), ErrorCodeName(ErrorCode::kInternal));
}

}  // namespace
}  // namespace lab
