#pragma once
// Whether a pod is still among its Service's endpoints, read from the Service's EndpointSlices (discovery.k8s.io/v1):
// the Draining stage waits until it is not (stage_machine.cpp), so that the endpoint is called (or the pod deleted)
// only once traffic has stopped being routed to it.
//
// Contract:
// - A pod is "in" while any slice of the Service lists an endpoint whose targetRef.uid is the pod's uid or, for an
//   endpoint without a targetRef uid, whose addresses contain the pod's IP. Every listed endpoint counts, whatever
//   its conditions: kube-proxy still routes to a terminating endpoint when no ready one is left
//   (pkg/proxy/topology.go, CategorizeEndpoints), so only absence is out.
// - The slices of a Service are those labelled kubernetes.io/service-name=<Service> in its namespace
//   (discovery.k8s.io/v1 LabelServiceName); the caller selects them.
// - Pure: no cache, no clock. "Cannot tell" (slices unreadable) is the caller's to express (PodFacts::inEndpoints).

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace mv::shutdown {

using json = nlohmann::json;

// The label that ties a slice to its Service (discovery.k8s.io/v1 LabelServiceName).
inline constexpr std::string_view kLabelServiceName = "kubernetes.io/service-name";

// True when one of `slices` (the EndpointSlices of the pod's Service) lists the pod.
bool inEndpointSlices(const std::string& podUid, const std::string& podIP, const std::vector<json>& slices);

// "namespace/service" of the Service a slice belongs to (its kubernetes.io/service-name label), or "" without one:
// a MediVoteService's Service has its name, so this is the key of the resource to reconcile when the slice changes.
std::string serviceKeyOfSlice(const json& slice);

// The informer transform for EndpointSlices (runtime/informer/transforms.h contract): keeps apiVersion, kind,
// metadata name, namespace, uid, resourceVersion and the kubernetes.io/service-name label, and per endpoint only its
// addresses and targetRef uid: what inEndpointSlices and serviceKeyOfSlice read.
json projectEndpointSliceForDrain(json&& slice);

}  // namespace mv::shutdown
