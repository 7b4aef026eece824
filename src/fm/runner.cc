#include "fm/runner.h"

#include <fmt/core.h>

#include <filesystem>

#include "core/scratch_dir.h"
#include "fm/scenario_env.h"

namespace lab {

Result<void> ValidateRunStoreUrl(const std::string& store_url) {
  if (store_url == "memory:" || store_url == "sqlite:") return {};
  LAB_ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(store_url));
  if (parsed.kind == StoreKind::kPostgres) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "lab run needs a fresh database per run and supports memory: and sqlite: "
                     "(PostgreSQL failure-mode runs are in the test suite)");
  }
  return {};
}

Result<RunReport> RunFailureMode(const FailureMode& fm, Mode mode, const std::string& store_url) {
  if (!fm.implemented) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} is planned but has no scenario yet", fm.id));
  }
  LAB_RETURN_IF_ERROR(ValidateRunStoreUrl(store_url));
  std::unique_ptr<ScratchDir> scratch;
  std::string url = store_url;
  if (store_url == "sqlite:") {
    LAB_ASSIGN_OR_RETURN(scratch, ScratchDir::Make("lab-run"));
    url = fmt::format("sqlite:{}/{}-{}.db", scratch->path(), fm.id, ToString(mode));
  } else if (store_url.starts_with("sqlite:")) {
    LAB_ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(store_url));
    std::error_code ec;
    std::filesystem::create_directories(parsed.path, ec);
    if (ec) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       fmt::format("cannot create directory '{}': {}", parsed.path, ec.message()));
    }
    const std::string file = fmt::format("{}/{}-{}.db", parsed.path, fm.id, ToString(mode));
    if (std::filesystem::exists(file)) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       fmt::format("'{}' already exists; a run needs a fresh database and will "
                                   "not overwrite it",
                                   file));
    }
    url = "sqlite:" + file;
  }
  const Guards guards = mode == Mode::kBaseline ? fm.baseline_guards : Guards::All();
  LAB_ASSIGN_OR_RETURN(auto env, ScenarioEnv::Create(url, guards));
  env->Note(fmt::format("{} {} run: guards {}, store {}", fm.id, ToString(mode), guards.ToString(),
                        store_url));
  LAB_RETURN_IF_ERROR(fm.scenario(*env));
  LAB_ASSIGN_OR_RETURN(auto violations, env->Check());
  return RunReport{.fm_id = fm.id,
                   .mode = mode,
                   .guards = guards,
                   .trace = env->trace(),
                   .violations = std::move(violations),
                   .claimed = fm.invariants};
}

}  // namespace lab
