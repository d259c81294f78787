#pragma once
// What the shutdown stage machine needs to know about one pod, read from the pod object (as cached by the informer).

#include <optional>
#include <string>

#include "shutdown/state.h"

namespace mv::shutdown {

struct PodFacts {
  bool exists = true;  // false: the pod object is gone; the other fields are its last known state
  std::string name;
  std::string uid;
  std::string podIP;
  bool serving = false;  // carries the serving label
  std::optional<WallTime> deletionTimestamp;
  long deletionGracePeriodSeconds = 0;
  // The service container: the one that declares the endpoint port, else the first container.
  bool serviceExited = false;  // it is terminated now, or restarted since the shutdown call began
  int restartCount = 0;
  std::optional<WallTime> exitedAt;  // finishedAt of that termination
  std::optional<int> exitCode;
  std::optional<int> exitSignal;
  ShutdownState state;
};

// Reads PodFacts from a pod. `serviceContainer` names the service container ("" = the first container).
PodFacts observePod(const json& pod, const std::string& serviceContainer);

}  // namespace mv::shutdown
