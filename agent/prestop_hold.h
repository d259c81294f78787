#pragma once
// The kubelet's preStop hook (GET /prestop), held until the service no longer needs SIGTERM to wait.
//
// The kubelet sends the hook when it begins terminating the pod and sends the service's SIGTERM only after the reply
// (or at the end of the grace period). So the reply is held until the first of:
// - NotListening: the service's port was closed when the hook arrived (at the first hook: nothing to protect);
// - ServiceExited: the service's port is closed (probed every kProbeInterval; a port that accepts connections but
//   never answers, like a hung reload parent, is not closed);
// - ExitTimeout: a call was accepted (2xx forwarded) and --exit-timeout-seconds have passed since;
// - HoldTimeout: --prestop-hold-seconds have passed since the first hook arrived (the longest SIGTERM is held off).
// Every hook, first, repeated or concurrent, is answered by that rule; the hold bound counts from the first one.

#include <chrono>

#include "forwarder.h"
#include "options.h"
#include "termination.h"

namespace mv::agent {

enum class Release { NotListening, ServiceExited, ExitTimeout, HoldTimeout };

const char* name(Release r);  // "not-listening", "service-exited", "exit-timeout", "hold-timeout"

struct HoldOutcome {
  Release release = Release::HoldTimeout;
  std::chrono::milliseconds held{0};  // how long this hook was held
};

// Witnesses termination (logging the first hook) and holds the calling thread by the rule above.
HoldOutcome holdPreStop(const Options& options, Termination& termination, Forwarder& forwarder, int cancelFd);

}  // namespace mv::agent
