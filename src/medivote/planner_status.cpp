#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "medivote/planner_parts.h"

namespace mv::medivote {

void setCondition(json& conditions, const std::string& type, bool status, const std::string& reason,
                  const std::string& message, int64_t generation, util::WallTime now) {
  if (!conditions.is_array()) conditions = json::array();
  const std::string value = status ? "True" : "False";
  for (auto& c : conditions) {
    if (c.value("type", "") != type) continue;
    if (c.value("status", "") != value) c["lastTransitionTime"] = util::formatTime(now);
    c["status"] = value;
    c["reason"] = reason;
    c["message"] = message;
    c["observedGeneration"] = generation;
    return;
  }
  conditions.push_back({{"type", type},
                        {"status", value},
                        {"reason", reason},
                        {"message", message},
                        {"observedGeneration", generation},
                        {"lastTransitionTime", util::formatTime(now)}});
}

std::optional<std::string> reportedMisconfiguration(const api::MediVoteService& mvs) {
  const json conditions = mvs.status.is_object() ? mvs.status.value("conditions", json::array()) : json::array();
  if (!conditions.is_array()) return std::nullopt;
  for (const auto& c : conditions)
    if (c.is_object() && c.value("type", "") == "Degraded" && c.value("status", "") == "True" &&
        c.value("reason", "") == "ShutdownMisconfigured" &&
        c.value("observedGeneration", int64_t{-1}) == mvs.generation)
      return c.value("message", "");
  return std::nullopt;
}

namespace planning {
namespace {

using shutdown::Stage;

// The resource's active pods, counted.
struct PodCounts {
  int replicas = 0;
  int ready = 0;
  int updated = 0;
  std::map<std::string, int> revisions;  // active pods by revision
  bool failed = false;
};

PodCounts countPods(const PodSet& pods, const std::string& updateRevision) {
  PodCounts c;
  for (const auto* v : pods.active) {
    ++c.replicas;
    if (v->ready) ++c.ready;
    if (v->revision == updateRevision) ++c.updated;
    ++c.revisions[v->revision];
    if (v->failed) c.failed = true;
  }
  return c;
}

// currentRevision moves to updateRevision once every pod has it; until then it stays, or (when unset) is the most
// common other revision.
void setRevisions(json& status, const PodCounts& c, const std::string& updateRevision) {
  status["updateRevision"] = updateRevision;
  if (c.updated == c.replicas || !status.contains("currentRevision")) {
    std::string current = updateRevision;
    if (c.updated != c.replicas) {
      int best = -1;
      for (const auto& [rev, n] : c.revisions)
        if (rev != updateRevision && n > best) best = n, current = rev;
    }
    status["currentRevision"] = current;
  }
}

struct Degradation {
  std::string reason;  // "" when not degraded
  std::string message;
};

// What the user must fix, most fundamental first.
Degradation degradation(const Observation& o, const PodSet& pods, bool failedPods, const OrderDecision& order) {
  Degradation d;
  if (!o.specErrors.empty()) {
    d.reason = "InvalidSpec";
    for (const auto& e : o.specErrors) d.message += (d.message.empty() ? "" : "; ") + e.field + ": " + e.message;
  } else if (o.serverRefusal) {
    d = {"ServerRefused", *o.serverRefusal};
  } else if (o.tokenSecretProblem) {
    d = {o.tokenSecretProblem->reason, o.tokenSecretProblem->message};
  } else if (o.misconfiguration) {
    d = {"ShutdownMisconfigured", *o.misconfiguration};
  } else if (!o.foreignClaims.empty()) {
    std::vector<std::string> claims;
    for (const auto& [name, holder] : o.foreignClaims) claims.push_back(fmt::format("claim {} is {}'s", name, holder));
    d = {"ClaimConflict", fmt::format("{}: the pods that would mount them are not created", fmt::join(claims, "; "))};
  } else if (!pods.foreign.empty()) {
    d = {"PodConflict", fmt::format("pods {} are named like this resource's but not owned by it; their ordinals are "
                                    "skipped",
                                    fmt::join(pods.foreign, ", "))};
  } else if (!order.cycle.empty()) {
    d = {order_reasons::kDependencyCycle, order.message};
  } else if (failedPods) {
    d = {"PodFailed", "a pod failed and is being replaced"};
  }
  return d;
}

// A Warning Event when the resource becomes Degraded (or its message changes), except for the reasons that report
// themselves (ShutdownMisconfigured: the runner's Event; PodFailed: the replacement's).
void degradationEvent(const api::MediVoteService& mvs, const Degradation& d, Plan& p) {
  if (d.reason.empty() || d.reason == "ShutdownMisconfigured" || d.reason == "PodFailed") return;
  const json previous = mvs.status.value("conditions", json::array());
  const bool wasDegraded = std::any_of(previous.begin(), previous.end(), [&](const json& c) {
    return c.value("type", "") == "Degraded" && c.value("status", "") == "True" && c.value("message", "") == d.message;
  });
  if (!wasDegraded) p.events.push_back({true, d.reason, d.message});
}

// "<pod>: <stage>" for every shutdown under way or starting now.
std::vector<std::string> shutdownsUnderWay(const PodSet& pods, const Plan& p) {
  std::vector<std::string> shutting;
  for (const auto& v : pods.all)
    if (v.ours && v.shuttingDown)
      shutting.push_back(fmt::format("{}: {}", v.name,
                                     v.state.stage == Stage::None ? "Terminating" : shutdown::stageName(v.state.stage)));
  for (const auto& order : p.startShutdown) shutting.push_back(fmt::format("{}: Starting", order.pod));
  return shutting;
}

}  // namespace

void orderStatus(const Observation& o, json& conditions, Plan& p) {
  const api::MediVoteService& mvs = o.mvs;
  const json previous = mvs.status.is_object() ? mvs.status.value("conditions", json::array()) : json::array();
  const bool had = std::any_of(previous.begin(), previous.end(),
                               [](const json& c) { return c.value("type", "") == kWaitingForDependents; });
  if (mvs.spec.shutdown.after.empty() && !had) return;
  const OrderDecision& d = p.order;
  setCondition(conditions, kWaitingForDependents, d.held, d.reason, d.message, mvs.generation, o.now);
  for (auto& e : orderEvents(previous, d)) {
    p.orderWaitEnded = p.orderWaitEnded || !d.held;
    p.events.push_back({e.warning, std::move(e.reason), std::move(e.message)});
  }
}

json desiredStatus(const Observation& o, const PodSet& pods, const PlanSummary& summary, Plan& p) {
  const api::MediVoteService& mvs = o.mvs;
  const auto& spec = mvs.spec;
  json status = mvs.status.is_object() ? mvs.status : json::object();
  const PodCounts counts = countPods(pods, summary.updateRevision);
  status["observedGeneration"] = mvs.generation;
  status["tier"] = std::string(api::tierName(summary.tier));
  status["replicas"] = counts.replicas;
  status["readyReplicas"] = counts.ready;
  status["updatedReplicas"] = counts.updated;
  setRevisions(status, counts, summary.updateRevision);
  status["selector"] = selectorString(mvs);
  status["shutdowns"] = updatedHistory(mvs.status.value("shutdowns", json::array()), pods, o);

  json conditions = status.value("conditions", json::array());
  const Degradation d = degradation(o, pods, counts.failed, p.order);
  const bool degraded = !d.reason.empty();
  setCondition(conditions, "Degraded", degraded, degraded ? d.reason : "AsExpected", degraded ? d.message : "",
               mvs.generation, o.now);
  degradationEvent(mvs, d, p);

  const std::vector<std::string> shutting = shutdownsUnderWay(pods, p);
  setCondition(conditions, "ShuttingDown", !shutting.empty(), shutting.empty() ? "NoShutdown" : "InProgress",
               fmt::format("{}", fmt::join(shutting, ", ")), mvs.generation, o.now);

  const std::string& progressingReason = summary.progressingReason;
  const bool progressing = !progressingReason.empty() || !p.podsToCreate.empty() || !p.startShutdown.empty();
  setCondition(conditions, "Progressing", progressing && !mvs.deleting,
               mvs.deleting ? "Deleting" : (progressing ? (progressingReason.empty() ? "Reconciling" : progressingReason)
                                                       : "Complete"),
               progressing ? fmt::format("{} of {} pods ready, {} updated", counts.ready, spec.replicas, counts.updated)
                           : "",
               mvs.generation, o.now);
  const bool isReady = !mvs.deleting && counts.ready >= spec.replicas && counts.replicas == spec.replicas &&
                       counts.updated == counts.replicas && o.specErrors.empty();
  setCondition(conditions, "Ready", isReady, isReady ? "AllPodsReady" : (mvs.deleting ? "Deleting" : "PodsNotReady"),
               fmt::format("{}/{} pods ready", counts.ready, spec.replicas), mvs.generation, o.now);
  orderStatus(o, conditions, p);
  status["conditions"] = conditions;
  status["phase"] = mvs.deleting        ? "Deleting"
                    : degraded          ? "Degraded"
                    : !shutting.empty() ? "ShuttingDown"
                    : progressing       ? "Progressing"
                    : isReady           ? "Ready"
                                        : "Progressing";
  return status;
}

}  // namespace planning
}  // namespace mv::medivote
