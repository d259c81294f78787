#pragma once
// The labels, annotations and finalizer the operator writes. They are its API with users and with its own next
// incarnation (the shutdown stage annotations are how a new leader resumes), so they never change meaning.

#include <string_view>

namespace mv::api {

inline constexpr std::string_view kGroup = "medivote.io";
inline constexpr std::string_view kApiVersion = "medivote.io/v1alpha1";
inline constexpr std::string_view kKind = "MediVoteService";

// The finalizer that holds a MediVoteService until every pod went through the shutdown.
inline constexpr std::string_view kFinalizer = "medivote.io/graceful-shutdown";

// Pod labels.
inline constexpr std::string_view kLabelService = "medivote.io/service";    // the owning resource's name (selector)
inline constexpr std::string_view kLabelRevision = "medivote.io/revision";  // hash of the template it was made from
inline constexpr std::string_view kLabelServing = "medivote.io/serving";    // "true" while the Service may route to it
inline constexpr std::string_view kLabelOrdinal = "medivote.io/ordinal";
inline constexpr std::string_view kLabelManagedBy = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kManagedByValue = "medivote-operator";

// The tier, on the resource (as the user's alternative to spec.tier) and on every pod it owns.
inline constexpr std::string_view kAnnotationTier = "medivote.io/tier";

// The medivote-agent native sidecar (reach: agent) and the preStop hook the kubelet sends it. The hook's arrival is
// the proof that the kubelet has begun terminating the pod; its reply releases the kubelet's SIGTERM.
inline constexpr std::string_view kAgentPreStopPath = "/prestop";
// The agent's hold bound (its --prestop-hold-seconds), recorded on the pod as built: the pod, not today's spec, says
// how long its SIGTERM can be held off.
inline constexpr std::string_view kAnnotationAgentHold = "medivote.io/agent-hold-seconds";

// Every label and annotation key under medivote.io/ on a pod is the operator's: it writes them (the ones above and
// the shutdown stage annotations), and it reads them back as the truth about the pod (a shutdown stage makes a pod
// "shutting down"). A pod template may carry none of them (validation refuses them; buildPod drops them).
// app.kubernetes.io/managed-by is the operator's on its pods too, but a template may carry it (charts commonly set
// it to Helm): buildPod overwrites it.
inline constexpr std::string_view kOperatorKeyPrefix = "medivote.io/";
inline bool isOperatorPodKey(std::string_view key) { return key.substr(0, kOperatorKeyPrefix.size()) == kOperatorKeyPrefix; }

// Annotations naming the Secret revision and template details are not needed; see shutdown/state.h for the
// per-pod shutdown stage annotations.

}  // namespace mv::api
