#include "shutdown/pod_facts.h"

#include "api/names.h"

namespace mv::shutdown {
namespace {

const json* containerNamed(const json& pod, const std::string& name) {
  const json* list = pod.contains("spec") && pod["spec"].is_object() && pod["spec"].contains("containers")
                         ? &pod["spec"]["containers"]
                         : nullptr;
  if (!list || !list->is_array() || list->empty()) return nullptr;
  for (const auto& c : *list)
    if (c.is_object() && c.value("name", "") == name) return &c;
  return name.empty() ? &(*list)[0] : nullptr;
}

// The agent's hold bound, from the pod's own annotation (the pod as built is the truth, not the spec).
long agentHoldSeconds(const json& pod) {
  const json v = pod.value("/metadata/annotations"_json_pointer, json::object()).value(
      std::string(api::kAnnotationAgentHold), json());
  if (!v.is_string()) return 0;
  try {
    return std::stol(v.get<std::string>());
  } catch (const std::exception&) {
    return 0;
  }
}

void readPreStop(const json& pod, const std::string& serviceContainer, PodFacts& f) {
  const json* c = containerNamed(pod, serviceContainer);
  if (!c) return;
  const json hook = c->value("/lifecycle/preStop"_json_pointer, json());
  if (!hook.is_object() || hook.empty()) return;
  if (hook.contains("sleep") && hook["sleep"].is_object()) {
    f.preStop = PreStopKind::Sleep;
    f.preStopSeconds = hook["sleep"].value("seconds", 0L);
    return;
  }
  if (hook.contains("httpGet") && hook["httpGet"].is_object() &&
      hook["httpGet"].value("path", "") == api::kAgentPreStopPath) {
    f.preStop = PreStopKind::AgentHold;
    f.preStopSeconds = agentHoldSeconds(pod);
    return;
  }
  f.preStop = PreStopKind::Other;
}

}  // namespace

PodFacts observePod(const json& pod, const std::string& serviceContainer) {
  PodFacts f;
  const json meta = pod.value("metadata", json::object());
  f.name = meta.value("name", "");
  f.uid = meta.value("uid", "");
  const json labels = meta.value("labels", json::object());
  f.serving = labels.is_object() && labels.value(std::string(api::kLabelServing), "") == "true";
  if (meta.contains("deletionTimestamp") && meta["deletionTimestamp"].is_string())
    f.deletionTimestamp = util::parseTime(meta["deletionTimestamp"].get<std::string>());
  if (meta.contains("deletionGracePeriodSeconds") && meta["deletionGracePeriodSeconds"].is_number_integer())
    f.deletionGracePeriodSeconds = meta["deletionGracePeriodSeconds"].get<long>();
  f.state = readState(meta.value("annotations", json::object()));
  readPreStop(pod, serviceContainer, f);

  const json status = pod.value("status", json::object());
  f.podIP = status.value("podIP", "");
  const json statuses = status.value("containerStatuses", json::array());
  std::string wanted = serviceContainer;
  if (wanted.empty()) {
    const json containers = pod.value("/spec/containers"_json_pointer, json::array());
    if (containers.is_array() && !containers.empty()) wanted = containers[0].value("name", "");
  }
  if (!statuses.is_array()) return f;
  for (const auto& cs : statuses) {
    if (!cs.is_object() || cs.value("name", "") != wanted) continue;
    f.restartCount = cs.value("restartCount", 0);
    const json* terminated = nullptr;
    if (cs.contains("state") && cs["state"].is_object() && cs["state"].contains("terminated"))
      terminated = &cs["state"]["terminated"];
    const bool restartedSinceCall = f.state.attempts > 0 && f.restartCount > f.state.restartBaseline;
    if (!terminated && restartedSinceCall && cs.contains("lastState") && cs["lastState"].is_object() &&
        cs["lastState"].contains("terminated"))
      terminated = &cs["lastState"]["terminated"];
    if (terminated && terminated->is_object()) {
      f.serviceExited = true;
      if ((*terminated).contains("exitCode") && (*terminated)["exitCode"].is_number_integer())
        f.exitCode = (*terminated)["exitCode"].get<int>();
      if ((*terminated).contains("signal") && (*terminated)["signal"].is_number_integer())
        f.exitSignal = (*terminated)["signal"].get<int>();
      if ((*terminated).contains("finishedAt") && (*terminated)["finishedAt"].is_string())
        f.exitedAt = util::parseTime((*terminated)["finishedAt"].get<std::string>());
    } else if (restartedSinceCall) {
      f.serviceExited = true;
    }
  }
  return f;
}

}  // namespace mv::shutdown
