#pragma once
// The MediVoteService planner: a pure function from what is observed (the resource, its pods, its claims and
// Service) to what to do next and what status to write. No I/O and no clock: the reconciler gathers the
// observation, applies the plan, and asks again on the next change. Every branch is unit-tested.
//
// The rules, in order:
// - A pod is "ours" when its controller ownerReference is the resource's uid. Pods named like ours but owned by
//   something else are never touched; their ordinals are not reused, and the resource is Degraded.
// - A pod is "shutting down" when it carries a shutdown stage or a deletionTimestamp. It is never available and
//   never counted as a replica.
// - Slots: ours and not shutting down, or shutting down to be replaced in place (Upgrade, Replace, External). The
//   number of slots converges to spec.replicas: scale-up fills the lowest free ordinals; scale-down takes the pods
//   named in podsToDelete first, then the highest ordinals.
// - Rolling upgrade: active pods of another revision, at or above the partition, highest ordinal first, one more
//   only while fewer than maxUnavailable slots are unavailable. A replacement keeps its ordinal (and its claims).
// - New shutdowns start only while fewer than maxConcurrent of the resource's pods are shutting down.
// - Deletion of the resource: every pod is shut down (maxConcurrent at a time), nothing is created, and the
//   finalizer is removed once no pod is left.
// - Shutdown order (shutdown_order.h): while the resource goes down together with resources named in
//   spec.shutdown.after that still have pods, no new shutdown of its pods starts (bounded by
//   dependencyTimeoutSeconds); the WaitingForDependents condition says so.
// - An invalid spec creates and starts shutting down nothing (nothing is deleted because of bad input); shutdowns
//   already under way continue, and a resource being deleted is still emptied, with the defaults where the spec is
//   unusable, so it never hangs.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/medivoteservice.h"
#include "medivote/pod_builder.h"
#include "medivote/shutdown_order.h"
#include "shutdown/state.h"
#include "util/time_format.h"

namespace mv::medivote {

struct Observation {
  api::MediVoteService mvs;
  std::vector<api::FieldError> specErrors;
  std::vector<json> pods;  // every pod in the namespace whose name or owner relates to the resource
  bool serviceExists = false;
  json service;  // the existing Service, when serviceExists
  std::vector<std::string> existingClaims;  // names of claims that exist in the namespace
  // Claims of the namespace held by another owner (claim name → that owner, for the message): a pod that would
  // mount one is not created, and the resource is Degraded ClaimConflict.
  std::map<std::string, std::string> foreignClaims;
  // Why the endpoint's token Secret gives no token (medivote/agent_token.h): the Degraded reason and message. With
  // blocksPods (the operator's own Secret is missing, foreign or unusable), no pod is created or chosen to go.
  struct TokenSecretProblem {
    std::string reason;
    std::string message;
    bool blocksPods = false;
    // No endpoint call can be made (the token is needed and there is none): shutdowns the operator chooses
    // (ScaleDown, Upgrade, Replace) wait until it is fixed; Deletion and shutdowns under way go on.
    bool holdsShutdowns = false;
  };
  std::optional<TokenSecretProblem> tokenSecretProblem;
  // What the API server refused of the operator's last writes for this generation (400, 403, 422 on a create or
  // patch of a pod, claim or Service): Degraded ServerRefused, with the server's message, as long as it holds.
  std::optional<std::string> serverRefusal;
  // What the shutdown answers said is wrong (401/403/4xx), while its cause may still be there
  // (shutdown/misconfiguration_memory.h): Degraded ShutdownMisconfigured exactly as long.
  std::optional<std::string> misconfiguration;
  // Outcomes (http, sigterm, sigkill, forced) of shutdowns the reconciler saw end, by pod name. A shutdown whose pod
  // is gone without a known outcome (the operator was down) is completed with the outcome its last stage implies.
  std::map<std::string, std::string> completedOutcomes;
  // The last recorded stage state of those shutdowns, by pod name: a shutdown that began and ended between two
  // plans (a simple pod gone within ms of its SIGTERM) still gets its history entry from it.
  std::map<std::string, shutdown::ShutdownState> completedStates;
  // Shutdown order (shutdown_order.h): the other MediVoteServices of the namespace, and whether each still has a
  // pod that holds the order (podHoldsOrder), by name. While the resource waits for those it names in
  // spec.shutdown.after, no new shutdown of its pods starts; shutdowns under way go on, and the calls of pods
  // deleted by someone else wait within their preStop budget (the stage machine).
  std::vector<api::MediVoteService> namespaceResources;
  std::map<std::string, bool> namespaceHasPods;
  util::WallTime now{};
};

struct ShutdownOrder {
  std::string pod;
  std::string reason;  // ScaleDown, Upgrade, Deletion, Replace
};

struct PlanEvent {
  bool warning = false;
  std::string reason;
  std::string message;
};

struct Plan {
  bool addFinalizer = false;
  bool removeFinalizer = false;
  std::vector<json> claimsToCreate;
  std::vector<json> podsToCreate;
  std::optional<json> serviceToCreate;
  std::optional<json> servicePatch;    // merge patch for the existing Service (service_drift.h)
  std::vector<ShutdownOrder> startShutdown;  // pods chosen to go now (they are not shutting down yet)
  std::vector<std::string> continueShutdown;  // pods already shutting down: drive their stage machine
  json status;                        // the complete desired status
  std::vector<PlanEvent> events;
  OrderDecision order;                // whether the shutdowns wait for other resources (shutdown_order.h)
  bool orderWaitEnded = false;        // a wait ended in this plan (order.reason says how)
};

Plan plan(const Observation& observation, const PodSettings& settings);

// Sets a condition in a conditions array, keeping lastTransitionTime when the status did not change.
void setCondition(json& conditions, const std::string& type, bool status, const std::string& reason,
                  const std::string& message, int64_t generation, util::WallTime now);

// The message of the resource's Degraded=True ShutdownMisconfigured condition for its current generation, if any:
// what the status already reports (the misconfiguration memory adopts it when it first sees the resource).
std::optional<std::string> reportedMisconfiguration(const api::MediVoteService& mvs);

// The status with volatile parts removed, for "did anything change" comparisons.
bool sameStatus(const json& a, const json& b);

}  // namespace mv::medivote
