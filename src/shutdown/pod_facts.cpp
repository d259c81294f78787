#include "shutdown/pod_facts.h"

#include "api/names.h"

namespace mv::shutdown {

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
