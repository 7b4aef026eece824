#include "queue/drill.h"

#include <fmt/core.h>

#include <map>

#include "core/enum_names.h"

namespace lab {
namespace {

constexpr EnumNames<Divergence, 3> kDivergences = {{{Divergence::kExtra, "extra"},
                                                    {Divergence::kMissing, "missing"},
                                                    {Divergence::kMismatched, "mismatched"}}};

}  // namespace

std::string_view ToString(Divergence d) { return NameOf(kDivergences, d); }

std::vector<HeldEffect> HeldEffects(const EffectLog& log) {
  std::vector<HeldEffect> held;
  for (const AppliedEffect& e : log.applied()) {
    if (e.from_handler) held.push_back({e.key, e.payload});
  }
  return held;
}

std::string DrillReport::ToString() const {
  std::string out;
  int repaired = 0;
  for (const DrillFinding& f : findings) {
    out += fmt::format("job {}: {}\n", f.job, f.detail);
    repaired += f.repaired ? 1 : 0;
  }
  out += fmt::format(
      "drill: {} jobs, {} effects held downstream ({} under keys no job has): {} finding(s), {} "
      "repaired\n",
      jobs, held, unknown, findings.size(), repaired);
  return out;
}

Result<DrillReport> RunDrill(Store& store, std::span<const HeldEffect> held,
                             const DrillOptions& options) {
  LAB_ASSIGN_OR_RETURN(Snapshot s, store.ReadSnapshot());
  DrillReport report{.jobs = static_cast<int64_t>(s.jobs.size()),
                     .held = static_cast<int64_t>(held.size())};
  std::map<std::string, const Job*> job_of;
  for (const Job& j : s.jobs) job_of.emplace(j.EffectKey(), &j);
  std::map<std::string, const EffectRecord*> ledger;
  std::map<std::string, std::optional<std::string>> downstream;
  for (const EffectRecord& e : s.effects) ledger.emplace(e.key, &e);
  for (const HeldEffect& h : held) downstream.emplace(h.key, h.payload);
  const auto find = [&](const Job& job, const std::string& key, Divergence kind, std::string detail,
                        bool repair = false, int64_t effect = 0) {
    report.findings.push_back({.job = job.id,
                               .key = key,
                               .kind = kind,
                               .repaired = repair,
                               .detail = fmt::format("drill: {}: {}", lab::ToString(kind), detail),
                               .effect = effect});
  };
  for (const auto& [key, payload] : downstream) {
    auto it = job_of.find(key);
    if (it == job_of.end()) {
      ++report.unknown;
      continue;
    }
    const Job& job = *it->second;
    if (auto mine = ledger.find(key); mine != ledger.end()) {
      if (payload && mine->second->payload != *payload) {
        find(job, key, Divergence::kMismatched,
             fmt::format("the ledger holds '{}' under key '{}', the downstream system '{}'",
                         mine->second->payload, key, *payload));
      }
      continue;
    }
    if (job.state != JobState::kDead && job.state != JobState::kExpired) continue;
    const bool redrive = options.repair && job.state == JobState::kDead;
    find(job, key, Divergence::kExtra,
         fmt::format("the downstream system holds {} under key '{}', but the job is {} ({}); {}",
                     payload ? fmt::format("'{}'", *payload) : "an effect", key,
                     lab::ToString(job.state), job.last_error,
                     redrive ? "redriven: its next attempt's call under that key is deduplicated"
                             : "recorded for an operator"),
         redrive);
  }
  for (const auto& [key, effect] : ledger) {
    // An outbox effect its receiver acknowledged must be there; one still
    // pending is in flight. A plain one is judged when the ledger is
    // delivered by other means (options.ledger_delivered).
    const bool outbox = effect->delivery != Delivery::kNone;
    if (outbox ? effect->delivery != Delivery::kDelivered : !options.ledger_delivered) continue;
    if (downstream.contains(key)) continue;
    auto it = job_of.find(key);
    if (it == job_of.end()) continue;
    const bool redeliver = options.repair && outbox;
    find(*it->second, key, Divergence::kMissing,
         fmt::format("the ledger holds '{}' under key '{}', which the downstream system lacks; {}",
                     effect->payload, key,
                     redeliver ? "to be delivered again: the relay sends it under that key"
                     : outbox  ? "recorded for an operator"
                               : "re-delivery is the relay's"),
         redeliver, effect->id);
  }
  // Recorded first, then repaired: a drill cut short has said what it saw.
  for (DrillFinding& f : report.findings) {
    LAB_RETURN_IF_ERROR(store.RecordFinding(f.job, f.detail));
    if (!f.repaired) continue;
    if (f.kind == Divergence::kMissing) {
      LAB_RETURN_IF_ERROR(store.Redeliver(f.effect, f.detail));
      continue;
    }
    auto redriven = store.Redrive(f.job);
    if (!redriven && redriven.error().code == ErrorCode::kOverloaded) {
      // Its queue is at its depth limit: the next drill tries again.
      f.repaired = false;
      f.detail = "drill: redrive refused: " + redriven.error().message;
      LAB_RETURN_IF_ERROR(store.RecordFinding(f.job, f.detail));
      continue;
    }
    LAB_RETURN_IF_ERROR(redriven);
  }
  return report;
}

}  // namespace lab
