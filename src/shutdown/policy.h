#pragma once
// The shutdown policy of one pod: its tier and the time each stage may take. The tier is the one the pod carries
// (annotation medivote.io/tier, set when the pod was made), so a pod is shut down by the tier it was made for.

#include <chrono>
#include <optional>
#include <string>

#include "api/medivoteservice.h"

namespace mv::shutdown {

struct ShutdownPolicy {
  api::Tier tier = api::Tier::Simple;
  bool hasEndpoint = false;  // critical pods are called only when an endpoint is declared and usable
  std::chrono::seconds requestTimeout{5};
  std::chrono::seconds exitTimeout{10};
  std::chrono::seconds refusalTimeout{30};
  std::chrono::seconds gracePeriod{30};  // the pod's terminationGracePeriodSeconds (preStop sleep + SIGTERM window)
  std::chrono::seconds forceDeleteAfter{60};
  // The longest Draining waits for the pod to leave its Service's EndpointSlices (0: not at all).
  std::chrono::seconds drainTimeout{5};
  // The preStop hook is not part of the policy: when SIGTERM can come is read from the pod as built (PodFacts).
  // Not from the spec: whether the resource's shutdown order holds its pods' shutdowns now (OrderDecision::held of
  // medivote/shutdown_order.h, set by the reconciler). The stage machine holds the call of a pod deleted by someone
  // else (External) by it, within the pod's own preStop budget (stage_machine.h, orderWaitEnd).
  bool orderHeld = false;

  bool httpStage() const { return tier == api::Tier::Critical && hasEndpoint; }
  // The longest one shutdown can take from its start until the pod is surely gone (the promise of issue 7: the sum
  // of the declared timeouts plus the grace period; the drain wait comes first, so it adds its own).
  std::chrono::seconds bound() const {
    return drainTimeout + refusalTimeout + requestTimeout + exitTimeout + gracePeriod + forceDeleteAfter;
  }
};

// The policy for a pod of `mvs`: the spec's timeouts; the tier from the pod's own annotation when it has a valid
// one, else from the resource.
ShutdownPolicy policyFor(const api::MediVoteService& mvs, const std::optional<std::string>& podTierAnnotation);

// The tier annotation (medivote.io/tier) a pod carries, when it is a string: policyFor's second argument.
std::optional<std::string> podTierAnnotation(const nlohmann::json& pod);

}  // namespace mv::shutdown
