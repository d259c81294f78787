#pragma once
// What the shutdown stage machine needs to know about one pod, read from the pod object (as cached by the informer).

#include <optional>
#include <string>

#include "shutdown/state.h"

namespace mv::shutdown {

// The service container's preStop hook as the pod carries it: it decides when the kubelet's SIGTERM can come.
enum class PreStopKind {
  None,       // no hook: SIGTERM right when the kubelet begins terminating
  Sleep,      // a `sleep` action: SIGTERM after `preStopSeconds` (the kubelet waits it out in full)
  AgentHold,  // httpGet to the medivote-agent's /prestop: held until the service exits, its exit timeout, or
              // `preStopSeconds`, whichever comes first; its arrival proves the kubelet is terminating the pod
  Other,      // a hook of the user's (exec, httpGet): its length is unknown, bounded by the grace period
};

struct PodFacts {
  bool exists = true;  // false: the pod object is gone; the other fields are its last known state
  std::string name;
  std::string uid;
  std::string podIP;
  bool serving = false;  // carries the serving label
  // Listed in its Service's EndpointSlices (endpoint_membership.h): true while traffic may still be routed to it;
  // nullopt when that cannot be told (the slices cannot be read). Not on the pod object: whoever builds the facts
  // fills it from the EndpointSlice cache (observePod leaves it unknown).
  std::optional<bool> inEndpoints;
  std::optional<WallTime> deletionTimestamp;
  long deletionGracePeriodSeconds = 0;
  // The service container: the one that declares the endpoint port, else the first container.
  bool serviceExited = false;  // it is terminated now, or restarted since the shutdown call began
  int restartCount = 0;
  std::optional<WallTime> exitedAt;  // finishedAt of that termination
  std::optional<int> exitCode;
  std::optional<int> exitSignal;
  PreStopKind preStop = PreStopKind::None;
  long preStopSeconds = 0;  // Sleep: its seconds; AgentHold: the agent's --prestop-hold-seconds
  ShutdownState state;
};

// Reads PodFacts from a pod. `serviceContainer` names the service container ("" = the first container).
PodFacts observePod(const json& pod, const std::string& serviceContainer);

}  // namespace mv::shutdown
