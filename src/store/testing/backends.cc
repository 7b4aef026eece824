#include "store/testing/backends.h"

#include <gtest/gtest.h>

#include "store/memory_store.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "store/testing/pg_env.h"

namespace lab::testing {

std::vector<StorageBackend> StorageBackends() {
  return {
      {"Memory", [](TempDir&) { return std::make_shared<MemoryBackend>(); }},
      {"Sqlite",
       [](TempDir& dir) -> std::shared_ptr<StoreBackend> {
         auto backend = SqliteBackend::Open(SqliteOptions{.path = dir.File("q.db")});
         EXPECT_TRUE(backend.has_value()) << backend.error().ToString();
         if (!backend) return nullptr;
         return std::move(*backend);
       }},
      {"Postgres",
       [](TempDir&) -> std::shared_ptr<StoreBackend> {
         // Set by ctest, which starts a private server (cmake/PgFixture.cmake).
         const auto url = PgUrlFromEnv();
         if (!url) {
           ADD_FAILURE() << "LAB_PG_URL is not set: run through ctest, which starts a private "
                            "PostgreSQL server";
           return nullptr;
         }
         auto backend = PostgresBackend::Open({.conninfo = *url, .schema = FreshPgSchema()});
         EXPECT_TRUE(backend.has_value()) << backend.error().ToString();
         if (!backend) return nullptr;
         return std::move(*backend);
       }},
  };
}

}  // namespace lab::testing
