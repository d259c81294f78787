#pragma once
// What the operator creates for a MediVoteService: its pods (one per ordinal), their claims, and its Service. Pure
// functions of the resource: the same resource always gives the same objects, so creating them again is harmless
// (409 AlreadyExists) and comparing them tells what changed.

#include <string>

#include <nlohmann/json.hpp>

#include "api/medivoteservice.h"

namespace mv::medivote {

using json = nlohmann::json;

// Settings of the operator that shape pods (from its flags).
struct PodSettings {
  std::string agentImage = "medivote/agent:dev";
  int agentPort = 9901;
};

inline constexpr std::string_view kAgentContainer = "medivote-agent";
inline constexpr std::string_view kAgentPortName = "mv-agent";

// The agent's own timeouts, nested inside the operator's request timeout so that the operator always gets the
// agent's answer: await-termination (how long a call waits for the kubelet's preStop hook) + target (the forwarded
// call) + 1 s of margin <= requestTimeoutSeconds (validation requires >= 3 for reach agent).
struct AgentTimeouts {
  int awaitTermination = 1;
  int target = 1;
};
AgentTimeouts agentTimeoutsFor(int requestTimeoutSeconds);

struct PodWiring;

// The pods' revision (label medivote.io/revision, status.updateRevision): a stable hash (10 hex digits) of
// spec.template, spec.volumeClaimTemplates and the pods' shutdown wiring (pod_wiring.h), for the resource's tier.
// Pods of another revision are replaced by the rolling upgrade.
std::string podRevision(const api::MediVoteService& mvs);
// The revision of pods built with `wiring`.
std::string podRevision(const api::MediVoteService& mvs, const PodWiring& wiring);

std::string podName(const std::string& mvsName, int ordinal);
// The ordinal of `podName` when it is "<mvsName>-<n>" with n a canonical decimal; -1 otherwise.
int ordinalOf(const std::string& mvsName, const std::string& podName);

std::string claimName(const std::string& templateName, const std::string& mvsName, int ordinal);

// The label selector of the resource's pods, as a string for status.selector and as a map.
std::string selectorString(const api::MediVoteService& mvs);
json selectorLabels(const api::MediVoteService& mvs);

// The pod for `ordinal`: the template without any label or annotation key under medivote.io/ (the operator's:
// api/names.h), plus the selector, revision, ordinal and serving labels, the controller ownerReference, the claims'
// volumes, and its shutdown wiring for `tier` (pod_wiring.h): the tier annotation, terminationGracePeriodSeconds,
// for critical pods a preStop hook on the service container (reach direct: a sleep; reach agent: an httpGet to the
// agent, with the hold bound recorded in the annotation medivote.io/agent-hold-seconds), and for reach agent the
// medivote-agent native sidecar.
json buildPod(const api::MediVoteService& mvs, int ordinal, api::Tier tier, const PodSettings& settings);

json buildClaim(const api::MediVoteService& mvs, const json& claimTemplate, int ordinal);

// The Service routing to the resource's serving pods, or null when the template declares no ports.
json buildService(const api::MediVoteService& mvs);

// The name of the container that serves the endpoint (declares its port), else the first container.
std::string serviceContainerName(const api::MediVoteService& mvs);

json ownerReference(const api::MediVoteService& mvs);

}  // namespace mv::medivote
