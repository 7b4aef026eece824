#include "fm/runner.h"

#include <fmt/core.h>

#include "fm/scenario_env.h"
#include "queue/scratch_store.h"

namespace lab {
namespace {

std::string RunName(const FailureMode& fm, Mode mode) {
  return fmt::format("{}-{}", fm.id, ToString(mode));
}

}  // namespace

Result<StoreKind> RunStoreKind(const std::string& store_url) {
  if (store_url == "sqlite:") return StoreKind::kSqlite;  // A fresh temp file.
  LAB_ASSIGN_OR_RETURN(StoreUrl parsed, ParseStoreUrl(store_url));
  return parsed.kind;
}

Result<RunReport> RunFailureMode(const FailureMode& fm, Mode mode, const std::string& store_url,
                                 const std::function<void(ScenarioEnv&)>& inspect) {
  if (!fm.Has(mode)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fm.implemented()
                         ? fmt::format("{} has no {} scenario", fm.id, ToString(mode))
                         : fmt::format("{} is planned but has no scenario yet", fm.id));
  }
  LAB_ASSIGN_OR_RETURN(StoreKind kind, RunStoreKind(store_url));
  if (!fm.RunsOn(kind)) return MakeError(ErrorCode::kInvalidArgument, fm.NotOn(store_url));
  LAB_ASSIGN_OR_RETURN(auto store, ScratchStore::Make(store_url, RunName(fm, mode)));
  const Guards guards = fm.GuardsFor(mode);
  LAB_ASSIGN_OR_RETURN(auto env, ScenarioEnv::Create(store->url(), guards, fm.sim_disk));
  env->Note(fmt::format("{} {} run: guards {}, store {}{}", fm.id, ToString(mode),
                        guards.ToString(), store_url, fm.sim_disk ? " on the simulated disk" : ""));
  LAB_RETURN_IF_ERROR(mode == Mode::kRecover ? fm.recover(*env) : fm.scenario(*env));
  LAB_ASSIGN_OR_RETURN(auto violations, env->Check());
  if (inspect) inspect(*env);
  return RunReport{.fm_id = fm.id,
                   .mode = mode,
                   .guards = guards,
                   .store_url = store->url(),
                   .trace = env->trace(),
                   .violations = std::move(violations),
                   .claimed = mode == Mode::kBaseline ? fm.invariants : std::vector<Invariant>{},
                   .judged = env->Judged(),
                   .figures = env->figures()};
}

}  // namespace lab
