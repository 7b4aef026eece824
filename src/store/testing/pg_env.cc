#include "store/testing/pg_env.h"

#include <unistd.h>

#include <cstdlib>

namespace lab::testing {

std::optional<std::string> PgUrlFromEnv() {
  const char* url = std::getenv("LAB_PG_URL");
  if (url == nullptr || *url == '\0') return std::nullopt;
  return std::string(url);
}

std::string FreshPgSchema() {
  static int counter = 0;
  return "t" + std::to_string(getpid()) + "_" + std::to_string(++counter);
}

}  // namespace lab::testing
