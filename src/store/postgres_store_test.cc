// Goal: PostgresStore reports a dropped connection as a clear, retryable
// error, reconnects on the next call, loses nothing acknowledged, and
// refuses a newer schema without touching it. Method: the private server
// (ctest fixture); the connection is dropped by terminating its backend
// from a second, admin connection.
#include "store/postgres_store.h"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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
  auto store = OpenPostgresStore(
      {.conninfo = WithParam("application_name=" + app), .schema = schema_}, clock_);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  auto first = (*store)->Enqueue({.key = "before"});
  ASSERT_TRUE(first.has_value());

  Admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" + app +
        "'");
  auto during = (*store)->Enqueue({.key = "during"});
  ASSERT_FALSE(during.has_value());
  EXPECT_EQ(during.error().code, ErrorCode::kUnavailable) << during.error().ToString();

  EXPECT_EQ((*store)->reconnects(), 0);
  auto after = (*store)->Enqueue({.key = "during"});
  ASSERT_TRUE(after.has_value()) << after.error().ToString();
  EXPECT_TRUE(after->created);
  // Counted, so a worker's summary can say it reconnected (it said 0 before).
  EXPECT_EQ((*store)->reconnects(), 1);
  auto snap = (*store)->ReadSnapshot();
  ASSERT_TRUE(snap.has_value());
  ASSERT_EQ(snap->jobs.size(), 2u);
  EXPECT_EQ(snap->jobs[0].key, std::optional<std::string>("before"));
  EXPECT_EQ(snap->jobs[1].key, std::optional<std::string>("during"));
}

TEST_F(PostgresStoreTest, NewerSchemaVersionIsRefusedAndLeftAlone) {
  {
    auto store = OpenPostgresStore({.conninfo = url_, .schema = schema_}, clock_);
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    ASSERT_TRUE((*store)->Enqueue({.key = "kept"}).has_value());
  }
  const int latest = LatestVersion(PostgresBackend::Migrations());
  Admin(fmt::format("UPDATE {}.lab_meta SET schema_version = 99 WHERE schema_version = {}", schema_,
                    latest));
  auto store = OpenPostgresStore({.conninfo = url_, .schema = schema_}, clock_);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(store.error().message.find("newer than this build supports"), std::string::npos);
  Admin(fmt::format("UPDATE {}.lab_meta SET schema_version = {} WHERE schema_version = 99", schema_,
                    latest));
  auto reopened = OpenPostgresStore({.conninfo = url_, .schema = schema_}, clock_);
  ASSERT_TRUE(reopened.has_value());
  EXPECT_FALSE((*reopened)->Enqueue({.key = "kept"})->created);
}

TEST_F(PostgresStoreTest, MigrationsUpgradeAnOlderSchemaOnceAndKeepItsData) {
  const std::vector<Migration> current(PostgresBackend::Migrations().begin(),
                                       PostgresBackend::Migrations().end());
  const int latest = LatestVersion(current);
  {
    auto now = OpenPostgresStore({.conninfo = url_, .schema = schema_}, clock_);
    ASSERT_TRUE(now.has_value()) << now.error().ToString();
    ASSERT_TRUE((*now)->Enqueue({.key = "kept"}).has_value());
  }
  std::vector<Migration> steps = current;
  steps.push_back({latest + 1, "CREATE TABLE {s}.lab_extra (x INTEGER);"});
  for (int i = 0; i < 2; ++i) {  // The second open must not run the new step again.
    auto next =
        OpenPostgresStore({.conninfo = url_, .schema = schema_, .migrations = steps}, clock_);
    ASSERT_TRUE(next.has_value()) << next.error().ToString();
    EXPECT_FALSE((*next)->Enqueue({.key = "kept"})->created);
  }
  auto old = OpenPostgresStore({.conninfo = url_, .schema = schema_}, clock_);
  ASSERT_FALSE(old.has_value());
  EXPECT_NE(old.error().message.find(fmt::format("has version {}, newer", latest + 1)),
            std::string::npos)
      << old.error().message;
  // A failing step leaves the schema as it was.
  steps.push_back(
      {latest + 2, "CREATE TABLE {s}.lab_more (x INTEGER); CREATE TABLE {s}.jobs (y INT);"});
  auto broken =
      OpenPostgresStore({.conninfo = url_, .schema = schema_, .migrations = steps}, clock_);
  ASSERT_FALSE(broken.has_value());
  steps.pop_back();
  EXPECT_TRUE(OpenPostgresStore({.conninfo = url_, .schema = schema_, .migrations = steps}, clock_)
                  .has_value());
}

