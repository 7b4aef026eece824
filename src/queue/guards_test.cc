// Goal: guard specs parse the way the CLI documents them, and bad specs are
// rejected with a message that names the problem.
#include "queue/guards.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <set>

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

namespace lab {
namespace {

// Every guard in the table round-trips alone through parsing and printing,
// is on by default and off in None, and is named in the help; names are
// unique. A guard missing from the table would be caught by the size check.
TEST(GuardsTest, TheTableDrivesEveryGuard) {
  EXPECT_EQ(Guards::Table().size() * sizeof(bool), sizeof(Guards))
      << "a Guards member is missing from the table in guards.cc";
  std::set<std::string_view> names;
  for (const GuardInfo& info : Guards::Table()) {
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    EXPECT_TRUE(Guards::All().*info.member) << info.name;
    EXPECT_FALSE(Guards::None().*info.member) << info.name;
    const std::string off = fmt::format("-{}", info.name);
    auto g = Guards::Parse(off);
    ASSERT_TRUE(g.has_value()) << info.name;
    EXPECT_FALSE((*g).*info.member);
    EXPECT_EQ(g->ToString(), off);
    EXPECT_EQ(g->Find(info.name), &((*g).*info.member));
    EXPECT_NE(Guards::Help().find(info.name), std::string::npos);
    EXPECT_NE(Guards::Help().find(info.description), std::string::npos);
  }
  EXPECT_EQ(Guards::Names().size(), Guards::Table().size());
}

}  // namespace
}  // namespace lab
