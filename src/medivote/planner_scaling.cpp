#include <algorithm>

#include "medivote/planner_parts.h"

namespace mv::medivote::planning {

namespace reasons = shutdown::reasons;

namespace {
bool mountsForeignClaim(const Observation& o, int ordinal) {
  for (const auto& ct : o.mvs.spec.volumeClaimTemplates)
    if (o.foreignClaims.count(buildClaim(o.mvs, ct, ordinal)["metadata"]["name"].get<std::string>())) return true;
  return false;
}
}  // namespace

void replaceFailed(const PodSet& pods, ShutdownChoices& choices) {
  for (const auto* v : pods.active)
    if (v->failed) choices.start(*v, reasons::kReplace);
}

std::string scaleDown(const api::MediVoteService& mvs, const PodSet& pods, ShutdownChoices& choices) {
  const int replicas = mvs.spec.replicas;
  if (pods.slots <= replicas) return "";
  std::vector<const PodView*> order;
  for (const auto* v : pods.active)
    if (v->ordinal < 0) order.push_back(v);
  for (const auto& name : mvs.spec.podsToDelete)
    for (const auto* v : pods.active)
      if (v->name == name && v->ordinal >= 0) order.push_back(v);
  for (auto it = pods.active.rbegin(); it != pods.active.rend(); ++it)
    if (std::find(order.begin(), order.end(), *it) == order.end()) order.push_back(*it);
  int excess = pods.slots - replicas;
  for (const auto* v : order) {
    if (excess <= 0) break;
    if (choices.chosen(v->name)) continue;
    choices.start(*v, reasons::kScaleDown);
    --excess;  // counted whether started now or waiting for the concurrency budget
  }
  return "ScalingDown";
}

std::string scaleUp(const Observation& o, const PodSettings& settings, api::Tier tier, const PodSet& pods,
                    Plan& plan) {
  const api::MediVoteService& mvs = o.mvs;
  if (pods.slots >= mvs.spec.replicas) return "";
  int missing = mvs.spec.replicas - pods.slots;
  // Ordinals are stable, as a StatefulSet's: a pod still shutting down after a scale-down holds its ordinal until it
  // is gone, and its replacement then takes it (with its claim and the state saved there); no pod is made at a higher
  // ordinal meanwhile.
  std::set<int> releasing;
  for (const auto& v : pods.all)
    if (v.ours && v.ordinal >= 0 && !keepsSlot(v)) releasing.insert(v.ordinal);
  for (int ordinal = 0; missing > 0 && ordinal < 100000; ++ordinal) {
    if (releasing.count(ordinal)) {
      --missing;
      continue;
    }
    if (pods.usedOrdinals.count(ordinal)) continue;
    if (mountsForeignClaim(o, ordinal)) {  // it waits at its ordinal: another owner's claim is never mounted
      --missing;
      continue;
    }
    plan.podsToCreate.push_back(buildPod(mvs, ordinal, tier, settings));
    for (const auto& ct : mvs.spec.volumeClaimTemplates) {
      json claim = buildClaim(mvs, ct, ordinal);
      const std::string name = claim["metadata"]["name"];
      if (std::find(o.existingClaims.begin(), o.existingClaims.end(), name) == o.existingClaims.end())
        plan.claimsToCreate.push_back(std::move(claim));
    }
    --missing;
  }
  return "ScalingUp";
}

}  // namespace mv::medivote::planning
