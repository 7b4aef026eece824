// The private PostgreSQL server's URL for tests, from LAB_PG_URL (set by
// ctest, which starts the server: cmake/PgFixture.cmake). The one place a
// test reads the environment. Test-only.
#pragma once

#include <optional>
#include <string>

namespace lab::testing {

// nullopt when the variable is unset (the test must then fail, not skip).
std::optional<std::string> PgUrlFromEnv();
// A schema name no other store in this process has used.
std::string FreshPgSchema();

}  // namespace lab::testing
