#include "queue/scratch_store.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>

#include "queue/queue.h"
#include "store/postgres_store.h"

namespace lab {

ScratchStore::~ScratchStore() {
  if (pg_schema_.empty()) return;
  if (auto dropped = PostgresBackend::DropSchema(pg_conninfo_, pg_schema_); !dropped) {
    fmt::print(stderr, "lab: could not drop the schema '{}': {}\n", pg_schema_,
               dropped.error().ToString());
  }
}

Result<std::unique_ptr<ScratchStore>> ScratchStore::Make(const std::string& url,
                                                         const std::string& name) {
  std::unique_ptr<ScratchStore> s(new ScratchStore());
  // A sqlite: URL's query (?synchronous=...) goes with the file chosen here.
  std::string query;
  std::string base = url;
  if (url.starts_with("sqlite:") && url.find('?') != std::string::npos) {
    query = url.substr(url.find('?'));
    base = url.substr(0, url.find('?'));
    LAB_RETURN_IF_ERROR(ParseStoreUrl("sqlite:scratch" + query));
  }
  if (base == "sqlite:") {
    LAB_ASSIGN_OR_RETURN(s->scratch_, ScratchDir::Make("lab-run"));
    s->dir_ = s->scratch_->path();
    s->url_ = fmt::format("sqlite:{}/{}.db{}", s->dir_, name, query);
    return s;
  }
  LAB_ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(base));
  if (parsed.kind == StoreKind::kPostgres) {
    // A name no other run uses: this process, and a count within it.
    static int runs = 0;
    std::string schema =
        fmt::format("{}_{}_{}_{}", parsed.schema, name, static_cast<long>(getpid()), ++runs);
    for (char& c : schema) {
      c = c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    LAB_RETURN_IF_ERROR(PostgresBackend::CreateEmptySchema(parsed.path, schema));
    s->pg_conninfo_ = parsed.path;
    s->pg_schema_ = schema;
    const char sep = parsed.path.find('?') == std::string::npos ? '?' : '&';
    s->url_ = fmt::format("{}{}schema={}", parsed.path, sep, schema);
    return s;
  }
  if (parsed.kind == StoreKind::kMemory) {
    s->url_ = "memory:";
    return s;
  }
  std::error_code ec;
  std::filesystem::create_directories(parsed.path, ec);
  if (ec) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("cannot create directory '{}': {}", parsed.path, ec.message()));
  }
  const std::string file = fmt::format("{}/{}.db", parsed.path, name);
  if (std::filesystem::exists(file)) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("'{}' already exists; a run needs a fresh database and will "
                                 "not overwrite it",
                                 file));
  }
  s->dir_ = parsed.path;
  s->url_ = "sqlite:" + file + query;
  return s;
}

}  // namespace lab