// Version 1 kept payloads as TEXT, which cut them at a NUL byte; version 2
// makes them BYTEA and keeps what v1 had stored.
TEST_F(PostgresStoreTest, V1TextPayloadsBecomeBytesUnchanged) {
  const std::vector<Migration> v1(PostgresBackend::Migrations().begin(),
                                  PostgresBackend::Migrations().begin() + 1);
  ASSERT_EQ(v1.back().version, 1);
  {
    // The schema as a v1 build left it, with a row that build wrote.
    auto old = OpenPostgresStore({.conninfo = url_, .schema = schema_, .migrations = v1}, clock_);
    ASSERT_TRUE(old.has_value()) << old.error().ToString();
  }
  Admin(fmt::format(
      "INSERT INTO {}.jobs (id, queue, key, payload, priority, run_at_ms, max_attempts, "
      "attempts, attempts_at_redrive, state, created_at_ms, last_error) VALUES (7, 'default', "
      "NULL, 'h\xC3\xA9llo {{\"n\": 1}}', 0, 0, 5, 0, 0, 'PENDING', 0, '')",
      schema_));
  const JobId stored = 7;
  auto now = OpenPostgresStore({.conninfo = url_, .schema = schema_}, clock_);
  ASSERT_TRUE(now.has_value()) << now.error().ToString();
  EXPECT_EQ((*now)->GetJob(stored)->payload, "h\xC3\xA9llo {\"n\": 1}");
  const std::string bytes("a\0b\xFF\x00", 5);
  const JobId fresh = (*now)->Enqueue({.payload = bytes})->job_id;
  EXPECT_EQ((*now)->GetJob(fresh)->payload, bytes);
}

// Version 4 added finished_at for the retention policy: a version 3
// schema's finished jobs take their last audited moment.
TEST_F(PostgresStoreTest, V3JobsLearnWhenTheyFinished) {
  const std::vector<Migration> v3(PostgresBackend::Migrations().begin(),
                                  PostgresBackend::Migrations().begin() + 3);
  ASSERT_EQ(v3.back().version, 3);
  {
    auto old = OpenPostgresStore({.conninfo = url_, .schema = schema_, .migrations = v3}, clock_);
    ASSERT_TRUE(old.has_value()) << old.error().ToString();
  }
  Admin(fmt::format(
      "INSERT INTO {0}.jobs (id, queue, key, payload, priority, run_at_ms, max_attempts, "
      "attempts, attempts_at_redrive, state, created_at_ms, last_error) VALUES (3, 'default', "
      "NULL, 'p', 0, 0, 5, 1, 0, 'DEAD', 1000, ''), (4, 'default', NULL, 'p', 0, 0, 5, 0, 0, "
      "'PENDING', 1000, ''); INSERT INTO {0}.audit (at_ms, job_id, execution_id, event, "
      "from_state, to_state, detail) VALUES (1000, 3, 0, 'enqueue', '', 'PENDING', ''), "
      "(7000, 3, 0, 'dead', 'RUNNING', 'DEAD', '')",
      schema_));
  auto now = OpenPostgresStore({.conninfo = url_, .schema = schema_}, clock_);
  ASSERT_TRUE(now.has_value()) << now.error().ToString();
  EXPECT_EQ((*now)->GetJob(3)->finished_at_ms, 7'000);
  EXPECT_EQ((*now)->GetJob(4)->finished_at_ms, 0);
}

TEST_F(PostgresStoreTest, UnknownUrlParameterIsAnInvalidArgument) {
  auto store =
      OpenPostgresStore({.conninfo = WithParam("no_such_option=1"), .schema = schema_}, clock_);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kInvalidArgument) << store.error().ToString();
  EXPECT_NE(store.error().message.find("no_such_option"), std::string::npos);
}

// A server that accepts the connection and never answers: the default (or
// the URL's) connect timeout ends the wait with kUnavailable.
TEST_F(PostgresStoreTest, SilentServerTimesOutInsteadOfHanging) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 4), 0);  // The kernel accepts; nobody answers.
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto store = OpenPostgresStore(
      {.conninfo =
           fmt::format("postgresql://lab@127.0.0.1:{}/x?connect_timeout=2", ntohs(addr.sin_port)),
       .schema = schema_},
      clock_);
  close(listener);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable) << store.error().ToString();
  EXPECT_NE(store.error().message.find("timeout expired"), std::string::npos)
      << store.error().message;
}

TEST_F(PostgresStoreTest, AReaderNeverCreatesTheSchema) {
  auto reader = OpenPostgresStore({.conninfo = url_, .schema = schema_, .create = false}, clock_);
  ASSERT_FALSE(reader.has_value());
  EXPECT_EQ(reader.error().code, ErrorCode::kNotFound) << reader.error().ToString();
  EXPECT_NE(reader.error().message.find("no lab queue in schema"), std::string::npos);
  // Nothing was created.
  PGconn* c = PQconnectdb(url_.c_str());
  ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  const std::string probe = "SELECT count(*) FROM pg_namespace WHERE nspname = '" + schema_ + "'";
  PGresult* r = PQexec(c, probe.c_str());
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(c);
  EXPECT_EQ(std::string(PQgetvalue(r, 0, 0)), "0");
  PQclear(r);
  PQfinish(c);
  // Once a writer made it, a reader opens it.
  ASSERT_TRUE(OpenPostgresStore({.conninfo = url_, .schema = schema_}, clock_).has_value());
  EXPECT_TRUE(OpenPostgresStore({.conninfo = url_, .schema = schema_, .create = false}, clock_)
                  .has_value());
}

TEST_F(PostgresStoreTest, BadSchemaNameIsAnInvalidArgument) {
  auto store = OpenPostgresStore({.conninfo = url_, .schema = "x; DROP TABLE y"}, clock_);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace lab
