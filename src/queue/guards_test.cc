// Goal: guard specs parse the way the CLI documents them, and bad specs are
// rejected with a message that names the problem.
#include "queue/guards.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

TEST(GuardsTest, DefaultIsAllOn) {
  Guards g;
  EXPECT_TRUE(g.commit_boundary && g.fencing && g.reaper && g.reconcile);
  EXPECT_EQ(g.ToString(), "all");
  EXPECT_EQ(Guards::None().ToString(), "none");
}

TEST(GuardsTest, ParsesAllNoneAndRemovals) {
  EXPECT_EQ(*Guards::Parse("all"), Guards::All());
  EXPECT_EQ(*Guards::Parse("none"), Guards::None());
  Guards g = *Guards::Parse("-commit_boundary,-reaper");
  EXPECT_FALSE(g.commit_boundary);
  EXPECT_FALSE(g.reaper);
  EXPECT_TRUE(g.fencing);
  EXPECT_TRUE(g.reconcile);
  EXPECT_EQ(g.ToString(), "-commit_boundary,-reaper");
  EXPECT_EQ(*Guards::Parse(g.ToString()), g);
}

TEST(GuardsTest, RejectsUnknownAndMalformedSpecs) {
  for (const char* bad : {"", "fencing", "-", "-nope", "-fencing,", "all,-fencing"}) {
    auto r = Guards::Parse(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_NE(Guards::Parse("-nope").error().message.find("unknown guard 'nope'"), std::string::npos);
}

}  // namespace
}  // namespace lab
