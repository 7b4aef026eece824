// Goal: a Queue opens from the URLs the docs name and refuses anything else
// with a message that says what is accepted; guards switch the control-plane
// sweeps off.
#include "queue/queue.h"

#include <gtest/gtest.h>

#include "core/testing/temp_dir.h"

namespace lab {
namespace {

TEST(StoreUrlTest, ParsesMemoryAndSqlite) {
  EXPECT_EQ(ParseStoreUrl("memory:")->kind, StoreKind::kMemory);
  auto s = ParseStoreUrl("sqlite:/tmp/x.db");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->kind, StoreKind::kSqlite);
  EXPECT_EQ(s->path, "/tmp/x.db");
  EXPECT_EQ(ParseStoreUrl("sqlite:///tmp/x.db")->path, "/tmp/x.db");
  EXPECT_EQ(ParseStoreUrl("sqlite:rel.db")->path, "rel.db");
  EXPECT_EQ(s->synchronous, "FULL");
}

TEST(StoreUrlTest, ASqliteUrlTakesOnlyTheSynchronousQuery) {
  auto normal = ParseStoreUrl("sqlite:/tmp/x.db?synchronous=normal");
  ASSERT_TRUE(normal.has_value());
  EXPECT_EQ(normal->path, "/tmp/x.db");
  EXPECT_EQ(normal->synchronous, "NORMAL");
  EXPECT_EQ(ParseStoreUrl("sqlite:x.db?synchronous=Extra")->synchronous, "EXTRA");
  for (const char* bad :
       {"sqlite:x.db?synchronous=off", "sqlite:x.db?mode=ro", "sqlite:?synchronous=full"}) {
    auto r = ParseStoreUrl(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(QueueTest, ASqliteQueueOpensWithSynchronousNormalOnlyWhenAsked) {
  ManualClock clock(0);
  testing::TempDir dir;
  auto q = Queue::Open("sqlite:" + dir.File("n.db") + "?synchronous=normal", clock);
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_TRUE((*q)->Enqueue({}).has_value());
}

TEST(StoreUrlTest, ParsesPostgresAndTakesOutTheSchema) {
  auto plain = ParseStoreUrl("postgresql://u@db.example/jobs");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->kind, StoreKind::kPostgres);
  EXPECT_EQ(plain->path, "postgresql://u@db.example/jobs");
  EXPECT_EQ(plain->schema, "lab");
  auto with = ParseStoreUrl("postgres://u@/jobs?host=/tmp/s&schema=q1&port=5433");
  ASSERT_TRUE(with.has_value());
  EXPECT_EQ(with->path, "postgres://u@/jobs?host=/tmp/s&port=5433");
  EXPECT_EQ(with->schema, "q1");
  EXPECT_FALSE(ParseStoreUrl("postgresql://x/y?schema=").has_value());
}

TEST(QueueTest, UnreachablePostgresIsAClearUnavailableError) {
  ManualClock clock(0);
  testing::TempDir dir;
  // A socket directory with no server in it: refused at once, no network.
  auto q = Queue::Open("postgresql://postgres@/postgres?host=" + dir.path().string(), clock);
  ASSERT_FALSE(q.has_value());
  EXPECT_EQ(q.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(q.error().message.find("cannot connect to PostgreSQL"), std::string::npos);
}

TEST(StoreUrlTest, RejectsUnknownSchemesAndEmptyPaths) {
  for (const char* bad : {"", "redis://localhost", "sqlite:", "file:/x", "mem"}) {
    auto r = ParseStoreUrl(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_NE(ParseStoreUrl("redis://x").error().message.find("scheme 'redis'"), std::string::npos);
}

TEST(QueueTest, OpensSqliteFileAndKeepsJobs) {
  testing::TempDir dir;
  ManualClock clock(0);
  const std::string url = "sqlite:" + dir.File("q.db");
  JobId id;
  {
    auto q = Queue::Open(url, clock);
    ASSERT_TRUE(q.has_value()) << q.error().ToString();
    id = (*q)->Enqueue({.payload = "hello"})->job_id;
  }
  auto q = Queue::Open(url, clock);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ((*q)->store().GetJob(id)->payload, "hello");
}

TEST(QueueTest, ReaperGuardOffLeavesExpiredLeases) {
  ManualClock clock(0);
  Guards guards;
  guards.reaper = false;
  auto q = Queue::Open("memory:", clock, {.guards = guards});
  ASSERT_TRUE(q.has_value());
  (*q)->Enqueue({});
  ASSERT_EQ((*q)->store().Claim({.worker = "w", .lease_ms = 10})->size(), 1u);
  clock.AdvanceMs(100);
  EXPECT_EQ(*(*q)->Reap(), 0);
  EXPECT_EQ(*(*q)->store().ReapExpired(), 1);  // The store would have reaped it.
}

}  // namespace
}  // namespace lab
