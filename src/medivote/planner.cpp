#include "medivote/planner.h"

#include <algorithm>

#include <fmt/format.h>

#include "api/names.h"
#include "medivote/planner_parts.h"
#include "medivote/service_drift.h"
#include "shutdown/pod_facts.h"

namespace mv::medivote {
namespace {

using namespace planning;

bool hasFinalizer(const api::MediVoteService& mvs) {
  return std::find(mvs.finalizers.begin(), mvs.finalizers.end(), std::string(api::kFinalizer)) != mvs.finalizers.end();
}

// Deletion of the resource: every pod goes and nothing is created; the finalizer goes with the last pod.
void planDeletion(const api::MediVoteService& mvs, const PodSet& pods, ShutdownChoices& choices, Plan& p) {
  for (const auto* v : pods.active) choices.start(*v, shutdown::reasons::kDeletion);
  const bool anyLeft = std::any_of(pods.all.begin(), pods.all.end(), [](const PodView& v) { return v.ours; });
  if (!anyLeft && hasFinalizer(mvs)) p.removeFinalizer = true;
}

// The pods towards spec.replicas and the update revision. Returns the Progressing reason ("" when none).
std::string planPods(const Observation& o, const PodSettings& settings, api::Tier tier,
                     const std::string& updateRevision, const PodSet& pods, ShutdownChoices& choices, Plan& p) {
  replaceFailed(pods, choices);
  std::string progressing = scaleDown(o.mvs, pods, choices);
  if (progressing.empty()) progressing = scaleUp(o, settings, tier, pods, p);
  if (const std::string upgrade = rollingUpgrade(o.mvs, pods, updateRevision, choices); !upgrade.empty())
    progressing = upgrade;
  // Pods not yet Ready also mean progress is under way.
  if (progressing.empty())
    for (const auto* v : pods.active)
      if (!v->ready) progressing = "WaitingForReady";
  return progressing;
}

// The Service: created when missing, patched where it drifted (service_drift.h).
void planService(const Observation& o, Plan& p) {
  const json service = buildService(o.mvs);
  if (service.is_null()) return;
  if (!o.serviceExists) {
    p.serviceToCreate = service;
  } else if ((p.servicePatch = serviceDrift(o.service, service))) {
    // Preconditions (issue 15): the drift was read from the cached Service. A Service changed since (another
    // resourceVersion: 409) or replaced (another uid: 422) is not written over; the informer brings the new one and
    // the next reconcile computes the drift again.
    const json meta = o.service.value("metadata", json::object());
    if (meta.contains("resourceVersion")) (*p.servicePatch)["metadata"]["resourceVersion"] = meta["resourceVersion"];
    if (meta.contains("uid")) (*p.servicePatch)["metadata"]["uid"] = meta["uid"];
  }
}

// The earliest deletion request (deletionTimestamp - grace) of the resource's pods deleted by someone else whose
// call is not made yet (stage None, or Draining as External); nullopt when there is none.
std::optional<util::WallTime> externalAwaitingSince(const PodSet& pods) {
  std::optional<util::WallTime> since;
  for (const auto& v : pods.all) {
    const bool awaiting = v.state.stage == shutdown::Stage::None ||
                          (v.state.stage == shutdown::Stage::Draining && v.state.reason == shutdown::reasons::kExternal);
    if (!v.ours || !v.deleting || !awaiting) continue;
    const shutdown::PodFacts f = shutdown::observePod(*v.pod, "");
    if (!f.deletionTimestamp) continue;
    const util::WallTime requested = *f.deletionTimestamp - std::chrono::seconds(f.deletionGracePeriodSeconds);
    if (!since || requested < *since) since = requested;
  }
  return since;
}

void planEvents(api::Tier tier, Plan& p) {
  if (!p.podsToCreate.empty())
    p.events.push_back({false, "ScalingUp", fmt::format("Creating {} pod(s)", p.podsToCreate.size())});
  for (const auto& order : p.startShutdown)
    p.events.push_back({false, "ShutdownScheduled", fmt::format("Pod {} will be shut down ({}, tier {})", order.pod,
                                                                 order.reason, api::tierName(tier))});
}

}  // namespace

bool sameStatus(const json& a, const json& b) { return a == b; }

Plan plan(const Observation& o, const PodSettings& settings) {
  Plan p;
  const api::MediVoteService& mvs = o.mvs;
  PlanSummary summary;
  summary.tier = api::resolveTier(mvs).tier;
  summary.updateRevision = podRevision(mvs);
  const bool specValid = o.specErrors.empty();
  // Pods are created and chosen to go only on a valid spec whose token Secret can be mounted.
  const bool managePods = specValid && !(o.tokenSecretProblem && o.tokenSecretProblem->blocksPods);

  const PodSet pods = classifyPods(o);
  p.continueShutdown = pods.shuttingDown;
  ShutdownChoices choices(mvs.spec.shutdown.maxConcurrent, static_cast<int>(pods.shuttingDown.size()));

  if (mvs.deleting) {
    planDeletion(mvs, pods, choices, p);
  } else {
    p.addFinalizer = !hasFinalizer(mvs);
    if (managePods)
      summary.progressingReason = planPods(o, settings, summary.tier, summary.updateRevision, pods, choices, p);
    if (specValid) planService(o, p);
  }
  p.startShutdown = choices.orders();
  // Shutdown order: while held, none of the resource's pods starts its shutdown (those under way go on; the calls of
  // those deleted by someone else wait in the stage machine).
  // Pods deleted by someone else whose call is not made yet count as pods to shut down: the stage machine holds
  // their calls by this decision, within their preStop budgets (ShutdownPolicy::orderHeld).
  const std::optional<util::WallTime> externalSince = externalAwaitingSince(pods);
  OrderInput order = orderInput(mvs, o.namespaceResources, o.namespaceHasPods,
                                !pods.active.empty() || externalSince.has_value(), o.now);
  if (pods.active.empty()) order.podsDeletedSince = externalSince;  // every pod of it deleted by someone else
  p.order = decideShutdownOrder(order);
  if (p.order.held && goingDown(mvs)) p.startShutdown.clear();  // not going down: only External calls wait
  // No endpoint call can be made (planner.h, holdsShutdowns): of the shutdowns chosen, only Deletion starts.
  if (o.tokenSecretProblem && o.tokenSecretProblem->holdsShutdowns)
    std::erase_if(p.startShutdown, [](const ShutdownOrder& s) { return s.reason != shutdown::reasons::kDeletion; });

  p.status = desiredStatus(o, pods, summary, p);
  planEvents(summary.tier, p);
  return p;
}

}  // namespace mv::medivote
