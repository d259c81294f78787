#include "medivote/pod_wiring.h"

#include <fmt/format.h>

#include "medivote/pod_builder.h"
#include "shutdown/stage_machine.h"

namespace mv::medivote {
namespace {

// Whether the template gives `container` a preStop hook of its own.
bool templateHook(const api::MediVoteService& mvs, const std::string& container) {
  const json containers = mvs.spec.podTemplate.value("/spec/containers"_json_pointer, json::array());
  if (!containers.is_array()) return false;
  for (const auto& c : containers)
    if (c.is_object() && c.value("name", "") == container)
      return c.contains("lifecycle") && c["lifecycle"].is_object() && c["lifecycle"].contains("preStop");
  return false;
}

bool hasContainer(const api::MediVoteService& mvs, const std::string& container) {
  const json containers = mvs.spec.podTemplate.value("/spec/containers"_json_pointer, json::array());
  if (!containers.is_array()) return false;
  for (const auto& c : containers)
    if (c.is_object() && c.value("name", "") == container) return true;
  return false;
}

AgentWiring agentWiring(const api::MediVoteService& mvs) {
  const auto& sd = mvs.spec.shutdown;
  const auto& e = *sd.endpoint;
  const json podSpec = mvs.spec.podTemplate.value("spec", json::object());
  const auto targetPort = api::resolveEndpointPort(e.port, podSpec).value_or(0);
  const AgentTimeouts timeouts = agentTimeoutsFor(e.requestTimeoutSeconds);
  AgentWiring a;
  a.holdSeconds = sd.agentHoldSeconds();
  a.args = {fmt::format("--target={}", e.agentTarget),
            fmt::format("--target-port={}", targetPort),
            fmt::format("--target-path={}", e.path),
            fmt::format("--target-method={}", e.method),
            fmt::format("--target-timeout-seconds={}", timeouts.target),
            fmt::format("--await-termination-seconds={}", timeouts.awaitTermination),
            fmt::format("--exit-timeout-seconds={}", sd.exitTimeoutSeconds + shutdown::kAgentReleaseMargin.count()),
            fmt::format("--prestop-hold-seconds={}", a.holdSeconds)};
  a.token = tokenSecretOf(mvs);
  if (a.token) a.args.push_back(fmt::format("--token-file=/var/run/medivote-agent/{}", a.token->key));
  return a;
}

}  // namespace

PodWiring podWiring(const api::MediVoteService& mvs, api::Tier tier) {
  const auto& sd = mvs.spec.shutdown;
  PodWiring w;
  w.tier = tier;
  w.terminationGracePeriodSeconds = sd.terminationGracePeriodSeconds;
  if (tier != api::Tier::Critical) return w;
  w.serviceContainer = serviceContainerName(mvs);
  const bool agentReach = sd.endpoint && sd.endpoint->reach == api::Reach::Agent;
  if (agentReach) w.agent = agentWiring(mvs);
  else if (sd.preStopSleepSeconds > 0 && hasContainer(mvs, w.serviceContainer) &&
           !templateHook(mvs, w.serviceContainer))
    w.preStopSleepSeconds = sd.preStopSleepSeconds;
  return w;
}

json wiringJson(const PodWiring& w) {
  json j = {{"tier", std::string(api::tierName(w.tier))},
            {"terminationGracePeriodSeconds", w.terminationGracePeriodSeconds}};
  if (w.preStopSleepSeconds)
    j["preStop"] = {{"container", w.serviceContainer}, {"sleepSeconds", *w.preStopSleepSeconds}};
  if (w.agent) {
    j["preStop"] = {{"container", w.serviceContainer}, {"agent", true}};
    j["agent"] = {{"holdSeconds", w.agent->holdSeconds}, {"args", w.agent->args}};
    if (w.agent->token) j["agent"]["token"] = {{"secret", w.agent->token->name}, {"key", w.agent->token->key}};
  }
  return j;
}

bool podHasAgent(const json& pod) {
  const json inits = pod.value("/spec/initContainers"_json_pointer, json::array());
  if (!inits.is_array()) return false;
  for (const auto& c : inits) {
    if (!c.is_object()) continue;
    for (const auto& p : c.value("ports", json::array()))
      if (p.is_object() && p.value("name", "") == kAgentPortName && p.value("containerPort", 0) > 0) return true;
  }
  return false;
}

}  // namespace mv::medivote
