#include "fm/runner.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>

#include "core/scratch_dir.h"
#include "fm/scenario_env.h"
#include "store/postgres_store.h"

namespace lab {
namespace {

// The store a run gets to itself, and what it takes to remove it after.
class RunStore {
 public:
  RunStore() = default;
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;
  ~RunStore() {
    // The run's own schema goes, whatever became of the run. A failure to
    // drop it cannot change the run's verdict; it is said on stderr.
    if (!pg_schema_.empty()) {
      if (auto dropped = PostgresStore::DropSchema(pg_conninfo_, pg_schema_); !dropped) {
        fmt::print(stderr, "lab: could not drop the run's schema '{}': {}\n", pg_schema_,
                   dropped.error().ToString());
      }
    }
  }

  Result<void> Make(const FailureMode& fm, Mode mode, const std::string& store_url);
  const std::string& url() const { return url_; }

 private:
  std::string url_;
  std::unique_ptr<ScratchDir> scratch_;
  std::string pg_conninfo_;
  std::string pg_schema_;
};

std::string RunName(const FailureMode& fm, Mode mode) {
  return fmt::format("{}-{}", fm.id, ToString(mode));
}

Result<void> RunStore::Make(const FailureMode& fm, Mode mode, const std::string& store_url) {
  if (store_url == "memory:") {
    url_ = store_url;
    return {};
  }
  if (store_url == "sqlite:") {
    LAB_ASSIGN_OR_RETURN(scratch_, ScratchDir::Make("lab-run"));
    url_ = fmt::format("sqlite:{}/{}.db", scratch_->path(), RunName(fm, mode));
    return {};
  }
  LAB_ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(store_url));
  if (parsed.kind == StoreKind::kPostgres) {
    // A name no other run uses: this process, and a count within it.
    static int runs = 0;
    std::string schema = fmt::format("{}_{}_{}_{}", parsed.schema, RunName(fm, mode),
                                     static_cast<long>(getpid()), ++runs);
    for (char& c : schema) {
      c = c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    LAB_RETURN_IF_ERROR(PostgresStore::CreateEmptySchema(parsed.path, schema));
    pg_conninfo_ = parsed.path;
    pg_schema_ = schema;
    const char sep = parsed.path.find('?') == std::string::npos ? '?' : '&';
    url_ = fmt::format("{}{}schema={}", parsed.path, sep, schema);
    return {};
  }
  std::error_code ec;
  std::filesystem::create_directories(parsed.path, ec);
  if (ec) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("cannot create directory '{}': {}", parsed.path, ec.message()));
  }
  const std::string file = fmt::format("{}/{}.db", parsed.path, RunName(fm, mode));
  if (std::filesystem::exists(file)) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     fmt::format("'{}' already exists; a run needs a fresh database and will "
                                 "not overwrite it",
                                 file));
  }
  url_ = "sqlite:" + file;
  return {};
}

}  // namespace

Result<void> ValidateRunStoreUrl(const std::string& store_url) {
  if (store_url == "memory:" || store_url == "sqlite:") return {};
  LAB_RETURN_IF_ERROR(ParseStoreUrl(store_url));
  return {};
}

Result<RunReport> RunFailureMode(const FailureMode& fm, Mode mode, const std::string& store_url,
                                 const std::function<void(ScenarioEnv&)>& inspect) {
  if (!fm.Has(mode)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fm.implemented()
                         ? fmt::format("{} has no {} scenario", fm.id, ToString(mode))
                         : fmt::format("{} is planned but has no scenario yet", fm.id));
  }
  LAB_RETURN_IF_ERROR(ValidateRunStoreUrl(store_url));
  RunStore store;
  LAB_RETURN_IF_ERROR(store.Make(fm, mode, store_url));
  const Guards guards = fm.GuardsFor(mode);
  LAB_ASSIGN_OR_RETURN(auto env, ScenarioEnv::Create(store.url(), guards));
  env->Note(fmt::format("{} {} run: guards {}, store {}", fm.id, ToString(mode), guards.ToString(),
                        store_url));
  LAB_RETURN_IF_ERROR(mode == Mode::kRecover ? fm.recover(*env) : fm.scenario(*env));
  LAB_ASSIGN_OR_RETURN(auto violations, env->Check());
  if (inspect) inspect(*env);
  return RunReport{.fm_id = fm.id,
                   .mode = mode,
                   .guards = guards,
                   .store_url = store.url(),
                   .trace = env->trace(),
                   .violations = std::move(violations),
                   .claimed = mode == Mode::kBaseline ? fm.invariants : std::vector<Invariant>{}};
}

}  // namespace lab
