// Goal: a run's HTML page is self-contained and shows the evidence: one
// lane per actor, a lease bar per execution with its token, every event a
// mark with its details, each violation listed with its evidence and tied
// to its job's events both ways; text from the run is escaped, so a key or
// an error message cannot break the page.
#include "cli/html_report.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

size_t Count(const std::string& page, const std::string& what) {
  size_t n = 0;
  for (size_t at = page.find(what); at != std::string::npos; at = page.find(what, at + 1)) ++n;
  return n;
}

HtmlRun TwoCharges() {
  HtmlRun run{.title = "seed 61 <guards -stable_key>", .command = "lab replay --seed 61"};
  run.events = {
      {.time_ms = 0, .actor = "producer", .event = "enqueue", .job = 7, .result = "ok"},
      {.time_ms = 10, .actor = "w0", .event = "claim", .job = 7, .execution = 1, .token = 1},
      {.time_ms = 20,
       .actor = "external",
       .event = "effect",
       .job = 7,
       .execution = 1,
       .result = "applied under key 'exec:1'"},
      {.time_ms = 30, .actor = "w0", .event = "link", .result = "the reply for exec:1 lost"},
      {.time_ms = 5'000, .actor = "w1", .event = "claim", .job = 7, .execution = 2, .token = 2},
      {.time_ms = 5'010,
       .actor = "external",
       .event = "effect",
       .job = 7,
       .execution = 2,
       .result = "applied under key 'exec:2'"},
      {.time_ms = 5'020, .actor = "w1", .event = "commit", .job = 7, .execution = 2, .token = 2},
      {.time_ms = 5'030, .actor = "w1", .event = "claim", .job = 8, .execution = 3, .token = 1}};
  run.violations = {{.invariant = Invariant::kOneEffect,
                     .job_id = 7,
                     .message = "2 effects applied for one job",
                     .evidence = {"external effect key 'exec:1' by exec 1",
                                  "external effect key 'exec:2' by exec 2"}}};
  return run;
}

TEST(HtmlReportTest, ShowsLanesLeasesMarksAndTheViolationTiedToItsJob) {
  const std::string page = RenderRunHtml(TwoCharges());
  // Self-contained: nothing is fetched.
  EXPECT_EQ(page.find("src=\"http"), std::string::npos);
  EXPECT_EQ(page.find("href=\"http"), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_NE(page.find("<style>"), std::string::npos);
  EXPECT_NE(page.find("<script>"), std::string::npos);
  // Lanes: producer, then the workers, then the external system.
  const size_t producer = page.find(">producer</text>"), w0 = page.find(">w0</text>"),
               w1 = page.find(">w1</text>"), external = page.find(">external</text>");
  ASSERT_NE(producer, std::string::npos);
  ASSERT_NE(external, std::string::npos);
  EXPECT_LT(producer, w0);
  EXPECT_LT(w0, w1);
  EXPECT_LT(w1, external);
  // A lease bar per execution, labelled with its token.
  EXPECT_EQ(Count(page, "<rect class=\"lease\""), 3u);
  EXPECT_NE(page.find("job 7 exec 2 token 2"), std::string::npos);
  // Every event is a mark; those of job 7 are ringed, job 8's is not.
  EXPECT_EQ(Count(page, "<circle id=\"run-e"), 8u);
  EXPECT_EQ(Count(page, " violated\" data-job=\"7\""), 6u);
  EXPECT_NE(page.find("class=\"mark step\" data-job=\"8\""), std::string::npos);
  EXPECT_NE(page.find("class=\"mark effect violated\""), std::string::npos);
  EXPECT_NE(page.find("class=\"mark fault\""), std::string::npos);
  // The violation, its evidence, and its job for the script to tie.
  EXPECT_NE(page.find("<li id=\"run-v0\" data-job=\"7\"><b>INV_001</b> job 7: 2 effects applied"),
            std::string::npos);
  EXPECT_NE(page.find("<li>external effect key &#39;exec:2&#39; by exec 2</li>"),
            std::string::npos);
  // Escaped: the title's angle brackets are text.
  EXPECT_NE(page.find("<h1>seed 61 &lt;guards -stable_key&gt;</h1>"), std::string::npos);
}

TEST(HtmlReportTest, ARunThatHoldsSaysSo) {
  HtmlRun run = TwoCharges();
  run.violations.clear();
  const std::string page = RenderRunHtml(run);
  EXPECT_NE(page.find("Every invariant holds."), std::string::npos);
  EXPECT_EQ(page.find(" violated\""), std::string::npos);
  EXPECT_EQ(HtmlEscape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}

// A large run stays a page one can open: past a size the plain steps are
// summed per lane in blocks, while every event of the violated job, every
// fault and every effect is still a mark of its own, and only the violated
// job's leases are bars.
TEST(HtmlReportTest, ALargeRunSumsItsPlainStepsAndKeepsTheEvidence) {
  HtmlRun run = TwoCharges();
  const size_t evidence = run.events.size();  // 7 of job 7 or faults or effects, 1 of job 8.
  for (int64_t job = 100; job < 2'100; ++job) {
    const std::string worker = "w" + std::to_string(job % 3);
    const TimeMs t = 6'000 + job * 10;
    run.events.push_back({.time_ms = t,
                          .actor = worker,
                          .event = "claim",
                          .job = job,
                          .execution = job,
                          .token = 1});
    run.events.push_back({.time_ms = t + 5,
                          .actor = worker,
                          .event = "commit",
                          .job = job,
                          .execution = job,
                          .token = 1});
  }
  run.events.push_back({.time_ms = 30'000, .actor = "w2", .event = "fault", .result = "crash"});
  const std::string page = RenderRunHtml(run);
  // Drawn one by one: job 7's six events (its two effects among them) and
  // the two faults, the new crash included; job 8's claim and the 4,000
  // steps are summed.
  EXPECT_EQ(Count(page, "<circle id=\"run-e"), evidence - 1 + 1);
  EXPECT_EQ(Count(page, " violated\" data-job=\"7\""), 6u);
  EXPECT_EQ(Count(page, "class=\"mark fault\""), 2u);
  EXPECT_GT(Count(page, "<rect class=\"summed\""), 3u);
  EXPECT_LE(Count(page, "<rect class=\"summed\""), 4u * 221);  // A block per lane and column.
  // Leases: only job 7's two of 2,003.
  EXPECT_EQ(Count(page, "<rect class=\"lease\""), 2u);
  EXPECT_NE(page.find("8 of its 4009 events drawn one by one"), std::string::npos)
      << page.substr(0, 400);
  EXPECT_NE(page.find("of its 2003 leases, the violated jobs' drawn"), std::string::npos);
  // A small run sums nothing.
  EXPECT_EQ(RenderRunHtml(TwoCharges()).find("<rect class=\"summed\""), std::string::npos);
}

}  // namespace
}  // namespace lab
