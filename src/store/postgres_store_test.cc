// Goal: PostgresStore reports a dropped connection as a clear, retryable
// error, reconnects on the next call, loses nothing acknowledged, and
// refuses a newer schema without touching it. Method: the private server
// (ctest fixture); the connection is dropped by terminating its backend
// from a second, admin connection.
#include "store/postgres_store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "core/clock.h"
#include "store/testing/pg_env.h"

namespace lab {
namespace {

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = testing::PgUrlFromEnv();
    ASSERT_TRUE(url.has_value()) << "LAB_PG_URL is not set: run through ctest";
    url_ = *url;
    schema_ = testing::FreshPgSchema();
  }
  // Runs one statement on a separate admin connection.
  void Admin(const std::string& sql) {
    PGconn* c = PQconnectdb(url_.c_str());
    ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
    PGresult* r = PQexec(c, sql.c_str());
    EXPECT_TRUE(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
        << PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
  }
  std::string WithParam(const std::string& param) const {
    return url_ + (url_.find('?') == std::string::npos ? "?" : "&") + param;
  }

  ManualClock clock_{0};
  std::string url_;
  std::string schema_;
};

TEST_F(PostgresStoreTest, DroppedConnectionIsUnavailableThenReconnectsAndLosesNothing) {
  const std::string app = "droptest_" + schema_;
  auto store = PostgresStore::Open(
      {.conninfo = WithParam("application_name=" + app), .schema = schema_}, clock_);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  auto first = (*store)->Enqueue({.key = "before"});
  ASSERT_TRUE(first.has_value());

  Admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" + app +
        "'");
  auto during = (*store)->Enqueue({.key = "during"});
  ASSERT_FALSE(during.has_value());
  EXPECT_EQ(during.error().code, ErrorCode::kUnavailable) << during.error().ToString();

  auto after = (*store)->Enqueue({.key = "during"});
  ASSERT_TRUE(after.has_value()) << after.error().ToString();
  EXPECT_TRUE(after->created);
  auto snap = (*store)->ReadSnapshot();
  ASSERT_TRUE(snap.has_value());
  ASSERT_EQ(snap->jobs.size(), 2u);
  EXPECT_EQ(snap->jobs[0].key, std::optional<std::string>("before"));
  EXPECT_EQ(snap->jobs[1].key, std::optional<std::string>("during"));
}

TEST_F(PostgresStoreTest, NewerSchemaVersionIsRefusedAndLeftAlone) {
  {
    auto store = PostgresStore::Open({.conninfo = url_, .schema = schema_}, clock_);
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    ASSERT_TRUE((*store)->Enqueue({.key = "kept"}).has_value());
  }
  Admin("UPDATE " + schema_ + ".lab_meta SET schema_version = 99");
  auto store = PostgresStore::Open({.conninfo = url_, .schema = schema_}, clock_);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(store.error().message.find("newer than this build supports"), std::string::npos);
  Admin("UPDATE " + schema_ + ".lab_meta SET schema_version = 1");
  auto reopened = PostgresStore::Open({.conninfo = url_, .schema = schema_}, clock_);
  ASSERT_TRUE(reopened.has_value());
  EXPECT_FALSE((*reopened)->Enqueue({.key = "kept"})->created);
}

TEST_F(PostgresStoreTest, MigrationsUpgradeAnOlderSchemaOnceAndKeepItsData) {
  {
    auto v1 = PostgresStore::Open({.conninfo = url_, .schema = schema_}, clock_);
    ASSERT_TRUE(v1.has_value()) << v1.error().ToString();
    ASSERT_TRUE((*v1)->Enqueue({.key = "kept"}).has_value());
  }
  std::vector<Migration> steps(PostgresStore::Migrations().begin(),
                               PostgresStore::Migrations().end());
  steps.push_back({2, "CREATE TABLE {s}.lab_extra (x INTEGER);"});
  for (int i = 0; i < 2; ++i) {  // The second open must not run step 2 again.
    auto v2 =
        PostgresStore::Open({.conninfo = url_, .schema = schema_, .migrations = steps}, clock_);
    ASSERT_TRUE(v2.has_value()) << v2.error().ToString();
    EXPECT_FALSE((*v2)->Enqueue({.key = "kept"})->created);
  }
  auto v1 = PostgresStore::Open({.conninfo = url_, .schema = schema_}, clock_);
  ASSERT_FALSE(v1.has_value());
  EXPECT_NE(v1.error().message.find("has version 2, newer"), std::string::npos)
      << v1.error().message;
  // A failing step leaves the schema as it was.
  steps.push_back({3, "CREATE TABLE {s}.lab_more (x INTEGER); CREATE TABLE {s}.jobs (y INT);"});
  auto broken =
      PostgresStore::Open({.conninfo = url_, .schema = schema_, .migrations = steps}, clock_);
  ASSERT_FALSE(broken.has_value());
  steps.pop_back();
  EXPECT_TRUE(
      PostgresStore::Open({.conninfo = url_, .schema = schema_, .migrations = steps}, clock_)
          .has_value());
}

TEST_F(PostgresStoreTest, BadSchemaNameIsAnInvalidArgument) {
  auto store = PostgresStore::Open({.conninfo = url_, .schema = "x; DROP TABLE y"}, clock_);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace lab
