#pragma once
// A pod's shutdown wiring: everything the operator puts on a pod from spec.shutdown and the tier, apart from the
// template: the tier annotation, terminationGracePeriodSeconds, the service container's preStop hook (the operator's
// sleep, or the httpGet to the agent), and for reach agent the medivote-agent sidecar (its arguments, its hold bound,
// its token Secret). Pure.
//
// buildPod builds a pod's wiring from it, and the pod's revision hashes it with the template (pod_builder.h:
// podRevision): a spec change that alters the wiring (reach, tier, preStopSleepSeconds, the grace period, the agent's
// timeouts or token) rolls the pods like a template change, through the rolling upgrade and its tiered shutdown; a
// change that reaches no pod (timeouts only the operator uses: refusal, force-delete, drain, maxConcurrent; the
// endpoint of a simple pod) rolls nothing.
// The operator's own settings (PodSettings: the agent image and port, from its flags) are not part of it: an operator
// restarted with other flags gives them to the pods it makes from then on, and rolls none.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/medivoteservice.h"
#include "medivote/agent_token.h"

namespace mv::medivote {

using json = nlohmann::json;

// reach agent: the medivote-agent native sidecar and the service container's httpGet preStop hook to it.
struct AgentWiring {
  int holdSeconds = 0;                  // the hook's bound (annotation medivote.io/agent-hold-seconds)
  std::vector<std::string> args;        // the agent's arguments from the spec: all but --listen (the operator's port)
  std::optional<TokenSecretRef> token;  // mounted into the agent alone
};

struct PodWiring {
  api::Tier tier = api::Tier::Simple;
  int terminationGracePeriodSeconds = 30;
  std::string serviceContainer;            // the container that carries the hook (serviceContainerName)
  std::optional<int> preStopSleepSeconds;  // the operator's preStop sleep: critical, reach direct, > 0, and the
                                           // template gives the service container no hook of its own
  std::optional<AgentWiring> agent;        // critical with reach agent
};

PodWiring podWiring(const api::MediVoteService& mvs, api::Tier tier);

// Exactly what of `w` reaches the pod, canonical (object keys sorted): the revision hashes it.
json wiringJson(const PodWiring& w);

// Whether `pod` carries the medivote-agent sidecar (an init container declaring the agent's port). A pod's shutdown
// call follows its own wiring, not the resource's current reach: a pod built before a change of reach is called as
// built (through its agent, or directly) until the rolling upgrade replaces it.
bool podHasAgent(const json& pod);

}  // namespace mv::medivote
